/* Streamed segments ("loop buffering"): a chain of operators run a band of rows at a time.
 *
 * The planner (edgekit/plan/stream.py) picks chains of sliding-window and element-wise operators
 * and runs them band by band, producer before consumer; a tensor made and used only inside the
 * chain is kept as a few rows: the rows its consumers' windows still need plus the band being
 * written. Such a row buffer holds rows [first, end) from `base` on, row r at
 * base + (r - first) * row_bytes; before its producer writes more, ek_rows_keep drops the rows no
 * consumer needs any more by moving the rest down to base (the rows stay contiguous, so every
 * kernel reads a band as it reads a whole tensor). A whole tensor is an ek_rows with first == 0
 * that never moves.
 *
 * Each _rows function runs one operator's kernel on output rows [from, to): it gives the kernel
 * the input rows that band's windows read (their first row and how many, clipped to the image),
 * the padding above them (pad_top of the band), and output_h = to - from; the rows below the
 * band are the image's bottom padding only when the band reaches it. Nothing else of the kernel
 * changes: the same parameter struct (copied, three sizes replaced), the same arithmetic, the
 * same bits. from == to does nothing. The caller guarantees the rows exist (the planner's
 * simulation sized every buffer; tests run the generated code under ASan).
 */
#ifndef EK_STREAM_H
#define EK_STREAM_H

#include <stdint.h>

#include "ek_common.h"
#include "ek_binary.h"
#include "ek_conv2d.h"
#include "ek_conv2d_pal.h"
#include "ek_depthwise_conv2d.h"
#include "ek_pad.h"
#include "ek_pool.h"

typedef struct {
    int8_t *base;      /* where row `first` is */
    int32_t row_bytes; /* width * channels * element size */
    int32_t first;     /* the lowest row held (a whole tensor: 0, always) */
} ek_rows;

EK_INLINE int8_t *ek_row(const ek_rows *b, int32_t row)
{
    return b->base + (row - b->first) * b->row_bytes;
}

/* Drop the rows below `keep`: rows [keep, end) move down to base. */
void ek_rows_keep(ek_rows *b, int32_t keep, int32_t end);

/* The input rows a sliding window reads for output rows [from, to): `first` and `rows` inside the
 * image, `pad_top` rows of padding above them. span = (filter_h - 1) * dilation_h + 1. */
typedef struct {
    int32_t first;
    int32_t rows;
    int32_t pad_top;
} ek_window;

EK_INLINE ek_window ek_window_rows(int32_t from, int32_t to, int32_t stride, int32_t pad_top, int32_t span,
                                   int32_t input_h)
{
    const int32_t top = from * stride - pad_top;
    const int32_t end = (to - 1) * stride - pad_top + span;
    ek_window w;
    w.first = top < 0 ? 0 : top;
    w.rows = (end < input_h ? end : input_h) - w.first;
    w.pad_top = w.first - top;
    return w;
}

/* What every window wrapper does before calling its kernel: the band's window `w` and `q`, a copy
 * of *p (of type TYPE) whose input rows (field IN_H), top padding (PAD) and output rows (OUT_H) are
 * the band's. Expects p, from and to in scope, from < to. */
#define EK_BAND_PARAMS(TYPE, IN_H, PAD, OUT_H, STRIDE, SPAN)                                 \
    const ek_window w = ek_window_rows(from, to, (STRIDE), p->PAD, (SPAN), p->IN_H);       \
    TYPE q = *p;                                                                           \
    q.IN_H = w.rows;                                                                       \
    q.PAD = w.pad_top;                                                                     \
    q.OUT_H = to - from

void ek_conv2d_s8_rows(const ek_conv2d_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to);
void ek_conv2d_pal_s8_rows(const ek_conv2d_pal_params *p, const ek_rows *in, const ek_rows *out, int32_t from,
                           int32_t to);
void ek_depthwise_conv2d_s8_rows(const ek_depthwise_conv2d_params *p, const ek_rows *in, const ek_rows *out,
                                 int32_t from, int32_t to);
void ek_max_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to);
void ek_avg_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, void *scratch,
                         int32_t from, int32_t to);
/* ADD of two equal-shape inputs (no broadcasting): rows [from, to) of all three. */
void ek_add_s8_rows(const ek_add_params *p, const ek_rows *in1, const ek_rows *in2, const ek_rows *out,
                    int32_t from, int32_t to);

/* PAD of an image (in_h > 0): output rows [from, to), the padding rows filled, the others the
 * input rows r - pad_top with their padding. */
void ek_pad_s8_rows(const ek_pad_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to);

/* AVERAGE_POOL_2D over the whole map (one output pixel, no padding), fed input rows [from, to)
 * at a time: `sum` (int32 per channel, ek_avg_pool_s8_scratch_bytes) adds them up, starting at
 * from == 0; when to reaches in_h the output is written, rounded as ek_avg_pool_s8 rounds it.
 * `sum` must persist from the first band to the last. */
void ek_global_avg_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, int8_t *output, int32_t *sum,
                                int32_t from, int32_t to);

#endif /* EK_STREAM_H */

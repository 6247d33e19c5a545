/* Streamed segments on the DSP kernels: the _rows functions of ek_stream.h for the kernels in
 * this folder (the same contract: output rows [from, to), the band's input rows and padding
 * given to the unchanged kernel). ek_conv3x3_wino_dsp_s8 computes 2x2 tiles: its bands start
 * at an even row (the planner produces its rows in pairs; the last band may be odd). */
#ifndef EK_STREAM_DSP_H
#define EK_STREAM_DSP_H

#include <stdint.h>

#include "ek_stream.h"
#include "ek_add_dsp.h"
#include "ek_conv2d_dsp.h"
#include "ek_conv3x3_wino_dsp.h"
#include "ek_depthwise_dsp.h"
#include "ek_depthwise_rows_dsp.h"
#include "ek_pool_dsp.h"

void ek_conv2d_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                           int32_t from, int32_t to);
/* A 1x1, stride-1 ek_conv2d_dsp_s8 with as many output channels as input channels, made over in
 * place: `in` and `out` are one row buffer (the planner's in-place stage, edgekit/plan/stream.py)
 * and the kernel widens each block of pixels before it writes the block (ek_conv2d_dsp.h). Output
 * rows [from, to) as pixels counted along the rows: [P(from), P(to)), P(r) = r * input_w rounded
 * up to a multiple of 4 (at most the map's pixels), so every call but the last computes whole
 * blocks of four, and the last pixels it makes over belong to row `to`, whose input the planner
 * has made before the call (the stage reads input rows [from, to + 1)). */
void ek_conv2d_dsp_s8_pixels(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                             int32_t from, int32_t to);
/* ek_conv2d_dsp_s8 on a whole input (a tensor not made in the segment), making output rows
 * [from, to) as pixels counted along the rows, in blocks of four across rows as the whole call
 * does: it computes [P(from), P(to)) (P as above, counted on output_w); the pixels of row `to`
 * among them go to `state` (at most 3 * output_c bytes, kept by the planner from one step to the
 * next), and the call copies those the previous call left there, row `from`'s first pixels, into
 * place. Rows of at least 4 pixels: those pixels are fewer than a row. */
void ek_conv2d_dsp_s8_ahead(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                            int8_t *state, int32_t from, int32_t to);
void ek_conv2d_int4_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out,
                                int8_t *scratch, int32_t from, int32_t to);
void ek_conv3x3_wino_dsp_s8_rows(const ek_conv3x3_wino_params *p, const ek_rows *in, const ek_rows *out,
                                 int8_t *scratch, int32_t from, int32_t to);
void ek_depthwise_dsp_s8_rows(const ek_depthwise_dsp_params *p, const ek_rows *in, const ek_rows *out,
                              int8_t *scratch, int32_t from, int32_t to);
void ek_depthwise_rows_dsp_s8_rows(const ek_depthwise_rows_params *p, const ek_rows *in, const ek_rows *out,
                                   int8_t *scratch, int32_t from, int32_t to);
void ek_add_dsp_s8_rows(const ek_add_dsp_params *p, const ek_rows *in1, const ek_rows *in2, const ek_rows *out,
                        int32_t from, int32_t to);
void ek_max_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to);
void ek_avg_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, void *scratch,
                             int32_t from, int32_t to);
/* ek_global_avg_pool_s8_rows (ek_stream.h) summing as ek_avg_pool_dsp_s8 does. */
void ek_global_avg_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, int8_t *output, int32_t *sum,
                                    int32_t from, int32_t to);

#endif /* EK_STREAM_DSP_H */

#include "ek_stream.h"

#include <string.h>

#if defined(__GNUC__)
typedef uint32_t ek_any_word __attribute__((may_alias)); /* a word of any object (here int8_t rows) */

/* n bytes from src down to dst (dst < src; the ranges may overlap): eight words at a time while
 * both are word-aligned, each block read whole before it is written (forward, so a block never
 * overwrites bytes still to be read), the rest by memmove. newlib's memmove copies a word per
 * load and store pair: 1.15 cycles a byte on the Cortex-M4, this about 0.7. */
static void move_down(int8_t *dst, const int8_t *src, int32_t n)
{
    if ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0u) {
        ek_any_word *d = (ek_any_word *)(void *)dst;
        const ek_any_word *s = (const ek_any_word *)(const void *)src;
        for (; n >= 32; n -= 32, d += 8, s += 8) {
            const uint32_t w0 = s[0], w1 = s[1], w2 = s[2], w3 = s[3], w4 = s[4], w5 = s[5], w6 = s[6], w7 = s[7];
            d[0] = w0;
            d[1] = w1;
            d[2] = w2;
            d[3] = w3;
            d[4] = w4;
            d[5] = w5;
            d[6] = w6;
            d[7] = w7;
        }
        dst = (int8_t *)(void *)d;
        src = (const int8_t *)(const void *)s;
    }
    memmove(dst, src, (size_t)n);
}
#else
#define move_down(dst, src, n) memmove((dst), (src), (size_t)(n))
#endif

void ek_rows_keep(ek_rows *b, int32_t keep, int32_t end)
{
    if (keep <= b->first) {
        return;
    }
    if (end > keep) {
        move_down(b->base, ek_row(b, keep), (end - keep) * b->row_bytes);
    }
    b->first = keep;
}

void ek_conv2d_s8_rows(const ek_conv2d_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_conv2d_params, input_h, pad_top, output_h, p->stride_h, (p->filter_h - 1) * p->dilation_h + 1);
    ek_conv2d_s8(&q, ek_row(in, w.first), ek_row(out, from));
}

void ek_conv2d_pal_s8_rows(const ek_conv2d_pal_params *p, const ek_rows *in, const ek_rows *out, int32_t from,
                           int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_conv2d_pal_params, input_h, pad_top, output_h, p->stride_h,
                   (p->filter_h - 1) * p->dilation_h + 1);
    ek_conv2d_pal_s8(&q, ek_row(in, w.first), ek_row(out, from));
}

void ek_depthwise_conv2d_s8_rows(const ek_depthwise_conv2d_params *p, const ek_rows *in, const ek_rows *out,
                                 int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_depthwise_conv2d_params, input_h, pad_top, output_h, p->stride_h,
                   (p->filter_h - 1) * p->dilation_h + 1);
    ek_depthwise_conv2d_s8(&q, ek_row(in, w.first), ek_row(out, from));
}

void ek_max_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_pool_params, in_h, pad_h, out_h, p->stride_h, p->filter_h);
    ek_max_pool_s8(&q, ek_row(in, w.first), ek_row(out, from));
}

void ek_pad_s8_rows(const ek_pad_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const int32_t top = p->pad_top, lo = from > top ? from : top;
    const int32_t end = top + p->in_h, hi = to < end ? to : end;
    ek_pad_params q = *p;
    q.output_size = (to - from) * p->out_row;
    if (hi <= lo) { /* padding rows only */
        q.count[0] = 0;
        ek_pad_s8(&q, NULL, ek_row(out, from));
        return;
    }
    q.count[0] = hi - lo;
    q.offset = p->offset + (lo - from - top) * p->out_row; /* input row lo lands on band row lo - from */
    ek_pad_s8(&q, ek_row(in, lo - top), ek_row(out, from));
}

void ek_avg_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, void *scratch,
                         int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_pool_params, in_h, pad_h, out_h, p->stride_h, p->filter_h);
    ek_avg_pool_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_add_s8_rows(const ek_add_params *p, const ek_rows *in1, const ek_rows *in2, const ek_rows *out,
                    int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    ek_add_params q = *p;
    q.size = (to - from) * out->row_bytes;
    ek_add_s8(&q, ek_row(in1, from), ek_row(in2, from), ek_row(out, from));
}

void ek_global_avg_pool_s8_rows(const ek_pool_params *p, const ek_rows *in, int8_t *output, int32_t *sum,
                                int32_t from, int32_t to)
{
    const int32_t c_n = p->channels;
    if (from == 0) {
        for (int32_t c = 0; c < c_n; ++c) {
            sum[c] = 0;
        }
    }
    for (int32_t y = from; y < to; ++y) {
        const int8_t *row = ek_row(in, y);
        for (int32_t x = 0; x < p->in_w; ++x, row += c_n) {
            for (int32_t c = 0; c < c_n; ++c) {
                sum[c] += row[c];
            }
        }
    }
    if (to < p->in_h || to <= from) {
        return;
    }
    for (int32_t c = 0; c < c_n; ++c) {
        output[c] = (int8_t)ek_clamp_i32(ek_pool_average(sum[c], p->in_h * p->in_w), p->act_min, p->act_max);
    }
}

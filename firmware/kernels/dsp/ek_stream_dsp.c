#include "ek_stream_dsp.h"

#include <string.h>

/* EK_BAND_PARAMS (ek_stream.h) with the DSP kernels' field names; their int16_t sizes take the
 * band's (never larger than the whole call's). */
#define EK_DSP_BAND(TYPE, STRIDE, SPAN) EK_BAND_PARAMS(TYPE, input_h, pad_top, output_h, STRIDE, SPAN)

void ek_conv2d_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                           int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_DSP_BAND(ek_conv2d_dsp_params, p->stride_h, (p->filter_h - 1) * p->dilation_h + 1);
    ek_conv2d_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

/* P(r) of ek_stream_dsp.h: the first pixel of the blocks of four that begin at or after row r's
 * first pixel (r * w rounded up to a multiple of 4), at most the map's `pixels`. */
EK_INLINE int32_t block_start(int32_t r, int32_t w, int32_t pixels)
{
    const int32_t q = (r * w + 3) & ~3;
    return q < pixels ? q : pixels;
}

void ek_conv2d_dsp_s8_pixels(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                             int32_t from, int32_t to)
{
    const int32_t w = p->input_w, pixels = p->input_h * w;
    const int32_t a = block_start(from, w, pixels), b = block_start(to, w, pixels);
    if (b <= a) {
        return;
    }
    ek_conv2d_dsp_params q = *p;
    q.input_h = 1;
    q.output_h = 1;
    q.input_w = (int16_t)(b - a);
    q.output_w = (int16_t)(b - a);
    ek_conv2d_dsp_s8(&q, in->base + (a - in->first * w) * p->input_c, out->base + (a - out->first * w) * p->output_c,
                     scratch);
}

void ek_conv2d_dsp_s8_ahead(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                            int8_t *state, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const int32_t w = p->output_w, n = p->output_c, pixels = p->output_h * w;
    const int32_t row0 = from * w, row1 = to * w; /* the band's first pixel, the next row's */
    const int32_t a = block_start(from, w, pixels), b = block_start(to, w, pixels);
    int8_t *dst = ek_row(out, from);
    if (a > row0) { /* made by the previous call */
        memcpy(dst, state, (size_t)((a - row0) * n));
    }
    if (b > a) {
        ek_conv2d_dsp_s8_span(p, ek_row(in, 0), dst + (a - row0) * n, scratch, a, b, state, row1);
    }
}

void ek_conv2d_int4_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out,
                                int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_DSP_BAND(ek_conv2d_dsp_params, p->stride_h, (p->filter_h - 1) * p->dilation_h + 1);
    ek_conv2d_int4_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_conv3x3_wino_dsp_s8_rows(const ek_conv3x3_wino_params *p, const ek_rows *in, const ek_rows *out,
                                 int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_DSP_BAND(ek_conv3x3_wino_params, 1, 3);
    q.tiles_h = (int16_t)((to - from + 1) / 2);
    ek_conv3x3_wino_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_depthwise_dsp_s8_rows(const ek_depthwise_dsp_params *p, const ek_rows *in, const ek_rows *out,
                              int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_DSP_BAND(ek_depthwise_dsp_params, p->stride_h, (p->filter_h - 1) * p->dilation_h + 1);
    ek_depthwise_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_depthwise_rows_dsp_s8_rows(const ek_depthwise_rows_params *p, const ek_rows *in, const ek_rows *out,
                                   int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_DSP_BAND(ek_depthwise_rows_params, p->stride_h, 3);
    ek_depthwise_rows_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_add_dsp_s8_rows(const ek_add_dsp_params *p, const ek_rows *in1, const ek_rows *in2, const ek_rows *out,
                        int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    ek_add_dsp_params q = *p;
    q.size = (to - from) * out->row_bytes;
    ek_add_dsp_s8(&q, ek_row(in1, from), ek_row(in2, from), ek_row(out, from));
}

void ek_max_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_pool_params, in_h, pad_h, out_h, p->stride_h, p->filter_h);
    ek_max_pool_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from));
}

void ek_avg_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, const ek_rows *out, void *scratch,
                             int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    EK_BAND_PARAMS(ek_pool_params, in_h, pad_h, out_h, p->stride_h, p->filter_h);
    ek_avg_pool_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_global_avg_pool_dsp_s8_rows(const ek_pool_params *p, const ek_rows *in, int8_t *output, int32_t *sum,
                                    int32_t from, int32_t to)
{
    const int32_t c_n = p->channels;
    if (from == 0) {
        for (int32_t c = 0; c < c_n; ++c) {
            sum[c] = 0;
        }
    }
    for (int32_t y = from; y < to; ++y) {
        ek_pool_sum_dsp_s8(sum, ek_row(in, y), p->in_w, c_n);
    }
    if (to < p->in_h || to <= from) {
        return;
    }
    for (int32_t c = 0; c < c_n; ++c) {
        output[c] = (int8_t)ek_clamp_i32(ek_pool_average(sum[c], p->in_h * p->in_w), p->act_min, p->act_max);
    }
}

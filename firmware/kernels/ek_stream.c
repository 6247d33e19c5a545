#include "ek_stream.h"

#include <string.h>

void ek_rows_keep(ek_rows *b, int32_t keep, int32_t end)
{
    if (keep <= b->first) {
        return;
    }
    if (end > keep) {
        memmove(b->base, ek_row(b, keep), (size_t)((end - keep) * b->row_bytes));
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

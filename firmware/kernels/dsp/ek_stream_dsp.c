#include "ek_stream_dsp.h"

/* The int16_t-sized parameter structs of the DSP kernels: the band's three sizes replaced. */
#define EK_BAND(q, w, from, to)             \
    do {                                   \
        (q).input_h = (int16_t)(w).rows;    \
        (q).pad_top = (int16_t)(w).pad_top; \
        (q).output_h = (int16_t)((to) - (from)); \
    } while (0)

void ek_conv2d_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out, int8_t *scratch,
                           int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const ek_window w = ek_window_rows(from, to, p->stride_h, p->pad_top, (p->filter_h - 1) * p->dilation_h + 1,
                                       p->input_h);
    ek_conv2d_dsp_params q = *p;
    EK_BAND(q, w, from, to);
    ek_conv2d_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_conv2d_int4_dsp_s8_rows(const ek_conv2d_dsp_params *p, const ek_rows *in, const ek_rows *out,
                                int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const ek_window w = ek_window_rows(from, to, p->stride_h, p->pad_top, (p->filter_h - 1) * p->dilation_h + 1,
                                       p->input_h);
    ek_conv2d_dsp_params q = *p;
    EK_BAND(q, w, from, to);
    ek_conv2d_int4_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_conv3x3_wino_dsp_s8_rows(const ek_conv3x3_wino_params *p, const ek_rows *in, const ek_rows *out,
                                 int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const ek_window w = ek_window_rows(from, to, 1, p->pad_top, 3, p->input_h);
    ek_conv3x3_wino_params q = *p;
    EK_BAND(q, w, from, to);
    q.tiles_h = (int16_t)((to - from + 1) / 2);
    ek_conv3x3_wino_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_depthwise_dsp_s8_rows(const ek_depthwise_dsp_params *p, const ek_rows *in, const ek_rows *out,
                              int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const ek_window w = ek_window_rows(from, to, p->stride_h, p->pad_top, (p->filter_h - 1) * p->dilation_h + 1,
                                       p->input_h);
    ek_depthwise_dsp_params q = *p;
    EK_BAND(q, w, from, to);
    ek_depthwise_dsp_s8(&q, ek_row(in, w.first), ek_row(out, from), scratch);
}

void ek_depthwise_rows_dsp_s8_rows(const ek_depthwise_rows_params *p, const ek_rows *in, const ek_rows *out,
                                   int8_t *scratch, int32_t from, int32_t to)
{
    if (to <= from) {
        return;
    }
    const ek_window w = ek_window_rows(from, to, p->stride_h, p->pad_top, 3, p->input_h);
    ek_depthwise_rows_params q = *p;
    EK_BAND(q, w, from, to);
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

#include "ek_transpose_conv.h"

#include "ek_common.h"

void ek_transpose_conv_s8(const ek_transpose_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t ic_n = p->input_c;
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        int32_t iy0;
        const int32_t ky0 = ek_transpose_conv_first_tap(oy, p->pad_top, p->stride_h, p->input_h, &iy0);
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            int32_t ix0;
            const int32_t kx0 = ek_transpose_conv_first_tap(ox, p->pad_left, p->stride_w, p->input_w, &ix0);
            for (int32_t oc = 0; oc < p->output_c; ++oc) {
                int32_t acc = 0;
                const int8_t *w_oc = p->weights + oc * p->filter_h * p->filter_w * ic_n;
                for (int32_t ky = ky0, iy = iy0; ky < p->filter_h && iy >= 0; ky += p->stride_h, --iy) {
                    for (int32_t kx = kx0, ix = ix0; kx < p->filter_w && ix >= 0; kx += p->stride_w, --ix) {
                        const int8_t *x = input + (iy * p->input_w + ix) * ic_n;
                        const int8_t *w = w_oc + (ky * p->filter_w + kx) * ic_n;
                        for (int32_t c = 0; c < ic_n; ++c) {
                            acc += ((int32_t)x[c] + p->input_offset) * (int32_t)w[c];
                        }
                    }
                }
                acc = ek_requantize(acc + p->bias[oc], p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
            }
        }
    }
}

void ek_transpose_conv_s16(const ek_transpose_conv_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_transpose_conv_params *q = &p->conv;
    const int32_t ic_n = q->input_c;
    for (int32_t oy = 0; oy < q->output_h; ++oy) {
        int32_t iy0;
        const int32_t ky0 = ek_transpose_conv_first_tap(oy, q->pad_top, q->stride_h, q->input_h, &iy0);
        for (int32_t ox = 0; ox < q->output_w; ++ox) {
            int32_t ix0;
            const int32_t kx0 = ek_transpose_conv_first_tap(ox, q->pad_left, q->stride_w, q->input_w, &ix0);
            for (int32_t oc = 0; oc < q->output_c; ++oc) {
                int64_t acc = p->bias[oc];
                const int8_t *w_oc = q->weights + oc * q->filter_h * q->filter_w * ic_n;
                for (int32_t ky = ky0, iy = iy0; ky < q->filter_h && iy >= 0; ky += q->stride_h, --iy) {
                    for (int32_t kx = kx0, ix = ix0; kx < q->filter_w && ix >= 0; kx += q->stride_w, --ix) {
                        acc += ek_dot_s16_s8(input + (iy * q->input_w + ix) * ic_n,
                                             w_oc + (ky * q->filter_w + kx) * ic_n, ic_n);
                    }
                }
                const int32_t y = ek_requantize_s64(acc, q->multiplier[oc], q->shift[oc]);
                *output++ = (int16_t)ek_clamp_i32(y, q->act_min, q->act_max);
            }
        }
    }
}

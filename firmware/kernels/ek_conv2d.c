#include "ek_conv2d.h"

#include "ek_common.h"

/* sum of x[c] * w[c] over one tap's filter_c channels */
EK_INLINE int32_t ek_dot_s8(const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    for (int32_t c = 0; c < n; ++c) {
        acc += (int32_t)x[c] * (int32_t)w[c];
    }
    return acc;
}

/* sum of w[c] over one tap's filter_c channels (for a tap in the padding) */
EK_INLINE int32_t ek_sum_s8(const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    for (int32_t c = 0; c < n; ++c) {
        acc += (int32_t)w[c];
    }
    return acc;
}

void ek_conv2d_s8(const ek_conv2d_params *p, const int8_t *input, int8_t *output)
{
    const int32_t fc = p->filter_c;
    const int32_t per_group = p->output_c / p->groups;
    const int32_t tap_stride = p->filter_w * fc; /* weights of one filter row */
    int8_t *out = output;

    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t oc = 0;
            for (int32_t g = 0; g < p->groups; ++g) {
                const int8_t *in_g = input + g * fc;
                for (int32_t j = 0; j < per_group; ++j, ++oc) {
                    const int8_t *w = p->weights + oc * p->filter_h * tap_stride;
                    int32_t acc = p->bias[oc];
                    for (int32_t ky = 0; ky < p->filter_h; ++ky, w += tap_stride) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        const int row_inside = iy >= 0 && iy < p->input_h;
                        for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *wt = w + kx * fc;
                            if (row_inside && ix >= 0 && ix < p->input_w) {
                                acc += ek_dot_s8(in_g + (iy * p->input_w + ix) * p->input_c, wt, fc);
                            } else {
                                acc += p->input_zero_point * ek_sum_s8(wt, fc);
                            }
                        }
                    }
                    acc = ek_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                    *out++ = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

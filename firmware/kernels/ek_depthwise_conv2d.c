#include "ek_depthwise_conv2d.h"

#include "ek_common.h"

void ek_depthwise_conv2d_s8(const ek_depthwise_conv2d_params *p, const int8_t *input, int8_t *output)
{
    const int32_t oc_n = p->output_c;
    int8_t *out = output;

    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t oc = 0;
            for (int32_t ic = 0; ic < p->input_c; ++ic) {
                const int8_t *in_c = input + ic;
                for (int32_t m = 0; m < p->depth_multiplier; ++m, ++oc) {
                    const int8_t *w = p->weights + oc;
                    int32_t acc = p->bias[oc];
                    for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        const int row_inside = iy >= 0 && iy < p->input_h;
                        for (int32_t kx = 0; kx < p->filter_w; ++kx, w += oc_n) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int32_t x = (row_inside && ix >= 0 && ix < p->input_w)
                                                  ? (int32_t)in_c[(iy * p->input_w + ix) * p->input_c]
                                                  : p->input_zero_point;
                            acc += x * (int32_t)*w;
                        }
                    }
                    acc = ek_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                    *out++ = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

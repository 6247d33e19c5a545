#include "ek_conv2d_pal.h"

#include "ek_common.h"
#include "ek_palette.h"

void ek_conv2d_pal_s8(const ek_conv2d_pal_params *p, const int8_t *input, int8_t *output)
{
    const int32_t fc = p->filter_c;
    const int32_t per_group = p->output_c / p->groups;
    const int32_t k = p->filter_h * p->filter_w * fc;
    int8_t *out = output;

    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            for (int32_t oc = 0; oc < p->output_c; ++oc) {
                const int8_t *in_g = input + (oc / per_group) * fc;
                ek_pal_reader w;
                ek_pal_reader_init(&w, p->encoding, p->bits, p->table_stride, p->codes, p->values,
                                   p->row_start, oc, k);
                int32_t acc = p->bias[oc];
                for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    const int row_inside = iy >= 0 && iy < p->input_h;
                    for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        if (row_inside && ix >= 0 && ix < p->input_w) {
                            const int8_t *x = in_g + (iy * p->input_w + ix) * p->input_c;
                            for (int32_t c = 0; c < fc; ++c) {
                                acc += (int32_t)x[c] * ek_pal_next(&w);
                            }
                        } else {
                            for (int32_t c = 0; c < fc; ++c) {
                                acc += p->input_zero_point * ek_pal_next(&w);
                            }
                        }
                    }
                }
                acc = ek_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *out++ = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
            }
        }
    }
}

#include "ek_depthwise_conv2d.h"

#include "ek_common.h"

/* Depth multiplier 1: sixteen channels at a time, each tap multiplying a contiguous run of
 * channels by the tap's contiguous weights (fixed-count loops compilers vectorize). */
static void depthwise_dm1(const ek_depthwise_conv2d_params *p, const int8_t *input, int8_t *output)
{
    const int32_t ch = p->input_c;
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            for (int32_t c0 = 0; c0 < ch; c0 += 16) {
                const int32_t n = ch - c0 < 16 ? ch - c0 : 16;
                int32_t acc[16];
                for (int32_t j = 0; j < 16; ++j) {
                    acc[j] = j < n ? p->bias[c0 + j] : 0;
                }
                const int8_t *w = p->weights + c0;
                for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    for (int32_t kx = 0; kx < p->filter_w; ++kx, w += ch) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        const int8_t *x = input + (iy * p->input_w + ix) * ch + c0;
                        if (iy < 0 || iy >= p->input_h || ix < 0 || ix >= p->input_w) {
                            for (int32_t j = 0; j < n; ++j) {
                                acc[j] += p->input_zero_point * (int32_t)w[j];
                            }
                        } else if (n == 16) {
                            for (int32_t j = 0; j < 16; ++j) {
                                acc[j] += (int32_t)x[j] * (int32_t)w[j];
                            }
                        } else {
                            for (int32_t j = 0; j < n; ++j) {
                                acc[j] += (int32_t)x[j] * (int32_t)w[j];
                            }
                        }
                    }
                }
                for (int32_t j = 0; j < n; ++j) {
                    const int32_t v = ek_requantize(acc[j], p->multiplier[c0 + j], p->shift[c0 + j]) + p->output_offset;
                    out[c0 + j] = (int8_t)ek_clamp_i32(v, p->act_min, p->act_max);
                }
            }
        }
    }
}

void ek_depthwise_conv2d_s8(const ek_depthwise_conv2d_params *p, const int8_t *input, int8_t *output)
{
    if (p->depth_multiplier == 1) {
        depthwise_dm1(p, input, output);
        return;
    }
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

void ek_depthwise_conv2d_s16(const ek_depthwise_conv2d_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_depthwise_conv2d_params *q = &p->dw;
    const int32_t oc_n = q->output_c;
    int16_t *out = output;

    for (int32_t oy = 0; oy < q->output_h; ++oy) {
        const int32_t iy0 = oy * q->stride_h - q->pad_top;
        for (int32_t ox = 0; ox < q->output_w; ++ox) {
            const int32_t ix0 = ox * q->stride_w - q->pad_left;
            for (int32_t oc = 0; oc < oc_n; ++oc) {
                const int16_t *in_c = input + oc / q->depth_multiplier;
                const int8_t *w = q->weights + oc;
                int64_t acc = p->bias[oc];
                for (int32_t ky = 0; ky < q->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * q->dilation_h;
                    for (int32_t kx = 0; kx < q->filter_w; ++kx, w += oc_n) {
                        const int32_t ix = ix0 + kx * q->dilation_w;
                        if (iy >= 0 && iy < q->input_h && ix >= 0 && ix < q->input_w) {
                            acc += (int32_t)in_c[(iy * q->input_w + ix) * q->input_c] * (int32_t)*w;
                        }
                    }
                }
                const int32_t y = ek_requantize_s64(acc, q->multiplier[oc], q->shift[oc]);
                *out++ = (int16_t)ek_clamp_i32(y, q->act_min, q->act_max);
            }
        }
    }
}

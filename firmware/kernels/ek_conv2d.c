#include "ek_conv2d.h"

#include "ek_common.h"

/* A window of at most this many bytes per group (filter_h * filter_w * filter_c) is gathered into
 * a contiguous column on the stack and dotted with each filter in one pass; larger windows are
 * dotted tap row by tap row. */
#define EK_CONV2D_COLUMN_MAX 256

/* sum of w[c] over one tap's filter_c channels (for a tap in the padding) */
EK_INLINE int32_t ek_sum_s8(const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    for (int32_t c = 0; c < n; ++c) {
        acc += (int32_t)w[c];
    }
    return acc;
}

EK_INLINE int8_t conv_out(const ek_conv2d_params *p, int32_t oc, int32_t acc)
{
    acc = ek_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
}

/* Group g's window of output pixel (iy0, ix0) as one column, taps outside the image reading the
 * input zero point; returns its length. A filter row inside the image whose taps are contiguous
 * in the input (horizontal dilation 1, all channels) is one run. */
static int32_t gather(const ek_conv2d_params *p, const int8_t *in_g, int32_t iy0, int32_t ix0, int8_t *col)
{
    const int32_t fc = p->filter_c, run = p->filter_w * fc;
    const int cols_inside = ix0 >= 0 && ix0 + (p->filter_w - 1) * p->dilation_w < p->input_w;
    const int contiguous = cols_inside && p->dilation_w == 1 && fc == p->input_c;
    int32_t n = 0;
    for (int32_t ky = 0; ky < p->filter_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int row_inside = iy >= 0 && iy < p->input_h;
        if (row_inside && contiguous) {
            const int8_t *src = in_g + (iy * p->input_w + ix0) * fc;
            for (int32_t c = 0; c < run; ++c) {
                col[n + c] = src[c];
            }
            n += run;
            continue;
        }
        for (int32_t kx = 0; kx < p->filter_w; ++kx, n += fc) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            const int inside = row_inside && ix >= 0 && ix < p->input_w;
            const int8_t *src = in_g + (iy * p->input_w + ix) * p->input_c;
            for (int32_t c = 0; c < fc; ++c) {
                col[n + c] = inside ? src[c] : (int8_t)p->input_zero_point;
            }
        }
    }
    return n;
}

void ek_conv2d_s8(const ek_conv2d_params *p, const int8_t *input, int8_t *output)
{
    const int32_t fc = p->filter_c;
    const int32_t per_group = p->output_c / p->groups;
    const int32_t tap_stride = p->filter_w * fc; /* weights of one filter row */
    const int32_t window = p->filter_h * tap_stride;
    int8_t col[EK_CONV2D_COLUMN_MAX];
    int8_t *out = output;

    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t ix_last = ix0 + (p->filter_w - 1) * p->dilation_w;
            const int cols_inside = ix0 >= 0 && ix_last < p->input_w;
            int32_t oc = 0;
            for (int32_t g = 0; g < p->groups; ++g) {
                const int8_t *in_g = input + g * fc;
                if (window <= EK_CONV2D_COLUMN_MAX) {
                    gather(p, in_g, iy0, ix0, col);
                    for (int32_t j = 0; j < per_group; ++j, ++oc) {
                        *out++ = conv_out(p, oc, p->bias[oc] + ek_dot_s8(col, p->weights + oc * window, window));
                    }
                    continue;
                }
                for (int32_t j = 0; j < per_group; ++j, ++oc) {
                    const int8_t *w = p->weights + oc * window;
                    int32_t acc = p->bias[oc];
                    for (int32_t ky = 0; ky < p->filter_h; ++ky, w += tap_stride) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        const int row_inside = iy >= 0 && iy < p->input_h;
                        const int8_t *row = in_g + iy * p->input_w * p->input_c;
                        if (row_inside && cols_inside && p->dilation_w == 1 && fc == p->input_c) {
                            acc += ek_dot_s8(row + ix0 * fc, w, tap_stride); /* the filter row is contiguous */
                            continue;
                        }
                        for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *wt = w + kx * fc;
                            if (row_inside && ix >= 0 && ix < p->input_w) {
                                acc += ek_dot_s8(row + ix * p->input_c, wt, fc);
                            } else {
                                acc += p->input_zero_point * ek_sum_s8(wt, fc);
                            }
                        }
                    }
                    *out++ = conv_out(p, oc, acc);
                }
            }
        }
    }
}

void ek_conv2d_s16(const ek_conv2d_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_conv2d_params *q = &p->conv;
    const int32_t fc = q->filter_c;
    const int32_t per_group = q->output_c / q->groups;
    const int32_t window = q->filter_h * q->filter_w * fc;
    int16_t *out = output;

    for (int32_t oy = 0; oy < q->output_h; ++oy) {
        const int32_t iy0 = oy * q->stride_h - q->pad_top;
        for (int32_t ox = 0; ox < q->output_w; ++ox) {
            const int32_t ix0 = ox * q->stride_w - q->pad_left;
            const int contiguous = ix0 >= 0 && ix0 + (q->filter_w - 1) * q->dilation_w < q->input_w &&
                                   q->dilation_w == 1 && fc == q->input_c;
            for (int32_t oc = 0; oc < q->output_c; ++oc) {
                const int16_t *in_g = input + (oc / per_group) * fc;
                const int8_t *w = q->weights + oc * window;
                int64_t acc = p->bias[oc];
                for (int32_t ky = 0; ky < q->filter_h; ++ky) {
                    const int32_t iy = iy0 + ky * q->dilation_h;
                    if (iy < 0 || iy >= q->input_h) {
                        w += q->filter_w * fc;
                        continue;
                    }
                    const int16_t *row = in_g + iy * q->input_w * q->input_c;
                    if (contiguous) { /* the filter row's taps are one run of the input */
                        acc += ek_dot_s16_s8(row + ix0 * fc, w, q->filter_w * fc);
                        w += q->filter_w * fc;
                        continue;
                    }
                    for (int32_t kx = 0; kx < q->filter_w; ++kx, w += fc) {
                        const int32_t ix = ix0 + kx * q->dilation_w;
                        if (ix >= 0 && ix < q->input_w) {
                            acc += ek_dot_s16_s8(row + ix * q->input_c, w, fc);
                        }
                    }
                }
                const int32_t y = ek_requantize_acc(acc, q->multiplier[oc], q->shift[oc], p->wide);
                *out++ = (int16_t)ek_clamp_i32(y, q->act_min, q->act_max);
            }
        }
    }
}

/* ek_s16_dsp.c -- CONV_2D and FULLY_CONNECTED, 16x8, on the DSP extension (ek_s16_dsp.h). */
#include "ek_s16_dsp.h"

#include "ek_common.h"
#include "ek_dsp.h"

/* s0 += a . w0 and s1 += a . w1 over n taps (int16 a, int8 w0 and w1), four taps a step. */
EK_INLINE void dot2(const int16_t *a, const int8_t *w0, const int8_t *w1, int32_t n, int64_t *s0, int64_t *s1)
{
    int64_t acc0 = *s0, acc1 = *s1;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32_t a01 = ek_read32(a + i), a23 = ek_read32(a + i + 2);
        const uint32_t x02 = ek_pack_lo(a01, a23), x13 = ek_pack_hi(a01, a23);
        const uint32_t v0 = ek_read32(w0 + i), v1 = ek_read32(w1 + i);
        acc0 = ek_smlald(x02, ek_sxtb16(v0), acc0);
        acc0 = ek_smlald(x13, ek_sxtb16_ror8(v0), acc0);
        acc1 = ek_smlald(x02, ek_sxtb16(v1), acc1);
        acc1 = ek_smlald(x13, ek_sxtb16_ror8(v1), acc1);
    }
    for (; i < n; ++i) {
        acc0 += (int32_t)a[i] * w0[i];
        acc1 += (int32_t)a[i] * w1[i];
    }
    *s0 = acc0;
    *s1 = acc1;
}

/* The same for one channel. */
static int64_t dot1(const int16_t *a, const int8_t *w, int32_t n)
{
    int64_t acc = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32_t a01 = ek_read32(a + i), a23 = ek_read32(a + i + 2);
        const uint32_t v = ek_read32(w + i);
        acc = ek_smlald(ek_pack_lo(a01, a23), ek_sxtb16(v), acc);
        acc = ek_smlald(ek_pack_hi(a01, a23), ek_sxtb16_ror8(v), acc);
    }
    for (; i < n; ++i) {
        acc += (int32_t)a[i] * w[i];
    }
    return acc;
}

/* The window of an output pixel (the rest of ek_conv2d_dsp_s16's: a grouped convolution, a dilated
 * row, a window over the image's side or a filter taller than EK_S16_ROWS) against channels oc and
 * oc + 1 (pair) or oc alone, tap by tap; taps in the padding skipped. */
static void window(const ek_conv2d_params *q, const int16_t *in_g, int32_t iy0, int32_t ix0, int32_t oc, int pair,
                   int64_t *s0, int64_t *s1)
{
    const int32_t fc = q->filter_c, window_taps = q->filter_h * q->filter_w * fc;
    const int8_t *w0 = q->weights + oc * window_taps; /* the second channel's taps follow at + window_taps */
    for (int32_t ky = 0; ky < q->filter_h; ++ky) {
        const int32_t iy = iy0 + ky * q->dilation_h;
        if (iy < 0 || iy >= q->input_h) {
            continue;
        }
        const int16_t *row = in_g + iy * q->input_w * q->input_c;
        for (int32_t kx = 0; kx < q->filter_w; ++kx) {
            const int32_t ix = ix0 + kx * q->dilation_w, tap = (ky * q->filter_w + kx) * fc;
            if (ix < 0 || ix >= q->input_w) {
                continue;
            }
            if (pair) {
                dot2(row + ix * q->input_c, w0 + tap, w0 + window_taps + tap, fc, s0, s1);
            } else {
                *s0 += dot1(row + ix * q->input_c, w0 + tap, fc);
            }
        }
    }
}

/* Requantized and clamped: one output of channel oc. */
static int16_t out16(const ek_conv2d_s16_params *p, int32_t oc, int64_t acc)
{
    const ek_conv2d_params *q = &p->conv;
    const int32_t y = ek_requantize_acc(acc, q->multiplier[oc], q->shift[oc], p->wide);
    return (int16_t)ek_clamp_i32(y, q->act_min, q->act_max);
}

/* the most filter rows the quick path below takes (a taller filter takes the general one) */
#define EK_S16_ROWS 16

/* Output pixel (iy0, ix0) of an ungrouped convolution whose window rows are each one run of the
 * input (dilation_w 1, the window inside the image horizontally): the rows inside the image are
 * found once, then every channel pair runs over them with its two sums in registers. */
static int16_t *pixel_runs(const ek_conv2d_s16_params *p, const int16_t *input, int32_t iy0, int32_t ix0,
                           int16_t *out)
{
    const ek_conv2d_params *q = &p->conv;
    const int32_t run = q->filter_w * q->input_c, window_taps = q->filter_h * run;
    const int16_t *rows[EK_S16_ROWS];
    int32_t offsets[EK_S16_ROWS], n = 0;
    for (int32_t ky = 0; ky < q->filter_h; ++ky) {
        const int32_t iy = iy0 + ky * q->dilation_h;
        if (iy >= 0 && iy < q->input_h) {
            rows[n] = input + (iy * q->input_w + ix0) * q->input_c;
            offsets[n++] = ky * run;
        }
    }
    int32_t oc = 0;
    for (; oc + 2 <= q->output_c; oc += 2) {
        const int8_t *w0 = q->weights + oc * window_taps;
        int64_t s0 = p->bias[oc], s1 = p->bias[oc + 1];
        for (int32_t r = 0; r < n; ++r) {
            dot2(rows[r], w0 + offsets[r], w0 + window_taps + offsets[r], run, &s0, &s1);
        }
        *out++ = out16(p, oc, s0);
        *out++ = out16(p, oc + 1, s1);
    }
    if (oc < q->output_c) {
        const int8_t *w0 = q->weights + oc * window_taps;
        int64_t s0 = p->bias[oc];
        for (int32_t r = 0; r < n; ++r) {
            s0 += dot1(rows[r], w0 + offsets[r], run);
        }
        *out++ = out16(p, oc, s0);
    }
    return out;
}

void ek_conv2d_dsp_s16(const ek_conv2d_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_conv2d_params *q = &p->conv;
    const int32_t per_group = q->output_c / q->groups;
    const int runs = q->groups == 1 && q->dilation_w == 1 && q->filter_h <= EK_S16_ROWS;
    int16_t *out = output;
    for (int32_t oy = 0; oy < q->output_h; ++oy) {
        const int32_t iy0 = oy * q->stride_h - q->pad_top;
        for (int32_t ox = 0; ox < q->output_w; ++ox) {
            const int32_t ix0 = ox * q->stride_w - q->pad_left;
            if (runs && ix0 >= 0 && ix0 + q->filter_w <= q->input_w) {
                out = pixel_runs(p, input, iy0, ix0, out);
                continue;
            }
            for (int32_t oc = 0; oc < q->output_c;) {
                const int32_t group = oc / per_group;
                const int pair = oc + 1 < q->output_c && (oc + 1) / per_group == group;
                int64_t s[2] = {p->bias[oc], pair ? p->bias[oc + 1] : 0};
                window(q, input + group * q->filter_c, iy0, ix0, oc, pair, &s[0], &s[1]);
                for (int32_t n = 0; n <= pair; ++n, ++oc) {
                    *out++ = out16(p, oc, s[n]);
                }
            }
        }
    }
}

void ek_fully_connected_dsp_s16(const ek_fully_connected_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_fully_connected_params *q = &p->fc;
    const int32_t k = q->in_features;
    for (int32_t b = 0; b < q->batches; ++b) {
        const int16_t *x = input + b * k;
        int16_t *y = output + b * q->out_features;
        for (int32_t o = 0; o < q->out_features;) {
            const int pair = o + 1 < q->out_features;
            int64_t s[2] = {p->bias[o], pair ? p->bias[o + 1] : 0};
            if (pair) {
                dot2(x, q->weights + o * k, q->weights + (o + 1) * k, k, &s[0], &s[1]);
            } else {
                s[0] += dot1(x, q->weights + o * k, k);
            }
            for (int32_t n = 0; n <= pair; ++n, ++o) {
                const int32_t v = ek_requantize_acc(s[n], q->multiplier[o], q->shift[o], p->wide) + q->output_offset;
                y[o] = (int16_t)ek_clamp_i32(v, q->act_min, q->act_max);
            }
        }
    }
}

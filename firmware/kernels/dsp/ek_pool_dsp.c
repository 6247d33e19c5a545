#include "ek_pool_dsp.h"

#include "ek_dsp.h"

void ek_max_pool_dsp_s8(const ek_pool_params *p, const int8_t *input, int8_t *output)
{
    const int32_t c_n = p->channels, words = c_n / 4, in_w = p->in_w;
    const int32_t clamp = p->act_min != -128 || p->act_max != 127;
    const uint32_t lo = (uint32_t)(uint8_t)p->act_min * 0x01010101u, hi = (uint32_t)(uint8_t)p->act_max * 0x01010101u;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * in_w * c_n;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy = oy * p->stride_h - p->pad_h;
            const int32_t y0 = ek_max_i32(iy, 0), y1 = ek_min_i32(iy + p->filter_h, p->in_h);
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += c_n) {
                const int32_t ix = ox * p->stride_w - p->pad_w;
                const int32_t x0 = ek_max_i32(ix, 0), x1 = ek_min_i32(ix + p->filter_w, in_w);
                const int8_t *first = in_b + (y0 * in_w + x0) * c_n; /* the window's first pixel */
                for (int32_t w = 0; w < 4 * words; w += 4) {
                    uint32_t m = ek_read32(first + w);
                    for (int32_t y = y0; y < y1; ++y) {
                        const int8_t *px = in_b + (y * in_w + x0) * c_n + w;
                        for (int32_t x = x0; x < x1; ++x, px += c_n) {
                            m = ek_max8(m, ek_read32(px));
                        }
                    }
                    if (clamp) {
                        m = ek_min8(ek_max8(m, lo), hi);
                    }
                    ek_write32(out + w, m);
                }
                for (int32_t c = 4 * words; c < c_n; ++c) {
                    int32_t m = first[c];
                    for (int32_t y = y0; y < y1; ++y) {
                        const int8_t *px = in_b + (y * in_w + x0) * c_n + c;
                        for (int32_t x = x0; x < x1; ++x, px += c_n) {
                            m = *px > m ? *px : m;
                        }
                    }
                    out[c] = (int8_t)ek_clamp_i32(m, p->act_min, p->act_max);
                }
            }
        }
    }
}

/* Channels 0 .. 7 of n pixels (n <= EK_POOL_LANE_PIXELS), `stride` bytes apart, added to sum[0 .. 7]. */
EK_INLINE void sum8(int32_t *sum, const int8_t *in, int32_t n, int32_t stride)
{
    uint32_t a02 = 0, a13 = 0, a46 = 0, a57 = 0; /* lanes: channels (0, 2), (1, 3), (4, 6), (5, 7) */
    for (; n > 0; --n, in += stride) {
        const uint32_t v = ek_read32(in), u = ek_read32(in + 4);
        a02 = ek_sxtab16(a02, v);
        a13 = ek_sxtab16_ror8(a13, v);
        a46 = ek_sxtab16(a46, u);
        a57 = ek_sxtab16_ror8(a57, u);
    }
    sum[0] += ek_lo16(a02);
    sum[1] += ek_lo16(a13);
    sum[2] += ek_hi16(a02);
    sum[3] += ek_hi16(a13);
    sum[4] += ek_lo16(a46);
    sum[5] += ek_lo16(a57);
    sum[6] += ek_hi16(a46);
    sum[7] += ek_hi16(a57);
}

/* The same for channels 0 .. 3. */
EK_INLINE void sum4(int32_t *sum, const int8_t *in, int32_t n, int32_t stride)
{
    uint32_t a02 = 0, a13 = 0;
    for (; n > 0; --n, in += stride) {
        const uint32_t v = ek_read32(in);
        a02 = ek_sxtab16(a02, v);
        a13 = ek_sxtab16_ror8(a13, v);
    }
    sum[0] += ek_lo16(a02);
    sum[1] += ek_lo16(a13);
    sum[2] += ek_hi16(a02);
    sum[3] += ek_hi16(a13);
}

void ek_pool_sum_dsp_s8(int32_t *sum, const int8_t *in, int32_t n, int32_t channels)
{
    while (n > 0) {
        const int32_t m = n < EK_POOL_LANE_PIXELS ? n : EK_POOL_LANE_PIXELS;
        int32_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            sum8(sum + c, in + c, m, channels);
        }
        if (c + 4 <= channels) {
            sum4(sum + c, in + c, m, channels);
            c += 4;
        }
        for (; c < channels; ++c) {
            const int8_t *x = in + c;
            int32_t s = 0;
            for (int32_t i = 0; i < m; ++i, x += channels) {
                s += *x;
            }
            sum[c] += s;
        }
        n -= m;
        in += m * channels;
    }
}

int32_t ek_avg_pool_dsp_s8_scratch_bytes(int32_t channels)
{
    return 4 * channels;
}

void ek_avg_pool_dsp_s8(const ek_pool_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t c_n = p->channels;
    int32_t *sum = (int32_t *)scratch;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * c_n;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy = oy * p->stride_h - p->pad_h;
            const int32_t y0 = ek_max_i32(iy, 0), y1 = ek_min_i32(iy + p->filter_h, p->in_h);
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += c_n) {
                const int32_t ix = ox * p->stride_w - p->pad_w;
                const int32_t x0 = ek_max_i32(ix, 0), x1 = ek_min_i32(ix + p->filter_w, p->in_w);
                for (int32_t c = 0; c < c_n; ++c) {
                    sum[c] = 0;
                }
                if (x0 == 0 && x1 == p->in_w) { /* whole rows: one run of pixels */
                    ek_pool_sum_dsp_s8(sum, in_b + y0 * p->in_w * c_n, (y1 - y0) * p->in_w, c_n);
                } else {
                    for (int32_t y = y0; y < y1; ++y) {
                        ek_pool_sum_dsp_s8(sum, in_b + (y * p->in_w + x0) * c_n, x1 - x0, c_n);
                    }
                }
                const int32_t count = (y1 - y0) * (x1 - x0);
                for (int32_t c = 0; c < c_n; ++c) {
                    out[c] = (int8_t)ek_clamp_i32(ek_pool_average(sum[c], count), p->act_min, p->act_max);
                }
            }
        }
    }
}

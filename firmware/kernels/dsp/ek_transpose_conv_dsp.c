#include "ek_transpose_conv_dsp.h"

#include "ek_dsp.h"
#include "ek_gemm4_dsp.h"
#include "ek_transpose_conv.h"

int32_t ek_transpose_conv_dsp_s8_scratch_bytes(int32_t k_pad, int32_t n_pad)
{
    return 2 * k_pad + 4 * n_pad;
}

/* An activation range narrower than int8 (rare: compact). */
EK_COLD static int32_t clamp_act(const ek_transpose_conv_dsp_params *p, int32_t v)
{
    return ek_clamp_i32(v, p->act_min, p->act_max);
}

/* One input pixel as doubled int16 pairs with the offset added: [k_pad / 2] words. */
EK_INLINE void widen(const int8_t *x, int32_t n, uint32_t off2, uint32_t *out)
{
    int32_t g = 0;
    for (; g + 4 <= n; g += 4) {
        const uint32_t v = ek_read32(x + g);
        const uint32_t a = ek_sadd16(ek_sxtb16(v), off2), c = ek_sadd16(ek_sxtb16_ror8(v), off2);
        *out++ = ek_sadd16(a, a);
        *out++ = ek_sadd16(c, c);
    }
    if (g < n) {  /* the last 1-3 channels; the rest of the word meets zero weights */
        uint32_t v = 0;
        for (int32_t t = 0; g + t < n; ++t) {
            v |= (uint32_t)(uint8_t)x[g + t] << (8 * t);
        }
        const uint32_t a = ek_sadd16(ek_sxtb16(v), off2), c = ek_sadd16(ek_sxtb16_ror8(v), off2);
        out[0] = ek_sadd16(a, a);
        out[1] = ek_sadd16(c, c);
    }
}

void ek_transpose_conv_dsp_s8(const ek_transpose_conv_dsp_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch)
{
    const int32_t ic_n = p->input_c, k_pairs = p->k_pad / 2, n_pad = p->n_pad;
    const int32_t tap_words = n_pad * p->k_pad / 4; /* one tap's weights, in words */
    const uint32_t off2 = ek_pack16(p->input_offset, p->input_offset);
    uint32_t *xw = (uint32_t *)(void *)scratch;     /* [k_pad / 2] */
    int32_t *acc = (int32_t *)(void *)(scratch + 2 * p->k_pad); /* [n_pad] */
    const uint32_t *weights = (const uint32_t *)(const void *)p->weights;
    const int32_t *rq = p->requant;

    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        int32_t iy0;
        const int32_t ky0 = ek_transpose_conv_first_tap(oy, p->pad_top, p->stride_h, p->input_h, &iy0);
        for (int32_t ox = 0; ox < p->output_w; ++ox) {
            int32_t ix0;
            const int32_t kx0 = ek_transpose_conv_first_tap(ox, p->pad_left, p->stride_w, p->input_w, &ix0);
            for (int32_t n = 0; n < n_pad; ++n) {
                acc[n] = rq[4 * n];
            }
            for (int32_t ky = ky0, iy = iy0; ky < p->filter_h && iy >= 0; ky += p->stride_h, --iy) {
                for (int32_t kx = kx0, ix = ix0; kx < p->filter_w && ix >= 0; kx += p->stride_w, --ix) {
                    widen(input + (iy * p->input_w + ix) * ic_n, ic_n, off2, xw);
                    const uint32_t *w = weights + (ky * p->filter_w + kx) * tap_words;
                    for (int32_t n = 0; n < n_pad; n += 4) {
                        dot4(&w, xw, k_pairs, &acc[n], &acc[n + 1], &acc[n + 2], &acc[n + 3]);
                    }
                }
            }
            for (int32_t n = 0; n < p->output_c; ++n) {
                const int32_t v = ek_ssat8(ek_requant2(acc[n], rq[4 * n + 1], rq[4 * n + 2], rq[4 * n + 3]));
                *output++ = (int8_t)(p->act_full ? v : clamp_act(p, v));
            }
        }
    }
}

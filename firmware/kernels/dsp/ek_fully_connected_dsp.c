#include "ek_fully_connected_dsp.h"

#include <string.h>

#include "ek_dsp.h"
#include "ek_gemm4_dsp.h"

/* An activation range narrower than int8 (rare: compact). */
EK_COLD static int32_t clamp_act(const ek_fully_connected_dsp_params *p, int32_t v)
{
    return ek_clamp_i32(v, p->act_min, p->act_max);
}

EK_INLINE int8_t clamp_out(const ek_fully_connected_dsp_params *p, int32_t acc2, const int32_t *rq)
{
    const int32_t v = ek_ssat8(ek_requant2(acc2, rq[1], rq[2], rq[3]));
    return (int8_t)(p->act_full ? v : clamp_act(p, v));
}

/* Scratch: the input row widened to doubled int16 pairs (2 * k_pad bytes), plus the row padded to
 * k_pad when in_features is not a multiple of 4. */
int32_t ek_fully_connected_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad)
{
    return 2 * k_pad + (k_pad != in_features ? k_pad : 0);
}

void ek_fully_connected_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                               int8_t *scratch)
{
    const int32_t k_pad = p->k_pad;
    const int32_t n_out = p->out_features;
    uint32_t *xw = (uint32_t *)(void *)scratch; /* [k_pad / 2] doubled int16 pairs */
    int8_t *row = scratch + 2 * k_pad;          /* the input row padded to k_pad */

    for (int32_t b = 0; b < p->batches; ++b, input += p->in_features, output += n_out) {
        const int8_t *x8 = input;
        if (k_pad != p->in_features) {
            memcpy(row, input, (size_t)p->in_features);
            memset(row + p->in_features, 0, (size_t)(k_pad - p->in_features));
            x8 = row;
        }
        for (int32_t g = 0; g < k_pad; g += 4) {
            const uint32_t v = ek_read32(x8 + g);
            const uint32_t a = ek_sxtb16(v), c = ek_sxtb16_ror8(v);
            xw[g / 2] = ek_sadd16(a, a);
            xw[g / 2 + 1] = ek_sadd16(c, c);
        }
        const uint32_t *w = (const uint32_t *)(const void *)p->weights;
        const int32_t *rq = p->requant;
        for (int32_t n = 0; n < n_out; n += 4, rq += 16) {
            int32_t acc[4] = {rq[0], rq[4], rq[8], rq[12]};
            dot4(&w, xw, k_pad / 2, &acc[0], &acc[1], &acc[2], &acc[3]);
            const int32_t rows = n_out - n < 4 ? n_out - n : 4; /* the last four may be padding */
            for (int32_t j = 0; j < rows; ++j) {
                output[n + j] = clamp_out(p, acc[j], rq + 4 * j);
            }
        }
    }
}

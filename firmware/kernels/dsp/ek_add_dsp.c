#include "ek_add_dsp.h"

#include "ek_dsp.h"

/* Element i's output: both inputs' rescaled values from the tables, summed, doubled (ek_requant2
 * takes the doubled sum), rescaled to the output and saturated. */
EK_INLINE int32_t add_one(const int32_t *t1, const int32_t *t2, int32_t a, int32_t b, int32_t m, int32_t c,
                          int32_t r)
{
    return ek_ssat8(ek_requant2((t1[a] + t2[b]) * 2, m, c, r));
}

void ek_add_dsp_s8(const ek_add_dsp_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    /* locals: int8 stores may alias the parameters, which would otherwise be reloaded */
    const int32_t *t1 = p->table1 + 128, *t2 = p->table2 + 128;
    const int32_t m = p->out_m, c = p->out_c, r = p->out_right, n = p->size;
    const int32_t full = p->act_full, lo = p->act_min, hi = p->act_max;
    int32_t i = 0;
    if (full) { /* four elements per word: both inputs' words read before the output's is written */
        for (; i + 4 <= n; i += 4) {
            const uint32_t a = ek_read32(input1 + i), b = ek_read32(input2 + i);
            const int32_t v0 = add_one(t1, t2, (int8_t)a, (int8_t)b, m, c, r);
            const int32_t v1 = add_one(t1, t2, (int8_t)(a >> 8), (int8_t)(b >> 8), m, c, r);
            const int32_t v2 = add_one(t1, t2, (int8_t)(a >> 16), (int8_t)(b >> 16), m, c, r);
            const int32_t v3 = add_one(t1, t2, (int8_t)(a >> 24), (int8_t)(b >> 24), m, c, r);
            ek_write32(output + i, ((uint32_t)v0 & 0xFFu) | ((uint32_t)v1 & 0xFFu) << 8 |
                                       ((uint32_t)v2 & 0xFFu) << 16 | (uint32_t)v3 << 24);
        }
    }
    for (; i < n; ++i) {
        int32_t v = add_one(t1, t2, input1[i], input2[i], m, c, r);
        if (!full) {
            v = ek_clamp_i32(v, lo, hi);
        }
        output[i] = (int8_t)v;
    }
}

#include "ek_add_dsp.h"

#include "ek_dsp.h"

void ek_add_dsp_s8(const ek_add_dsp_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    /* locals: int8 stores may alias the parameters, which would otherwise be reloaded */
    const int32_t *t1 = p->table1 + 128, *t2 = p->table2 + 128;
    const int32_t m = p->out_m, c = p->out_c, r = p->out_right, n = p->size;
    const int32_t full = p->act_full, lo = p->act_min, hi = p->act_max;
    for (int32_t i = 0; i < n; ++i) {
        int32_t v = ek_ssat8(ek_requant2((t1[input1[i]] + t2[input2[i]]) * 2, m, c, r));
        if (!full) {
            v = ek_clamp_i32(v, lo, hi);
        }
        output[i] = (int8_t)v;
    }
}

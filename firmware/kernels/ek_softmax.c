#include "ek_softmax.h"

#include "ek_common.h"
#include "ek_fixedpoint.h"

#define ACCUM_INTEGER_BITS 12 /* the sum of exps is Q12.19: each Q0.31 exp shifted right by 12 */

void ek_softmax_s8(const ek_softmax_params *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    const int32_t *table = p->exp_table;
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        int32_t max = -128;
        for (int32_t c = 0; c < depth; ++c) {
            max = ek_max_i32(max, in[c]);
        }
        uint32_t sum = 0; /* wraps like TFLM's int32 sum */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t d = max - in[c];
            if (d < p->table_len) {
                sum += (uint32_t)ek_rounding_divide_by_pot(table[d], ACCUM_INTEGER_BITS);
            }
        }
        const int32_t headroom = ek_clz32(sum);
        const int32_t bits_over_unit = ACCUM_INTEGER_BITS - headroom;
        const uint32_t normalized = headroom < 32 ? sum << headroom : 0u; /* in [1, 2) as Q1.31 */
        const int32_t scale = ek_one_over_one_plus_x((int32_t)(normalized - 0x80000000u));
        /* TFLM aborts beyond 31 (a sum of more than 2^9 maximal exps); stay defined */
        const int32_t exponent = ek_min_i32(bits_over_unit + 31 - 8, 31);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t d = max - in[c];
            int32_t y = -128;
            if (d < p->table_len) {
                y = ek_rounding_divide_by_pot(ek_srdhm(scale, table[d]), exponent) - 128;
                y = ek_clamp_i32(y, -128, 127);
            }
            out[c] = (int8_t)y;
        }
    }
}

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

/* leading zero bits of a nonzero x */
static int32_t leading_zeros(uint32_t x)
{
    int32_t n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void ek_softmax_s16(const ek_softmax_s16_params *p, const int16_t *input, int16_t *output)
{
    const int32_t depth = p->depth;
    for (int32_t r = 0; r < p->rows; ++r) {
        const int16_t *x = input + r * depth;
        int16_t *y = output + r * depth;
        int32_t max = INT16_MIN;
        for (int32_t c = 0; c < depth; ++c) {
            max = ek_max_i32(max, x[c]);
        }
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t scaled = ek_requantize(x[c] - max, p->input_multiplier, p->input_shift) + 32767;
            y[c] = ek_lut_s16((int16_t)ek_clamp_i32(scaled, INT16_MIN, INT16_MAX), p->exp_lut);
            sum += y[c];
        }
        const int32_t h = leading_zeros((uint32_t)sum);
        const int32_t shifted = (int32_t)((((int64_t)sum << (h - 1)) + (1 << 13)) >> 14);
        const int32_t centred = ek_clamp_i32(shifted - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX);
        const int64_t recip = ek_lut_s16((int16_t)centred, p->recip_lut);
        const int32_t right = 31 - h;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = (int32_t)(((int64_t)y[c] * recip + ((int64_t)1 << (right - 1))) >> right);
            y[c] = (int16_t)ek_clamp_i32(v, 0, INT16_MAX);
        }
    }
}

#include "ek_softmax.h"

#include "ek_common.h"

#define ACCUM_INTEGER_BITS 12 /* the sum of exps is Q12.19: each Q0.31 exp shifted right by 12 */

static int32_t clz32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? (int32_t)__builtin_clz(x) : 32;
#else
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* x * 2^exponent for exponent in 1..30, saturating (gemmlowp's SaturatingRoundingMultiplyByPOT) */
static int32_t saturating_shl(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* (a + b) / 2 rounded half away from zero */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: gemmlowp's Newton-Raphson division
 * (three iterations in Q2.29 from the 48/17 - 32/17 x starting point). */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    int32_t x = 1515870810 + ek_srdhm(half_denominator, -1010580540);
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = ek_srdhm(half_denominator, x);
        const int32_t one_minus = (1 << 29) - half_denominator_times_x;
        x = x + saturating_shl(ek_srdhm(x, one_minus), 2);
    }
    return saturating_shl(x, 1);
}

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
        const int32_t headroom = clz32(sum);
        const int32_t bits_over_unit = ACCUM_INTEGER_BITS - headroom;
        const uint32_t normalized = headroom < 32 ? sum << headroom : 0u; /* in [1, 2) as Q1.31 */
        const int32_t scale = one_over_one_plus_x((int32_t)(normalized - 0x80000000u));
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

#include "ek_log_softmax.h"

#include "ek_common.h"
#include "ek_fixedpoint.h"

#define INPUT_INTEGER_BITS 5  /* Q5.26: log(sum) and the scaled differences */
#define SUM_INTEGER_BITS 12   /* Q12.19: the sum of exps */
#define LOG_ACCUM_BITS 6      /* INPUT_INTEGER_BITS + 1 of headroom inside the log */
#define OUTPUT_SHIFT (31 - INPUT_INTEGER_BITS - 4) /* Q5.26 to 16/256 steps */

EK_INLINE int32_t saturating_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1, x in Q12.19, result in Q5.26: gemmlowp's
 * log_x_for_x_greater_than_or_equal_to_1. x = 2^z * r with r in [sqrt(1/2), 1) taken two ways
 * (r_a, r_b) and the smaller kept, then log(r) by a rational approximation about sqrt(sqrt(1/2)). */
static int32_t log_q12_to_q5(int32_t x)
{
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t quarter = 1 << (31 - LOG_ACCUM_BITS - 2); /* 1/4 in Q6.25 */

    const int32_t a_headroom_plus_1 = ek_clz32((uint32_t)x);
    const int32_t r_a = ek_saturating_shl(ek_srdhm(ek_saturating_shl(x, a_headroom_plus_1 - 1), sqrt_half), 1);
    const int32_t z_a = saturating_add(
        ek_saturating_shl(SUM_INTEGER_BITS - a_headroom_plus_1, 31 - LOG_ACCUM_BITS), quarter);

    const int32_t b_headroom = ek_clz32((uint32_t)ek_srdhm(x, sqrt_half)) - 1;
    const int32_t r_b = ek_saturating_shl(x, b_headroom);
    const int32_t z_b = saturating_add(
        ek_saturating_shl(SUM_INTEGER_BITS - b_headroom, 31 - LOG_ACCUM_BITS), -quarter);

    const int32_t r = ek_min_i32(r_a, r_b);
    const int32_t z = ek_max_i32(z_a, z_b);
    const int32_t p = ek_rounding_half_sum(r, sqrt_sqrt_half);
    const int32_t q = (r - sqrt_sqrt_half) * 2;
    const int32_t q2 = ek_srdhm(q, q);
    const int32_t num = ek_srdhm(q, r) + ek_srdhm(ek_srdhm(q, q2), alpha_n);
    const int32_t denom_minus_one = ek_srdhm(p, alpha_i + q + ek_srdhm(alpha_d, q2)) + ek_srdhm(alpha_f, q);
    const int32_t recip = ek_one_over_one_plus_x(denom_minus_one);
    const int32_t num_scaled = ek_rounding_divide_by_pot(num, LOG_ACCUM_BITS);
    return ek_saturating_shl(ek_srdhm(z, log_2) + ek_srdhm(num_scaled, recip), LOG_ACCUM_BITS - INPUT_INTEGER_BITS);
}

void ek_log_softmax_s8(const ek_log_softmax_params *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    for (int32_t row = 0; row < p->rows; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max = -128;
        for (int32_t c = 0; c < depth; ++c) {
            max = ek_max_i32(max, in[c]);
        }
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t d = max - in[c];
            if (d < p->table_len) {
                sum += p->exp_table[d];
            }
        }
        const int32_t log_sum = log_q12_to_q5(sum);
        const int32_t adjusted_diff_min = ek_max_i32(
            p->diff_min - 1, ek_requantize(log_sum + INT32_MIN, p->reverse_multiplier, p->reverse_shift));
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t d = max - in[c];
            int32_t y = -128;
            if (-d > adjusted_diff_min) {
                y = ek_clamp_i32(ek_rounding_divide_by_pot(p->diff_table[d] - log_sum, OUTPUT_SHIFT) + 127, -128, 127);
            }
            out[c] = (int8_t)y;
        }
    }
}

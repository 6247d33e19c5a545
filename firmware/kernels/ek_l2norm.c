#include "ek_l2norm.h"

#include "ek_common.h"
#include "ek_fixedpoint.h"

#define L2NORM_OUTPUT_SHIFT 7 /* outputs in 1/128 steps */

/* 1 / sqrt(x) as *multiplier * 2^(*shift - 31), x >= 0 (x <= 1 as 1): TFLite's
 * GetInvSqrtQuantizedMultiplierExp with a left shift out. */
static void inv_sqrt(int32_t x, int32_t *multiplier, int32_t *shift)
{
    if (x <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    int32_t right = 11;
    while (x >= (1 << 29)) {
        x /= 4;
        ++right;
    }
    while (x < (1 << 27)) { /* normalise into [2^27, 2^29) by pairs of bits */
        x *= 4;
        --right;
    }
    const int32_t three_halves = (1 << 28) + (1 << 27); /* Q3.28 */
    const int32_t half_x = ek_rounding_divide_by_pot(x >> 1, 1);
    int32_t y = 1 << 28; /* one */
    for (int32_t i = 0; i < 5; ++i) {
        const int32_t y3 = ek_saturating_shl(ek_srdhm(ek_srdhm(y, y), y), 6);
        y = ek_saturating_shl(ek_srdhm(three_halves, y) - ek_srdhm(half_x, y3), 3);
    }
    y = ek_srdhm(y, 1518500250); /* times sqrt(2) / 2 */
    if (right < 0) {
        y = (int32_t)((uint32_t)y << -right);
        right = 0;
    }
    *multiplier = y;
    *shift = -right;
}

void ek_l2norm_s8(const ek_l2norm_params *p, const int8_t *input, int8_t *output)
{
    const int32_t depth = p->depth;
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = in[c] + p->input_offset;
            sum += v * v;
        }
        int32_t multiplier, shift;
        inv_sqrt(sum, &multiplier, &shift);
        for (int32_t c = 0; c < depth; ++c) {
            out[c] = ek_sat_s8(ek_requantize(in[c] + p->input_offset, multiplier, shift + L2NORM_OUTPUT_SHIFT));
        }
    }
}

#include "ek_sigmoid_s16.h"

/* The input on the table's fixed point. */
static int32_t rescale(const ek_sigmoid_s16_params *p, int16_t q)
{
    const int32_t round = p->input_shift > 0 ? (int32_t)1 << (p->input_shift - 1) : 0;
    return ((int32_t)q * p->input_multiplier + round) >> p->input_shift;
}

/* table[|x| >> frac] interpolated by the low `frac` bits of |x|, in Q0.(16 + frac); `top` beyond
 * the table. */
static uint32_t interpolate(const uint16_t *table, uint32_t a, int32_t frac, uint32_t top)
{
    const uint32_t uh = a >> frac;
    if (uh >= 255) {
        return top;
    }
    const uint32_t ua = table[uh], ub = table[uh + 1];
    return (ua << frac) + (a & ((1u << frac) - 1)) * (ub - ua);
}

void ek_logistic_s16(const ek_sigmoid_s16_params *p, const int16_t *input, int16_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = rescale(p, input[i]);
        const uint32_t a = (uint32_t)(x < 0 ? -x : x);
        uint32_t r = interpolate(p->table, a, 9, 0x7FFFu << 10);
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        output[i] = (int16_t)(r >> 10);
    }
}

void ek_tanh_s16(const ek_sigmoid_s16_params *p, const int16_t *input, int16_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = rescale(p, input[i]);
        const uint32_t a = (uint32_t)(x < 0 ? -x : x);
        int32_t r = (int32_t)interpolate(p->table, a, 8, 0xFFFFu << 8);
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
}

#include "ek_div.h"

#include "ek_broadcast.h"
#include "ek_common.h"
#include "ek_fixedpoint.h"

/* x / 2^exponent rounded half away from zero for exponent in 0..31; beyond, the x86 reading of
 * TFLite's code: the mask (2^exponent - 1 in int32) is all ones and x moves by exponent & 31. */
EK_INLINE int32_t div_rounding_shift(int32_t x, int32_t exponent)
{
    const int32_t mask = exponent >= 32 ? -1 : (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> (exponent & 31)) + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier (shift > 0: a left shift that may wrap, as in C++) */
EK_INLINE int32_t div_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    return div_rounding_shift(ek_srdhm((int32_t)((uint32_t)x << (left & 31)), multiplier), shift > 0 ? 0 : -shift);
}

/* leading sign bits of x, less one (gcc's __builtin_clrsb; 31 for 0 and -1) */
EK_INLINE int32_t div_headroom(int32_t x)
{
    return ek_clz32((uint32_t)(x < 0 ? ~x : x)) - 1;
}

EK_INLINE int8_t div_one(const ek_mul_params *p, int32_t v1, int32_t v2)
{
    if (v2 < 0) {
        v1 = -v1;
        v2 = -v2;
    }
    /* GetReciprocal(v2, 31): v2 normalised to [1, 2) as 1 + f, 1 / (1 + f) in Q0.31 */
    const int32_t lz = ek_clz32((uint32_t)v2);
    const int32_t reciprocal_shift = 31 - lz;
    const int32_t f = (int32_t)(((uint32_t)v2 << (lz & 31)) - 0x80000000u);
    const int32_t reciprocal = ek_one_over_one_plus_x(f);
    const int32_t headroom = div_headroom(v1);
    const int32_t quotient = div_requantize(v1, reciprocal, headroom);
    const int32_t y = div_requantize(quotient, p->output_multiplier, p->output_shift - reciprocal_shift - headroom)
                      + p->output_offset;
    return (int8_t)ek_clamp_i32(y, p->act_min, p->act_max);
}

static void div_row(const void *params, const void *av, int32_t sa, const void *bv, int32_t sb, void *outv,
                    int32_t n)
{
    const ek_mul_params *p = (const ek_mul_params *)params;
    const int8_t *a = (const int8_t *)av, *b = (const int8_t *)bv;
    int8_t *out = (int8_t *)outv;
    for (int32_t i = 0; i < n; ++i) {
        out[i] = div_one(p, a[i * sa] + p->input1_offset, b[i * sb] + p->input2_offset);
    }
}

void ek_div_s8(const ek_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->broadcast) {
        div_row(p, input1, 1, input2, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, output, 1, div_row, p);
    }
}

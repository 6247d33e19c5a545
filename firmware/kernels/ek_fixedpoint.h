/* gemmlowp's fixed-point helpers as TFLM's SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION use them,
 * on raw int32 values (a FixedPoint<int32_t, N> value is raw / 2^(31 - N)). */
#ifndef EK_FIXEDPOINT_H
#define EK_FIXEDPOINT_H

#include <stdint.h>

#include "ek_common.h"

EK_INLINE int32_t ek_clz32(uint32_t x)
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

/* x * 2^exponent for exponent in 0..31, saturating (gemmlowp's SaturatingRoundingMultiplyByPOT) */
EK_INLINE int32_t ek_saturating_shl(int32_t x, int32_t exponent)
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
EK_INLINE int32_t ek_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: gemmlowp's Newton-Raphson division
 * (three iterations in Q2.29 from the 48/17 - 32/17 x starting point). Its sums wrap, as
 * gemmlowp's int32 additions do in the interpreter, for an a outside [0, 1) (DIV by zero). */
EK_INLINE int32_t ek_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = ek_rounding_half_sum(a, INT32_MAX);
    int32_t x = (int32_t)(1515870810u + (uint32_t)ek_srdhm(half_denominator, -1010580540));
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = ek_srdhm(half_denominator, x);
        const int32_t one_minus = (int32_t)((1u << 29) - (uint32_t)half_denominator_times_x);
        x = (int32_t)((uint32_t)x + (uint32_t)ek_saturating_shl(ek_srdhm(x, one_minus), 2));
    }
    return ek_saturating_shl(x, 1);
}

#endif /* EK_FIXEDPOINT_H */

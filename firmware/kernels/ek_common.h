/* edgekit runtime: integer helpers shared by every kernel.
 *
 * The requantization arithmetic is TFLite's, so every kernel variant that uses these helpers
 * produces the same bits as the TFLM reference kernels. All constants (multipliers, shifts,
 * clamp bounds, folded offsets) are computed at generation time; nothing here touches a float.
 */
#ifndef EK_COMMON_H
#define EK_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#if defined(__GNUC__)
#define EK_INLINE static inline __attribute__((always_inline))
#define EK_NOINLINE __attribute__((noinline))
#define EK_ALIGNED(n) __attribute__((aligned(n)))
#else
#define EK_INLINE static inline
#define EK_NOINLINE
#define EK_ALIGNED(n)
#endif

EK_INLINE int32_t ek_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
EK_INLINE int32_t ek_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

EK_INLINE int32_t ek_clamp_i32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* (a * b * 2) >> 32 with rounding, saturating the single overflow case. */
EK_INLINE int32_t ek_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent, rounding half away from zero. */
EK_INLINE int32_t ek_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31): TFLite's MultiplyByQuantizedMultiplier. */
EK_INLINE int32_t ek_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return ek_rounding_divide_by_pot(ek_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* 16x8 requantization of a 64-bit accumulator: TFLM's MultiplyByQuantizedMultiplier(int64_t, ...),
 * the same in its single- and double-rounding builds. The multiplier is reduced to 16 bits
 * and the shift made a right shift at generation time (edgekit/codegen/arith.py,
 * reduced_multiplier): (acc * reduced + 2^(right_shift - 1)) >> right_shift, arithmetic shift,
 * truncated to int32 as TFLM does. |acc| < 2^47 and 8 <= right_shift <= 46. */
EK_INLINE int32_t ek_requantize_s64(int64_t acc, int32_t reduced_multiplier, int32_t right_shift)
{
    const int64_t r = acc * (int64_t)reduced_multiplier + ((int64_t)1 << (right_shift - 1));
    return (int32_t)(r >> right_shift);
}

/* A 16x8 accumulator requantized as TFLM does for its bias type: wide (int64 bias) with the
 * 64-bit rule above; otherwise (int32 bias) the accumulator is an int32 (proved at generation
 * time not to overflow) and takes the 32-bit ek_requantize. */
EK_INLINE int32_t ek_requantize_acc(int64_t acc, int32_t multiplier, int32_t shift, int32_t wide)
{
    return wide ? ek_requantize_s64(acc, multiplier, shift) : ek_requantize((int32_t)acc, multiplier, shift);
}

/* sum of a[i] * b[i], i < n. Blocks of 16 with a fixed trip count, which compilers turn into
 * SIMD (SLP vectorization at -O2) on hosts that have it; a plain loop elsewhere. */
EK_INLINE int32_t ek_dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int32_t s = 0;
        for (int32_t j = 0; j < 16; ++j) {
            s += (int32_t)a[i + j] * (int32_t)b[i + j];
        }
        acc += s;
    }
    for (; i < n; ++i) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return acc;
}

/* sum of a[i] * b[i], i < n, int16 by int8 into 64 bits (the 16x8 kernels' accumulator). */
EK_INLINE int64_t ek_dot_s16_s8(const int16_t *a, const int8_t *b, int32_t n)
{
    int64_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return acc;
}

/* Element i of an int8 (size 1) or int16 (size 2) array: kernels that take either element type
 * call their always-inlined body with a constant size, so each variant compiles to plain loads. */
EK_INLINE int32_t ek_load(const void *a, int32_t i, int32_t size)
{
    return size == 2 ? (int32_t)((const int16_t *)a)[i] : (int32_t)((const int8_t *)a)[i];
}

/* Stores v (already in range) as element i of an int8 or int16 array. */
EK_INLINE void ek_store(void *a, int32_t i, int32_t v, int32_t size)
{
    if (size == 2) {
        ((int16_t *)a)[i] = (int16_t)v;
    } else {
        ((int8_t *)a)[i] = (int8_t)v;
    }
}

/* TFLM's int16 table lookup (LUTLookup): lut has 513 entries (made at generation time as TFLM's
 * LUTPopulate<int16_t>); the high 9 bits of v pick an entry, the low 7 interpolate towards the
 * next, rounding half up. */
EK_INLINE int16_t ek_lut_s16(int16_t v, const int16_t *lut)
{
    const int32_t index = 256 + ((int32_t)v >> 7);
    const int32_t offset = (int32_t)v & 0x7f;
    const int32_t base = lut[index];
    const int32_t slope = (int32_t)lut[index + 1] - base;
    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

/* The copy TRANSPOSE, TILE and STRIDED_SLICE share: output element (i[0], ..., i[rank-1]) of
 * `size` bytes from input index start + sum(i[d] * step[d]), the output written in order, whole
 * rows copied when the innermost step is 1. rank <= EK_WALK_MAX_DIMS. */
#define EK_WALK_MAX_DIMS 10
EK_INLINE void ek_walk_copy(int32_t rank, const int32_t *count, const int32_t *step, int32_t start,
                            const char *input, char *output, int32_t size)
{
    const int32_t last = rank - 1;
    const int32_t row = count[last];
    const int32_t inner_step = step[last];
    int32_t rows = 1;
    int32_t idx[EK_WALK_MAX_DIMS];

    for (int32_t d = 0; d < last; ++d) {
        rows *= count[d];
        idx[d] = 0;
    }
    if (row == 0) {
        return;
    }
    int32_t src = start;
    for (int32_t r = 0; r < rows; ++r) {
        const char *s = input + src * size;
        if (inner_step == 1) {
            memcpy(output, s, (size_t)(row * size));
        } else {
            for (int32_t i = 0; i < row; ++i) {
                ek_store(output, i, ek_load(s, i * inner_step, size), size);
            }
        }
        output += row * size;
        for (int32_t d = last - 1; d >= 0; --d) {  /* odometer over the outer dimensions */
            src += step[d];
            if (++idx[d] < count[d]) {
                break;
            }
            src -= step[d] * count[d];
            idx[d] = 0;
        }
    }
}

EK_INLINE int8_t ek_sat_s8(int32_t x)
{
    return (int8_t)ek_clamp_i32(x, -128, 127);
}

#endif /* EK_COMMON_H */

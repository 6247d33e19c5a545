/* SOFTMAX, int8 in, int8 out (scale 1/256, zero point -128), over the last dimension.
 *
 * TFLM's integer algorithm: exp(beta * scale * (x - row max)) in gemmlowp Q0.31, summed in
 * Q12.19, one fixed-point reciprocal per row, then a rounding shift to the output. The exp
 * depends only on d = max - x (0..255), so it is a table computed at generation time; a
 * difference at or beyond table_len (TFLM's diff_min) contributes nothing and outputs -128. */
#ifndef EK_SOFTMAX_H
#define EK_SOFTMAX_H

#include <stdint.h>

typedef struct {
    int32_t rows;
    int32_t depth;               /* last dimension */
    int32_t table_len;           /* 1..256 */
    const int32_t *exp_table;    /* [table_len], exp of -d in Q0.31 */
} ek_softmax_params;

void ek_softmax_s8(const ek_softmax_params *p, const int8_t *input, int8_t *output);

/* SOFTMAX, int16 in (zero point 0), int16 out (scale 1/32768, zero point 0): TFLM's SoftmaxInt16.
 * Per row: d = x - row max, requantized by (input_multiplier, input_shift) so that [-65535, 0]
 * spans [-10, 0], recentred by +32767 and saturated to int16, looked up in exp_lut (exp on
 * [-10, 0] in Q0.15); the exps are summed in int32 and cached in the output row. The sum is
 * normalised by its leading zeros h (rounded to 16 bits, recentred by -(2^15 + 2^16),
 * saturated) and looked up in recip_lut (1 / (1 + x) on [0, 1]); each output is
 * (exp * recip + 2^(30 - h)) >> (31 - h), clamped to [0, 32767]. Both tables are TFLM's
 * LUTPopulate<int16_t>, computed at generation time (edgekit/codegen/arith.py). No output/input
 * overlap is declared. */
typedef struct {
    int32_t rows;
    int32_t depth;               /* last dimension */
    int32_t input_multiplier;    /* ek_requantize's pair */
    int32_t input_shift;
    const int16_t *exp_lut;      /* [513] */
    const int16_t *recip_lut;    /* [513] */
} ek_softmax_s16_params;

void ek_softmax_s16(const ek_softmax_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_SOFTMAX_H */

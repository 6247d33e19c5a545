/* L2_NORMALIZATION: int8 x / sqrt(sum of x^2) over the last dimension (TFLM's int8 path,
 * reference_integer_ops::L2Normalization).
 *
 * Per row of depth elements: the sum of (x - input zero point)^2 in int32; its inverse square
 * root as a Q31 multiplier and shift (TFLite's GetInvSqrtQuantizedMultiplierExp: five
 * Newton-Raphson steps in gemmlowp's Q3.28); each output is (x - zero point) requantized by it
 * with 7 more bits of left shift, saturated to int8. The output is in 1/128 steps with zero point
 * 0, which TFLM assumes without reading the output's quantization. The row is read whole before
 * its first output is written, then element i is read before output element i is written,
 * ascending: the output may start at or below the input. */
#ifndef EK_L2NORM_H
#define EK_L2NORM_H

#include <stdint.h>

typedef struct {
    int32_t rows;
    int32_t depth;        /* last dimension */
    int32_t input_offset; /* -zero_point */
} ek_l2norm_params;

void ek_l2norm_s8(const ek_l2norm_params *p, const int8_t *input, int8_t *output);

#endif /* EK_L2NORM_H */

/* MEAN and SUM, int8 (or int16: ek_mean_s16, 16x8 models), over any set of axes.
 *
 * The input is seen as kept dimensions (which index the output, in order) and reduced
 * dimensions, each group of up to EK_MEAN_MAX_DIMS collapsed dimensions with element
 * strides, outermost first. Each output is TFLM's QuantizedMeanOrSum:
 * requantize(sum + bias) + output_offset, where bias = -input_zero_point * count and, for MEAN,
 * the multiplier already includes 1 / count (SUM: it does not). */
#ifndef EK_MEAN_H
#define EK_MEAN_H

#include <stdint.h>

#define EK_MEAN_MAX_DIMS 4

typedef struct {
    int32_t kept_dims[EK_MEAN_MAX_DIMS];      /* padded with 1 at the front */
    int32_t kept_strides[EK_MEAN_MAX_DIMS];
    int32_t reduced_dims[EK_MEAN_MAX_DIMS];
    int32_t reduced_strides[EK_MEAN_MAX_DIMS];
    int32_t bias;                             /* -input_zero_point * count */
    int32_t multiplier;
    int32_t shift;
    int32_t output_offset;
} ek_mean_params;

void ek_mean_s8(const ek_mean_params *p, const int8_t *input, int8_t *output);
void ek_mean_s16(const ek_mean_params *p, const int16_t *input, int16_t *output);

#endif /* EK_MEAN_H */

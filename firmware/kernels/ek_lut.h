/* Element-wise int8 operators as a 256-entry lookup table: y = table[(uint8_t)x].
 *
 * LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH, ELU, GELU, RSQRT and int8 -> int8
 * QUANTIZE all run here; the table holds TFLM's result for every input byte (TFLite's for GELU,
 * which TFLM lacks), computed at generation time.
 * May run in place: element i is read before element i is written, in ascending order, so the
 * output may start at or below the input. */
#ifndef EK_LUT_H
#define EK_LUT_H

#include <stdint.h>

typedef struct {
    int32_t size;         /* elements */
    const int8_t *table;  /* [256], indexed by the input byte */
} ek_lut_params;

void ek_lut_s8(const ek_lut_params *p, const int8_t *input, int8_t *output);

/* QUANTIZE between uint8 and int8 (a uint8 model input or output): the same walk; for a uint8
 * output the table holds the result's bits. */
void ek_lut_u8s8(const ek_lut_params *p, const uint8_t *input, int8_t *output);
void ek_lut_s8u8(const ek_lut_params *p, const int8_t *input, uint8_t *output);

#endif /* EK_LUT_H */

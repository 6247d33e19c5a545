/* The float edges of a model: QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32.
 *
 * The only kernels that touch float. QUANTIZE divides by the scale in float32 and rounds half
 * away from zero, as TFLM does (not a multiplication by the reciprocal, which rounds
 * differently); DEQUANTIZE looks its result up in a table computed at generation time, so it
 * does no float arithmetic at all. */
#ifndef EK_QUANTIZE_H
#define EK_QUANTIZE_H

#include <stdint.h>

typedef struct {
    int32_t size;        /* elements */
    float scale;         /* output scale */
    int32_t zero_point;  /* output zero point */
} ek_quantize_params;

typedef struct {
    int32_t size;        /* elements */
    const float *table;  /* [256] real values, indexed by the input byte */
} ek_dequantize_params;

/* y = clamp(round(x / scale) + zero_point). Inputs whose quotient is out of the int8 range
 * saturate; NaN gives -128. May run in place (output at or below the input): element i is
 * read before byte i is written, and byte i lies in a float already read. */
void ek_quantize_f32_s8(const ek_quantize_params *p, const float *input, int8_t *output);

void ek_dequantize_s8_f32(const ek_dequantize_params *p, const int8_t *input, float *output);

#endif /* EK_QUANTIZE_H */

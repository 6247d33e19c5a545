/* The float edges of a model: QUANTIZE float32 -> int8 or int16 and DEQUANTIZE int8 or int16 ->
 * float32; and QUANTIZE between int16 and int8 or int16 (the 16x8 scheme's requantization).
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

/* The same into int16 (16x8 models with float inputs); no overlap declared. */
void ek_quantize_f32_s16(const ek_quantize_params *p, const float *input, int16_t *output);

/* x = scale * (q - zero_point) with p->scale the input scale: TFLM computes it in double, whose
 * product of a float32 scale and a 17-bit integer is exact, then rounds to float; the float32
 * product of the two exact operands rounds the same exact value once: the same float. */
void ek_dequantize_s16_f32(const ek_quantize_params *p, const int16_t *input, float *output);

/* QUANTIZE between integer types (TFLM's Requantize), and the int16 RELU, RELU6 and LEAKY_RELU
 * (16x8 models), which TFLM computes the same way with two slopes and a clamp:
 *   v = x - input_zero_point
 *   y = clamp(requantize(v, v >= 0 ? (multiplier, shift) : (negative_multiplier, negative_shift))
 *             + output_zero_point, act_min, act_max)
 * QUANTIZE and RELU: one slope, clamped to the output type's range (RELU: from its zero);
 * RELU6: the identity (2^30, shift 1: exact), clamped to [zero, six]; LEAKY_RELU: the identity
 * and alpha slopes. Element i is read before output i is written; no overlap is declared. */
typedef struct {
    int32_t size;                 /* elements */
    int32_t multiplier;           /* for v >= 0, as ek_requantize's pair */
    int32_t shift;
    int32_t negative_multiplier;  /* for v < 0 */
    int32_t negative_shift;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t act_min;
    int32_t act_max;
} ek_requant_params;

void ek_requant_s16(const ek_requant_params *p, const int16_t *input, int16_t *output);
void ek_requant_s16_s8(const ek_requant_params *p, const int16_t *input, int8_t *output);
void ek_requant_s8_s16(const ek_requant_params *p, const int8_t *input, int16_t *output);

#endif /* EK_QUANTIZE_H */

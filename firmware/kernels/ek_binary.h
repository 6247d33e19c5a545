/* ADD, SUB, MUL: int8 elementwise with broadcasting; the _s16 variants the same on int16 (16x8:
 * zero points 0, ADD/SUB's left_shift 15 instead of 20, as TFLM's int16 path).
 *
 * The output is walked as a (collapsed) shape of up to EK_BINARY_MAX_DIMS dimensions,
 * outermost first; each input advances by its own element stride per dimension, 0 where it
 * is broadcast. Adjacent dimensions that are contiguous in both inputs were merged at
 * generation time, so [1,H,W,C] + [1,1,1,C] walks as H*W rows of C. Equal shapes take a flat
 * loop (broadcast == 0).
 *
 * ADD/SUB (TFLite's int8 path): both inputs are shifted left by left_shift, rescaled to twice
 * the larger input scale, added or subtracted, and rescaled to the output. MUL multiplies the
 * zero-point-corrected inputs and rescales the product once. */
#ifndef EK_BINARY_H
#define EK_BINARY_H

#include <stdint.h>

#define EK_BINARY_MAX_DIMS 6

typedef struct {
    int32_t broadcast;                       /* 0: equal shapes, flat loop over size */
    int32_t size;                            /* output elements */
    int32_t dims[EK_BINARY_MAX_DIMS];        /* output shape, padded with 1 at the front */
    int32_t in1_strides[EK_BINARY_MAX_DIMS]; /* in elements; 0 where input 1 is broadcast */
    int32_t in2_strides[EK_BINARY_MAX_DIMS];
    int32_t left_shift;
    int32_t input1_offset;                   /* -zero_point */
    int32_t input1_multiplier;
    int32_t input1_shift;                    /* <= 0 */
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} ek_add_params;

typedef struct {
    int32_t broadcast;
    int32_t size;
    int32_t dims[EK_BINARY_MAX_DIMS];
    int32_t in1_strides[EK_BINARY_MAX_DIMS];
    int32_t in2_strides[EK_BINARY_MAX_DIMS];
    int32_t input1_offset;                   /* -zero_point */
    int32_t input2_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} ek_mul_params;

void ek_add_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void ek_sub_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void ek_mul_s8(const ek_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* In place over a full-size input as the _s8 kernels: element i of each input is read before
 * output element i (same width) is written, in ascending order. */
void ek_add_s16(const ek_add_params *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void ek_sub_s16(const ek_add_params *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void ek_mul_s16(const ek_mul_params *p, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* EK_BINARY_H */

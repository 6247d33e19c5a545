/* EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL: int8 inputs, bool output, with
 * broadcasting (TFLite's int8 ComparisonWithScaling and Broadcast4DSlow...WithScaling, as TFLM
 * runs them).
 *
 * Each input, zero-point corrected and shifted left by left_shift (8), is multiplied by its own
 * scale as a multiplier below one (input*_multiplier, input*_shift): the two real values on one
 * fixed-point grid, compared exactly as int32. The output is a C bool per element (one byte,
 * 0 or 1). The walk is ek_broadcast.h's; equal shapes take a flat loop. In place: element i of a
 * full-size input is read before output element i is written, in ascending order, so the output
 * may start where such an input starts. */
#ifndef EK_COMPARE_H
#define EK_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "ek_binary.h"

typedef enum {
    EK_EQUAL = 0,
    EK_NOT_EQUAL = 1,
    EK_GREATER = 2,
    EK_GREATER_EQUAL = 3,
    EK_LESS = 4,
    EK_LESS_EQUAL = 5
} ek_relation;

typedef struct {
    int32_t broadcast;                       /* 0: equal shapes, flat loop over size */
    int32_t size;                            /* output elements */
    int32_t dims[EK_BINARY_MAX_DIMS];        /* output shape, padded with 1 at the front */
    int32_t in1_strides[EK_BINARY_MAX_DIMS]; /* in elements; 0 where input 1 is broadcast */
    int32_t in2_strides[EK_BINARY_MAX_DIMS];
    int32_t relation;                        /* an ek_relation: input 1 RELATION input 2 */
    int32_t left_shift;
    int32_t input1_offset;                   /* -zero_point */
    int32_t input1_multiplier;
    int32_t input1_shift;                    /* <= 0 */
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
} ek_compare_params;

void ek_compare_s8(const ek_compare_params *p, const int8_t *input1, const int8_t *input2, bool *output);

#endif /* EK_COMPARE_H */

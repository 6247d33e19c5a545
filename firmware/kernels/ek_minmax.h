/* MAXIMUM, MINIMUM: int8 (or int16, 16x8: the _s16 variants) elementwise with broadcasting.
 *
 * TFLite computes both on the stored int8 values, with no rescaling (its converter gives both
 * inputs the output's scale and zero point), and so does this kernel. The output is walked as in
 * ek_binary.h: a collapsed shape of EK_BINARY_MAX_DIMS dimensions, outermost first, each input
 * advancing by its own element stride (0 where it is broadcast); equal shapes take a flat loop.
 * In place: element i of a full-size input is read before output element i is written, in
 * ascending order, so the output may start where such an input starts. */
#ifndef EK_MINMAX_H
#define EK_MINMAX_H

#include <stdint.h>

#include "ek_binary.h"

typedef struct {
    int32_t broadcast;                       /* 0: equal shapes, flat loop over size */
    int32_t size;                            /* output elements */
    int32_t dims[EK_BINARY_MAX_DIMS];        /* output shape, padded with 1 at the front */
    int32_t in1_strides[EK_BINARY_MAX_DIMS]; /* in elements; 0 where input 1 is broadcast */
    int32_t in2_strides[EK_BINARY_MAX_DIMS];
} ek_minmax_params;

void ek_maximum_s8(const ek_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void ek_minimum_s8(const ek_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* int16: no overlap declared */
void ek_maximum_s16(const ek_minmax_params *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void ek_minimum_s16(const ek_minmax_params *p, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* EK_MINMAX_H */

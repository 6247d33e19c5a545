/* REDUCE_MAX, REDUCE_MIN: int8, over any set of axes.
 *
 * TFLM compares the stored int8 values (it requires the input and output quantized alike), so
 * each output is the largest (smallest) input element of its reduced set, with no arithmetic.
 * The input is walked as in ek_mean.h: kept dimensions (which index the output, in order) and
 * reduced dimensions, each group of up to EK_MEAN_MAX_DIMS collapsed dimensions with element
 * strides, outermost first.
 * In place: output o is written after every input of its set is read, and the inputs of any
 * later output lie at offsets >= o, so the output may start where the input starts. */
#ifndef EK_REDUCE_H
#define EK_REDUCE_H

#include <stdint.h>

#include "ek_mean.h"

typedef struct {
    int32_t kept_dims[EK_MEAN_MAX_DIMS];      /* padded with 1 at the front */
    int32_t kept_strides[EK_MEAN_MAX_DIMS];
    int32_t reduced_dims[EK_MEAN_MAX_DIMS];
    int32_t reduced_strides[EK_MEAN_MAX_DIMS];
} ek_reduce_params;

void ek_reduce_max_s8(const ek_reduce_params *p, const int8_t *input, int8_t *output);
void ek_reduce_min_s8(const ek_reduce_params *p, const int8_t *input, int8_t *output);

#endif /* EK_REDUCE_H */

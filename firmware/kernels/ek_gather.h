/* GATHER, int8 values, int32 indices, batch_dims 0.
 *
 * The input viewed as [outer][axis_size][inner]: for each of the `outer` index combinations
 * before the axis, and each index k in order, the output receives the `inner` contiguous bytes
 * of input block [o][indices[k]]. An index outside 0..axis_size-1 (TFLM checks it only in debug
 * builds and reads out of bounds otherwise) gives a block of `fill`, the output's zero point.
 * Constant indices were checked at generation time. The output never overlaps the input. */
#ifndef EK_GATHER_H
#define EK_GATHER_H

#include <stdint.h>

typedef struct {
    int32_t outer;        /* product of the input dims before the axis */
    int32_t axis_size;    /* input extent along the axis */
    int32_t inner;        /* bytes per block: product of the input dims after the axis */
    int32_t num_indices;  /* elements of the index tensor */
    int32_t fill;         /* value written for an out-of-range index */
} ek_gather_params;

void ek_gather_s8(const ek_gather_params *p, const int8_t *input, const int32_t *indices, int8_t *output);

#endif /* EK_GATHER_H */

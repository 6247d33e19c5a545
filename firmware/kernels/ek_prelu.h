/* PRELU: int8 x where x >= 0, alpha * x below, alpha an int8 tensor broadcast against x (TFLite's
 * int8 PRELU, reference_ops::BroadcastPrelu4DSlow).
 *
 * With v = x - input zero point: v >= 0 gives v rescaled by input scale / output scale
 * (pos_multiplier, pos_shift); v < 0 gives v * (alpha - alpha zero point) rescaled by
 * input scale * alpha scale / output scale (neg_multiplier, neg_shift); then the output zero
 * point is added and the result saturated to int8. The walk is ek_broadcast.h's (Keras's PReLU
 * gives alpha the input's shape without the batch, or with 1 on its shared axes); equal shapes
 * take a flat loop. In place: element i of the input is read before output element i is written,
 * in ascending order, so the output may start where a full-size input starts. */
#ifndef EK_PRELU_H
#define EK_PRELU_H

#include <stdint.h>

#include "ek_binary.h"

typedef struct {
    int32_t broadcast;                         /* 0: equal shapes, flat loop over size */
    int32_t size;                              /* output elements */
    int32_t dims[EK_BINARY_MAX_DIMS];          /* output shape, padded with 1 at the front */
    int32_t input_strides[EK_BINARY_MAX_DIMS]; /* in elements; 0 where broadcast */
    int32_t alpha_strides[EK_BINARY_MAX_DIMS];
    int32_t input_offset;                      /* -zero_point */
    int32_t alpha_offset;                      /* -zero_point */
    int32_t pos_multiplier;
    int32_t pos_shift;
    int32_t neg_multiplier;
    int32_t neg_shift;
    int32_t output_offset;                     /* +zero_point */
} ek_prelu_params;

void ek_prelu_s8(const ek_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *output);

#endif /* EK_PRELU_H */

/* FULLY_CONNECTED, int8: y = clamp(requantize(W x + b') + output_offset).
 * b' already holds bias + input_offset * sum(W row), folded at generation time. */
#ifndef EK_FULLY_CONNECTED_H
#define EK_FULLY_CONNECTED_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    const int8_t *weights;      /* [out_features][in_features] */
    const int32_t *bias;        /* [out_features], input offset folded in */
    const int32_t *multiplier;  /* [out_features] */
    const int32_t *shift;       /* [out_features] */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} ek_fully_connected_params;

void ek_fully_connected_s8(const ek_fully_connected_params *p, const int8_t *input, int8_t *output);

#endif /* EK_FULLY_CONNECTED_H */

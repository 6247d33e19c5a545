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

/* FULLY_CONNECTED, 16x8: int16 activations, int8 weights (TFLM's reference FullyConnected /
 * FullyConnectedPerChannel for int16 input, which applies both offsets: zero points are 0 but
 * after a 16x8 LSTM):
 *   acc = bias[o] + sum_i x[i] * W[o][i]     (bias holds input_offset * sum(W row), folded)
 *   y   = clamp(ek_requantize_acc(acc, multiplier[o], shift[o], wide) + output_offset, act_min, act_max)
 * `fc` holds the sizes, weights, multiplier, shift, output offset and clamp as for
 * ek_fully_connected_s8; its bias is unused (NULL).
 * wide = 1 (int64 bias, what the converter emits): multiplier and shift are the reduced multiplier
 * and right shift of ek_requantize_s64; wide = 0 (int32 bias): TFLM's (multiplier, shift) pair
 * of ek_requantize, the int32 accumulator proved not to overflow at generation time.
 */
typedef struct {
    ek_fully_connected_params fc;
    const int64_t *bias;  /* [out_features] */
    int32_t wide;
} ek_fully_connected_s16_params;

void ek_fully_connected_s16(const ek_fully_connected_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_FULLY_CONNECTED_H */

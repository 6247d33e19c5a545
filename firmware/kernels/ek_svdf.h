/* SVDF, int8 input and output, int8 feature weights, int16 time weights and state, as TFLM's
 * integer SVDF (svdf_common.cc) computes it.
 *
 * The state holds, per batch row and filter, the last `memory` feature values (int16). Each
 * invoke shifts the whole state one place towards the start, then writes each filter's newest
 * value at its end:
 *   state[f][memory-1] = state_zero_point + clamp16(requantize(sum_k w_feature[f][k] * (x[k] - input_zp)))
 * then per filter the time product  s[f] = sum_m w_time[f][m] * (state[f][m] - state_zero_point),
 * and per unit  y[u] = clamp8(requantize(bias[u] + sum_{r<rank} s[u * rank + r]) + output_zp).
 * (TFLM applies no fused activation on this path, and neither does this kernel.) The two
 * (multiplier, shift) pairs are computed at generation time (codegen/ops/svdf.py).
 *
 * The state is a variable tensor: it persists across invokes; the model's reset function sets
 * it to 0 (TFLM resets int16 variable tensors to 0, not to their zero point). The output never
 * overlaps the input. Scratch: one int32 per filter. */
#ifndef EK_SVDF_H
#define EK_SVDF_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t input_size;
    int32_t filters;   /* units * rank */
    int32_t rank;
    int32_t memory;
    const int8_t *feature_weights; /* [filters][input_size] */
    const int16_t *time_weights;   /* [filters][memory] */
    const int32_t *bias;           /* [units] (zeros when the model has none) */
    int32_t input_zero_point;
    int32_t state_zero_point;
    int32_t output_zero_point;
    int32_t feature_multiplier;    /* input x feature weights -> state scale */
    int32_t feature_shift;
    int32_t output_multiplier;     /* state x time weights -> output scale */
    int32_t output_shift;
} ek_svdf_params;

int32_t ek_svdf_s8_scratch_bytes(int32_t filters);

void ek_svdf_s8(const ek_svdf_params *p, const int8_t *input, int8_t *output, int16_t *state, void *scratch);

#endif /* EK_SVDF_H */

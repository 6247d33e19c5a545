/* FULLY_CONNECTED, int8, on the DSP extension: y = clamp(requant(W x + b')).
 *
 * Each input row is widened once to doubled int16 in scratch (pairs in the order SXTB16
 * unpacks four int8 columns: k0,k2 then k1,k3); then four output rows at a time take, per pair
 * of k, two words of weights (rows r, r+1 and r+2, r+3, stored by the generator in this order)
 * and four dual MACs (SMLAD). The accumulators start at 2 * b' (the input offset folded in at
 * generation time) and are requantized by ek_requant2 (ek_dsp.h), exact with TFLite.
 * Every input row is read completely before any of its outputs is written.
 *
 * ek_fully_connected_lean_dsp_s8 computes the same bits with no scratch, for in_features a
 * multiple of 4 (k_pad == in_features): each group of four output rows widens the input word by
 * word in registers (two SXTB16 per four k, one instruction more per 16 MACs), the accumulators
 * start at b' and are doubled before the requantization (2 (W x + b') is the doubled sum). It
 * reads the input while writing outputs: the output must not overlap the input. The generator
 * takes it where the scratch would raise the arena (``codegen.leaner``).
 */
#ifndef EK_FULLY_CONNECTED_DSP_H
#define EK_FULLY_CONNECTED_DSP_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    int32_t k_pad;             /* in_features rounded up to a multiple of 4 (padding weights 0) */
    int32_t act_full;          /* act_min == -128 and act_max == 127: saturation clamps */
    int32_t act_min;
    int32_t act_max;
    const int8_t *weights;     /* [ceil(out_features / 4)][k_pad / 2][2][4] */
    const int32_t *requant;    /* [4 * ceil(out_features / 4)][4]: 2 * folded bias, multiplier, c, right */
} ek_fully_connected_dsp_params;

/* The scratch ek_fully_connected_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_fully_connected_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad);
void ek_fully_connected_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                               int8_t *scratch);
void ek_fully_connected_lean_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output);

#endif /* EK_FULLY_CONNECTED_DSP_H */

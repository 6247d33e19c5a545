/* FULLY_CONNECTED, int8, on the DSP extension: y = clamp(requant(W x + b')).
 *
 * Each input row is widened once to doubled int16 in scratch (pairs in the order SXTB16
 * unpacks four int8 columns: k0,k2 then k1,k3); then four output rows at a time take, per pair
 * of k, two words of weights (rows r, r+1 and r+2, r+3, stored by the generator in this order)
 * and four dual MACs (SMLAD). The accumulators start at 2 * b' (the input offset folded in at
 * generation time) and are requantized by ek_requant2 (ek_dsp.h), exact with TFLite. With
 * paired set the weights are in the paired layout (ek_gemm4_dsp.h: one SXTB16 per word, 12
 * instructions per 16 MACs instead of 16), which the generator takes where every odd row's sum
 * stays below 2^23 in magnitude (dsp_common.paired_words).
 * Whole blocks of four rows run in one assembly loop (accumulators, k loop, requantization and
 * stores of a block in registers); a last partial block goes through four bytes on the stack, and
 * an activation range narrower than int8 is clamped after the row's outputs are written.
 * Every input row is read completely before any of its outputs is written.
 *
 * ek_fully_connected_lean_dsp_s8 computes the same bits with no scratch, for in_features a
 * multiple of 4 (k_pad == in_features): each group of four output rows widens the input word by
 * word in registers (two SXTB16 per four k, one instruction more per 16 MACs), the accumulators
 * start at b' and are doubled before the requantization (2 (W x + b') is the doubled sum). It
 * reads the input while writing outputs: the output must not overlap the input. The generator
 * takes it where the scratch would raise the arena (``codegen.leaner``).
 *
 * ek_fully_connected_int4_dsp_s8 takes int4 weights (values -8..7), two per byte, with the same
 * parameters and scratch. Per four rows and four k (the doubled input pairs x0 = (k0, k2) and
 * x1 = (k1, k3)) two words: the first holds rows r, r+1, the second rows r+2, r+3; byte j of a
 * word is row r + (j & 1) (+2 in the second) at k = 2 * (j >> 1) (+1), its low nibble the even
 * k, its high nibble the odd one. The nibbles are unpacked in registers at their place in the
 * byte's high half: (word << 4) & 0xF0F0F0F0 and word & 0xF0F0F0F0, whose bytes are 16 times the
 * weights, so one SXTB16 each gives a row's int16 pair 16 w (two AND and four SXTB16 per eight
 * weights, where int8 weights take four SXTB16 and one word load more). The accumulators run at
 * 16 times the doubled sum: they start at 16 * 2 b' and are divided by 16 (exact) before the
 * requantization; the generator takes the kernel only where 32 (W x + b') fits int32.
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
    int32_t paired;            /* int8 weights in the paired layout (ek_gemm4_dsp.h); 0 for int4 */
    const int8_t *weights;     /* [ceil(out_features / 4)][k_pad / 2][2][4]; int4: [ceil(out_features / 4)][k_pad / 4][2][4] */
    const int32_t *requant;    /* [4 * ceil(out_features / 4)][4]: 2 * folded bias (paired, odd rows:
                                  256 times it plus the row below's), multiplier, c, right */
} ek_fully_connected_dsp_params;

/* The scratch ek_fully_connected_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_fully_connected_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad);
void ek_fully_connected_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                               int8_t *scratch);
int32_t ek_fully_connected_int4_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad);
void ek_fully_connected_int4_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                                    int8_t *scratch);
void ek_fully_connected_lean_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output);

#endif /* EK_FULLY_CONNECTED_DSP_H */

/* BATCH_MATMUL, int8 x int8 -> int8, per-tensor quantization, on the DSP extension: the same
 * result as ek_batch_matmul_s8 (ek_batch_matmul.h), which says the arithmetic, the strides and
 * the broadcasting; this header says only how the sums are formed.
 *
 * Per output matrix, the right operand is widened once into scratch: (r + rhs_offset) as int16,
 * four columns interleaved per pair of k ([cols_pad / 4][depth_pad / 2][4 columns] words, each
 * word the pair (k, k+1) of one column; columns past cols and the k past depth are 0). Per
 * output row, the left row is widened likewise ((l + lhs_offset), doubled when doubled = 1), and
 * four columns at a time take one word of the row and four of the columns per pair of k: four
 * dual MACs (SMLAD; on DSP cores an assembly loop over two pairs of k per step, with its C
 * twin). |l + lhs_offset|, |r + rhs_offset| <= 255 (510 doubled) fit int16, and the generator
 * proves the (doubled) sum fits int32, so it equals TFLM's.
 *
 * Requantization: doubled = 1, by ek_requant2 (ek_dsp.h) with the constants rq_multiplier,
 * rq_c, rq_right that the generator checked are exact for every reachable sum; doubled = 0
 * (a multiplier outside that form, dsp_common.requant_table), by ek_requantize with multiplier and shift,
 * as the portable kernel. Then the output offset, saturated to int8 (no fused activation).
 * The output is written in order and never overlaps an operand (both are read again for later
 * outputs).
 */
#ifndef EK_BATCH_MATMUL_DSP_H
#define EK_BATCH_MATMUL_DSP_H

#include <stdint.h>

#include "ek_batch_matmul.h"

typedef struct {
    ek_batch_matmul_params base; /* shapes, strides, offsets, the portable requantization */
    int32_t depth_pad;           /* depth rounded up to a multiple of 4 (pairs of k two by two) */
    int32_t cols_pad;            /* cols rounded up to a multiple of 4 */
    int32_t doubled;             /* 1: the ek_requant2 form below; 0: ek_requantize */
    int32_t rq_multiplier;
    int32_t rq_c;                /* rounding term + (output_offset << rq_right) */
    int32_t rq_right;
} ek_batch_matmul_dsp_params;

/* The scratch ek_batch_matmul_dsp_s8 needs (the generator calls this at generation time): the
 * widened right operand and one widened left row. */
int32_t ek_batch_matmul_dsp_s8_scratch_bytes(int32_t depth_pad, int32_t cols_pad);
void ek_batch_matmul_dsp_s8(const ek_batch_matmul_dsp_params *p, const int8_t *lhs, const int8_t *rhs,
                            int8_t *output, int8_t *scratch);

#endif /* EK_BATCH_MATMUL_DSP_H */

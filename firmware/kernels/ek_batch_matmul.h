/* BATCH_MATMUL, int8 x int8 -> int8 (int16: ek_batch_matmul_s16, below), per-tensor quantization, as TFLM's reference computes it:
 *
 *   y[b][i][j] = clamp(requantize(sum_k (lhs[b][i][k] + lhs_offset) * (rhs[b][k][j] + rhs_offset))
 *                      + output_offset, -128, 127)
 *
 * over up to three batch axes that broadcast (a stride of 0 repeats an operand along one), with
 * either operand read transposed (TFLite's adj_x / adj_y): element (i, k) of the left operand
 * sits at lhs_row_stride * i + lhs_depth_stride * k, element (k, j) of the right one at
 * rhs_depth_stride * k + rhs_col_stride * j. The sum is int32 (the generator proves it fits), so
 * its order does not matter. The output is written in order and never overlaps an operand.
 */
#ifndef EK_BATCH_MATMUL_H
#define EK_BATCH_MATMUL_H

#include <stdint.h>

typedef struct {
    int32_t batch[3];          /* output batch dimensions (1 where absent) */
    int32_t lhs_batch_stride[3];
    int32_t rhs_batch_stride[3];
    int32_t rows;              /* output rows (i) */
    int32_t cols;              /* output columns (j) */
    int32_t depth;             /* summed axis (k) */
    int32_t lhs_row_stride;
    int32_t lhs_depth_stride;
    int32_t rhs_depth_stride;
    int32_t rhs_col_stride;
    int32_t lhs_offset;        /* -lhs zero point */
    int32_t rhs_offset;        /* -rhs zero point */
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;             /* > 0 shifts left */
} ek_batch_matmul_params;

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *output);

/* BATCH_MATMUL, int16 x int16 -> int16 (the 16x8 scheme's BATCH_MATMUL: both operands are
 * activations), as TFLM's int16 path computes it: the same walk, strides and order, the sum in
 * int64 (zero points 0, so lhs_offset, rhs_offset and output_offset are 0) requantized by TFLM's
 * 64-bit rule: multiplier and shift are the reduced multiplier and right shift of
 * ek_requantize_s64; clamped to int16. */
void ek_batch_matmul_s16(const ek_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs, int16_t *output);

#endif /* EK_BATCH_MATMUL_H */

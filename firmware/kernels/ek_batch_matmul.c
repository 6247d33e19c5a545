#include "ek_batch_matmul.h"

#include "ek_common.h"

void ek_batch_matmul_s8(const ek_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *output)
{
    for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_batch_stride[0] + b1 * p->lhs_batch_stride[1]
                                  + b2 * p->lhs_batch_stride[2];
                const int8_t *r = rhs + b0 * p->rhs_batch_stride[0] + b1 * p->rhs_batch_stride[1]
                                  + b2 * p->rhs_batch_stride[2];
                for (int32_t i = 0; i < p->rows; ++i) {
                    const int8_t *row = l + i * p->lhs_row_stride;
                    for (int32_t j = 0; j < p->cols; ++j) {
                        const int8_t *col = r + j * p->rhs_col_stride;
                        int32_t acc = 0;
                        for (int32_t k = 0; k < p->depth; ++k) {
                            acc += ((int32_t)row[k * p->lhs_depth_stride] + p->lhs_offset)
                                   * ((int32_t)col[k * p->rhs_depth_stride] + p->rhs_offset);
                        }
                        acc = ek_requantize(acc, p->multiplier, p->shift) + p->output_offset;
                        *output++ = (int8_t)ek_clamp_i32(acc, -128, 127);
                    }
                }
            }
        }
    }
}

void ek_batch_matmul_s16(const ek_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs, int16_t *output)
{
    for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
                const int16_t *l = lhs + b0 * p->lhs_batch_stride[0] + b1 * p->lhs_batch_stride[1]
                                   + b2 * p->lhs_batch_stride[2];
                const int16_t *r = rhs + b0 * p->rhs_batch_stride[0] + b1 * p->rhs_batch_stride[1]
                                   + b2 * p->rhs_batch_stride[2];
                for (int32_t i = 0; i < p->rows; ++i) {
                    const int16_t *row = l + i * p->lhs_row_stride;
                    for (int32_t j = 0; j < p->cols; ++j) {
                        const int16_t *col = r + j * p->rhs_col_stride;
                        int64_t acc = 0;
                        for (int32_t k = 0; k < p->depth; ++k) {
                            acc += (int32_t)row[k * p->lhs_depth_stride] * (int32_t)col[k * p->rhs_depth_stride];
                        }
                        const int32_t y = ek_requantize_s64(acc, p->multiplier, p->shift);
                        *output++ = (int16_t)ek_clamp_i32(y, -32768, 32767);
                    }
                }
            }
        }
    }
}

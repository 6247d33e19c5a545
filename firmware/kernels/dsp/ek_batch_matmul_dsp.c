#include "ek_batch_matmul_dsp.h"

#include "ek_dsp.h"

int32_t ek_batch_matmul_dsp_s8_scratch_bytes(int32_t depth_pad, int32_t cols_pad)
{
    return 2 * depth_pad * cols_pad + 2 * depth_pad;
}

/* The right operand of one output matrix: [cols_pad / 4][depth_pad / 2][4] words. */
static void widen_rhs(const ek_batch_matmul_dsp_params *p, const int8_t *r, uint32_t *out)
{
    const ek_batch_matmul_params *b = &p->base;
    const int32_t off = b->rhs_offset;
    for (int32_t j0 = 0; j0 < p->cols_pad; j0 += 4) {
        for (int32_t k = 0; k < p->depth_pad; k += 2) {
            for (int32_t j = j0; j < j0 + 4; ++j) {
                int32_t lo = 0, hi = 0;
                if (j < b->cols) {
                    const int8_t *col = r + j * b->rhs_col_stride;
                    lo = (int32_t)col[k * b->rhs_depth_stride] + off;
                    hi = k + 1 < b->depth ? (int32_t)col[(k + 1) * b->rhs_depth_stride] + off : 0;
                }
                *out++ = ek_pack16(lo, hi);
            }
        }
    }
}

/* One left row: [depth_pad / 2] words, (l + lhs_offset) << doubled. */
static void widen_row(const ek_batch_matmul_dsp_params *p, const int8_t *row, uint32_t *out)
{
    const ek_batch_matmul_params *b = &p->base;
    const int32_t off = b->lhs_offset, s = b->lhs_depth_stride, sh = p->doubled;
    int32_t k = 0;
    for (; k + 1 < b->depth; k += 2) {
        *out++ = ek_pack16(((int32_t)row[k * s] + off) * (1 << sh), ((int32_t)row[(k + 1) * s] + off) * (1 << sh));
    }
    if (k < b->depth) {
        *out = ek_pack16(((int32_t)row[k * s] + off) * (1 << sh), 0);
    }
}

/* Four columns against one row over k_pairs pairs of k: x[q] with w[4q .. 4q+3]. */
EK_INLINE void dot4(const uint32_t *x, const uint32_t *w, int32_t k_pairs, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t q = 0; q < k_pairs; ++q, w += 4) {
        const uint32_t xv = x[q];
        a0 = ek_smlad(xv, w[0], a0);
        a1 = ek_smlad(xv, w[1], a1);
        a2 = ek_smlad(xv, w[2], a2);
        a3 = ek_smlad(xv, w[3], a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

EK_INLINE int8_t requant(const ek_batch_matmul_dsp_params *p, int32_t acc)
{
    if (p->doubled) {
        return (int8_t)ek_ssat8(ek_requant2(acc, p->rq_multiplier, p->rq_c, p->rq_right));
    }
    const ek_batch_matmul_params *b = &p->base;
    return (int8_t)ek_clamp_i32(ek_requantize(acc, b->multiplier, b->shift) + b->output_offset, -128, 127);
}

void ek_batch_matmul_dsp_s8(const ek_batch_matmul_dsp_params *p, const int8_t *lhs, const int8_t *rhs,
                            int8_t *output, int8_t *scratch)
{
    const ek_batch_matmul_params *b = &p->base;
    uint32_t *rw = (uint32_t *)(void *)scratch;  /* the widened right operand */
    uint32_t *xw = rw + p->depth_pad / 2 * p->cols_pad; /* one widened left row */
    const int32_t k_pairs = p->depth_pad / 2;
    for (int32_t b0 = 0; b0 < b->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < b->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < b->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * b->lhs_batch_stride[0] + b1 * b->lhs_batch_stride[1]
                                  + b2 * b->lhs_batch_stride[2];
                const int8_t *r = rhs + b0 * b->rhs_batch_stride[0] + b1 * b->rhs_batch_stride[1]
                                  + b2 * b->rhs_batch_stride[2];
                widen_rhs(p, r, rw);
                for (int32_t i = 0; i < b->rows; ++i) {
                    widen_row(p, l + i * b->lhs_row_stride, xw);
                    const uint32_t *w = rw;
                    for (int32_t j = 0; j < b->cols; j += 4, w += 4 * k_pairs) {
                        int32_t acc[4];
                        dot4(xw, w, k_pairs, acc);
                        const int32_t n = b->cols - j < 4 ? b->cols - j : 4; /* the last four may be padding */
                        for (int32_t t = 0; t < n; ++t) {
                            *output++ = requant(p, acc[t]);
                        }
                    }
                }
            }
        }
    }
}

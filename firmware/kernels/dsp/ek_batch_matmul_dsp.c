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
    const int32_t off = b->rhs_offset, ds = b->rhs_depth_stride, k_pairs = p->depth_pad / 2;
    const int32_t full = b->depth / 2; /* pairs of k with both inside depth */
    for (int32_t j = 0; j < p->cols_pad; ++j) {
        uint32_t *o = out + (j / 4) * 4 * k_pairs + j % 4; /* this column's word of each pair */
        int32_t q = 0;
        if (j < b->cols) {
            const int8_t *col = r + j * b->rhs_col_stride;
            for (; q < full; ++q, col += 2 * ds) {
                o[4 * q] = ek_pack16((int32_t)col[0] + off, (int32_t)col[ds] + off);
            }
            if (2 * q < b->depth) {
                o[4 * q++] = ek_pack16((int32_t)col[0] + off, 0);
            }
        }
        for (; q < k_pairs; ++q) {
            o[4 * q] = 0;
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
        *out++ = ek_pack16(((int32_t)row[k * s] + off) * (1 << sh), 0);
        k += 2;
    }
    for (; k < p->depth_pad; k += 2) {
        *out++ = 0;
    }
}

#if EK_DSP_ASM
/* Four columns against one row over k_pairs pairs of k (even, > 0): per two pairs, the row's two
 * words and the columns' eight (LDRD) load, then eight dual MACs. */
static void dot4(const uint32_t *x, const uint32_t *w, int32_t k_pairs, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint32_t *end = x + k_pairs;
    uint32_t x0, x1, w0, w1;
    __asm__ volatile(
        ".p2align 2\n\t"
        "1:\n\t"
        "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
        "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
        "smlad  %[a0], %[x0], %[w0], %[a0]\n\t"
        "smlad  %[a1], %[x0], %[w1], %[a1]\n\t"
        "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
        "smlad  %[a2], %[x0], %[w0], %[a2]\n\t"
        "smlad  %[a3], %[x0], %[w1], %[a3]\n\t"
        "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
        "smlad  %[a0], %[x1], %[w0], %[a0]\n\t"
        "smlad  %[a1], %[x1], %[w1], %[a1]\n\t"
        "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
        "smlad  %[a2], %[x1], %[w0], %[a2]\n\t"
        "smlad  %[a3], %[x1], %[w1], %[a3]\n\t"
        "cmp    %[x], %[end]\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
          [x0] "=&r"(x0), [x1] "=&r"(x1), [w0] "=&r"(w0), [w1] "=&r"(w1)
        : [end] "r"(end)
        : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#else
/* The same computation in C (ek_dsp.h: cores without the extension, -O0, EK_DSP_NO_ASM, the host). */
static void dot4(const uint32_t *x, const uint32_t *w, int32_t k_pairs, int32_t acc[4])
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
#endif

/* The outputs of four columns (n of them real): ek_requant2 when the generator folded the
 * requantization (doubled), else as the portable kernel. */
static int8_t *requant4(const ek_batch_matmul_dsp_params *p, const int32_t acc[4], int32_t n, int8_t *out)
{
    if (p->doubled) {
        const int32_t m = p->rq_multiplier, c = p->rq_c, right = p->rq_right;
        for (int32_t t = 0; t < n; ++t) {
            out[t] = (int8_t)ek_ssat8(ek_requant2(acc[t], m, c, right));
        }
    } else {
        const ek_batch_matmul_params *b = &p->base;
        const int32_t m = b->multiplier, shift = b->shift, offset = b->output_offset;
        for (int32_t t = 0; t < n; ++t) {
            out[t] = (int8_t)ek_clamp_i32(ek_requantize(acc[t], m, shift) + offset, -128, 127);
        }
    }
    return out + n;
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
                        /* the last four may be padding */
                        output = requant4(p, acc, b->cols - j < 4 ? b->cols - j : 4, output);
                    }
                }
            }
        }
    }
}

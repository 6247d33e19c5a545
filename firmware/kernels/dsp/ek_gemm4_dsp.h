/* ek_gemm4_dsp.h -- the inner loop the DSP kernels that multiply int8 weight rows by a widened
 * int8 vector share (fully connected, transpose convolution): four rows at a time.
 *
 * dot4(&w, x, k_pairs, &r0, &r1, &r2, &r3) adds to r0..r3 the products of four weight rows with
 * x over k_pairs pairs of k (an even number): x holds int16 pairs in the order SXTB16 unpacks
 * four int8 columns (k0,k2 then k1,k3), the weights per pair of k two words, rows (r, r+1) and
 * (r+2, r+3) interleaved byte by byte (codegen/ops/dsp_common.gemm_weights with four rows per
 * block); *wp advances past the four rows. Static inline functions of each kernel that includes
 * this header, so each kernel's code is as if it were written there.
 *
 * The paired layout (dsp_common.paired_words; EK_GEMM4_PAIRED_MACS, and dot4_paired in C for
 * builds without the assembly): each 16-bit half of a word is 256 * w[r+1][k] + w[r][k] (a valid
 * int16: no w[r+1][k] == -128 beside a negative w[r][k]), so the half's low byte is w[r][k] and
 * SXTB16 of the word is still row r's pair, while SMLAD on the word as it is adds 256 times row
 * r+1's products plus row r's. r1 (and r3) end holding 256 * (row r+1's sum) + (row r's sum),
 * modulo 2^32: the caller starts them at 256 * start[r+1] + start[r] and takes row r+1's sum as
 * (r1 - r0) >> 8, exact while |row r+1's sum| < 2^23 (the generator's bound). One SXTB16 per
 * word instead of two: 12 instructions per 16 MACs where EK_GEMM4_MACS takes 16.
 */
#ifndef EK_GEMM4_DSP_H
#define EK_GEMM4_DSP_H

#include <stdint.h>

#include "ek_dsp.h"

/* The four weight words of one step: rows (r, r+1) and (r+2, r+3) for two pairs of k. */
#define EK_GEMM4_LOAD_W                               \
    "ldr    %[wa0], [%[w]], #4\n\t"                   \
    "ldr    %[wb0], [%[w]], #4\n\t"                   \
    "ldr    %[wa1], [%[w]], #4\n\t"                   \
    "ldr    %[wb1], [%[w]], #4\n\t"

/* The step's 16 MACs: each weight word widened (SXTB16) against the input pair x0 or x1. */
#define EK_GEMM4_MACS                                 \
    "sxtb16 %[t], %[wa0]\n\t"                         \
    "smlad  %[a0], %[x0], %[t], %[a0]\n\t"            \
    "sxtb16 %[t], %[wa0], ror #8\n\t"                 \
    "smlad  %[a1], %[x0], %[t], %[a1]\n\t"            \
    "sxtb16 %[t], %[wb0]\n\t"                         \
    "smlad  %[a2], %[x0], %[t], %[a2]\n\t"            \
    "sxtb16 %[t], %[wb0], ror #8\n\t"                 \
    "smlad  %[a3], %[x0], %[t], %[a3]\n\t"            \
    "sxtb16 %[t], %[wa1]\n\t"                         \
    "smlad  %[a0], %[x1], %[t], %[a0]\n\t"            \
    "sxtb16 %[t], %[wa1], ror #8\n\t"                 \
    "smlad  %[a1], %[x1], %[t], %[a1]\n\t"            \
    "sxtb16 %[t], %[wb1]\n\t"                         \
    "smlad  %[a2], %[x1], %[t], %[a2]\n\t"            \
    "sxtb16 %[t], %[wb1], ror #8\n\t"                 \
    "smlad  %[a3], %[x1], %[t], %[a3]\n\t"

/* The same 16 MACs on paired words: row r (r+2) from the word widened, 256 * row r+1 + row r
 * (r+3, r+2) from the word as it is. */
#define EK_GEMM4_PAIRED_MACS                          \
    "sxtb16 %[t], %[wa0]\n\t"                         \
    "smlad  %[a0], %[x0], %[t], %[a0]\n\t"            \
    "smlad  %[a1], %[x0], %[wa0], %[a1]\n\t"          \
    "sxtb16 %[t], %[wb0]\n\t"                         \
    "smlad  %[a2], %[x0], %[t], %[a2]\n\t"            \
    "smlad  %[a3], %[x0], %[wb0], %[a3]\n\t"          \
    "sxtb16 %[t], %[wa1]\n\t"                         \
    "smlad  %[a0], %[x1], %[t], %[a0]\n\t"            \
    "smlad  %[a1], %[x1], %[wa1], %[a1]\n\t"          \
    "sxtb16 %[t], %[wb1]\n\t"                         \
    "smlad  %[a2], %[x1], %[t], %[a2]\n\t"            \
    "smlad  %[a3], %[x1], %[wb1], %[a3]\n\t"

#define EK_GEMM4_LOAD_X                               \
    "ldr    %[x0], [%[x]], #4\n\t"                    \
    "ldr    %[x1], [%[x]], #4\n\t"

#define EK_GEMM4_BODY EK_GEMM4_LOAD_W EK_GEMM4_LOAD_X EK_GEMM4_MACS
#define EK_GEMM4_PAIRED_BODY EK_GEMM4_LOAD_W EK_GEMM4_LOAD_X EK_GEMM4_PAIRED_MACS

#if EK_DSP_ASM
/* The loop of a GEMM kernel's steps: four BODY per iteration, entered at the body that leaves a
 * multiple of four (%[t] holds the step count modulo 4), until %[x] reaches %[end]. */
#define EK_GEMM4_LOOP(BODY)                           \
    "cmp    %[t], #2\n\t"                             \
    "beq    3f\n\t"                                   \
    "bhi    2f\n\t"                                   \
    "cmp    %[t], #1\n\t"                             \
    "beq    4f\n\t"                                   \
    "1:\n\t" BODY "2:\n\t" BODY "3:\n\t" BODY "4:\n\t" BODY \
    "cmp    %[x], %[end]\n\t"                         \
    "bne    1b\n\t"

/* Four rows over k_pairs pairs of k (an even number), two pairs per step: per step the six
 * words (two of x, four of weights) load back to back, then the MACs. Written out: the loop uses
 * every allocatable register. */
static inline void dot4(const uint32_t **wp, const uint32_t *x, int32_t k_pairs, int32_t *r0, int32_t *r1,
                        int32_t *r2, int32_t *r3)
{
    int32_t a0 = *r0, a1 = *r1, a2 = *r2, a3 = *r3;
    const uint32_t *w = *wp;
    const uint32_t *end = x + k_pairs;
    const int32_t rem = (k_pairs / 2) & 3;
    uint32_t wa0, wb0, wa1, wb1, x0, x1, t;
    __asm__ volatile("ldr    %[t], %[rem]\n\t" EK_GEMM4_LOOP(EK_GEMM4_BODY)
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
                       [wa0] "=&r"(wa0), [wb0] "=&r"(wb0), [wa1] "=&r"(wa1), [wb1] "=&r"(wb1), [x0] "=&r"(x0),
                       [x1] "=&r"(x1), [t] "=&r"(t)
                     : [end] "r"(end), [rem] "m"(rem)
                     : "cc", "memory");
    *wp = w;
    *r0 = a0;
    *r1 = a1;
    *r2 = a2;
    *r3 = a3;
}
#else
/* One pair of k (the input pair xv) against its two weight words w[0], w[1]: four dual MACs. */
EK_INLINE void gemm4_pair(uint32_t xv, const uint32_t *w, int32_t *r0, int32_t *r1, int32_t *r2, int32_t *r3)
{
    *r0 = ek_smlad(xv, ek_sxtb16(w[0]), *r0);
    *r1 = ek_smlad(xv, ek_sxtb16_ror8(w[0]), *r1);
    *r2 = ek_smlad(xv, ek_sxtb16(w[1]), *r2);
    *r3 = ek_smlad(xv, ek_sxtb16_ror8(w[1]), *r3);
}

/* The same on paired words: row r (r+2) widened, the word as it is into r1 (r3). */
EK_INLINE void gemm4_paired(uint32_t xv, const uint32_t *w, int32_t *r0, int32_t *r1, int32_t *r2, int32_t *r3)
{
    *r0 = ek_smlad(xv, ek_sxtb16(w[0]), *r0);
    *r1 = ek_smlad(xv, w[0], *r1);
    *r2 = ek_smlad(xv, ek_sxtb16(w[1]), *r2);
    *r3 = ek_smlad(xv, w[1], *r3);
}

/* The same computations in C: cores without the DSP extension, builds where EK_DSP_ASM is 0
 * (ek_dsp.h: -O0, EK_DSP_NO_ASM) and the host. */
static inline void dot4(const uint32_t **wp, const uint32_t *x, int32_t k_pairs, int32_t *r0, int32_t *r1,
                        int32_t *r2, int32_t *r3)
{
    const uint32_t *w = *wp;
    for (int32_t q = 0; q < k_pairs; ++q, w += 2) {
        gemm4_pair(x[q], w, r0, r1, r2, r3);
    }
    *wp = w;
}

static inline void dot4_paired(const uint32_t **wp, const uint32_t *x, int32_t k_pairs, int32_t *r0, int32_t *r1,
                               int32_t *r2, int32_t *r3)
{
    const uint32_t *w = *wp;
    for (int32_t q = 0; q < k_pairs; ++q, w += 2) {
        gemm4_paired(x[q], w, r0, r1, r2, r3);
    }
    *wp = w;
}
#endif

#endif /* EK_GEMM4_DSP_H */

#include "ek_fully_connected_dsp.h"

#include <string.h>

#include "ek_dsp.h"
#include "ek_gemm4_dsp.h"

/* An activation range narrower than int8 (rare: compact). */
EK_COLD static int32_t clamp_act(const ek_fully_connected_dsp_params *p, int32_t v)
{
    return ek_clamp_i32(v, p->act_min, p->act_max);
}

/* The same on n outputs already saturated to int8. */
EK_COLD static void clamp_outputs(const ek_fully_connected_dsp_params *p, int8_t *out, int32_t n)
{
    for (int32_t j = 0; j < n; ++j) {
        out[j] = (int8_t)clamp_act(p, out[j]);
    }
}

EK_INLINE int8_t clamp_out(const ek_fully_connected_dsp_params *p, int32_t full, int32_t acc2, const int32_t *rq)
{
    const int32_t v = ek_ssat8(ek_requant2(acc2, rq[1], rq[2], rq[3]));
    return (int8_t)(full ? v : clamp_act(p, v));
}

/* The int4 kernel's outputs of a block of four rows from their doubled sums a0..a3 (rows: how
 * many of the four are real; the last block may hold padding). Written out for a whole block, so
 * that the sums stay in registers. */
EK_INLINE void store4(const ek_fully_connected_dsp_params *p, int32_t full, const int32_t *rq, int8_t *out,
                      int32_t rows, int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    if (rows == 4) {
        out[0] = clamp_out(p, full, a0, rq);
        out[1] = clamp_out(p, full, a1, rq + 4);
        out[2] = clamp_out(p, full, a2, rq + 8);
        out[3] = clamp_out(p, full, a3, rq + 12);
        return;
    }
    const int32_t acc[4] = {a0, a1, a2, a3};
    for (int32_t j = 0; j < rows; ++j) {
        out[j] = clamp_out(p, full, acc[j], rq + 4 * j);
    }
}

/* One step of the lean loop: a word of int8 input (four k) widened in registers into the pairs
 * x0 (k0, k2) and x1 (k1, k3), then the shared four weight words and 16 MACs (ek_gemm4_dsp.h). */
#define EK_FC_LEAN_X                                  \
    "ldr    %[x1], [%[x]], #4\n\t"                    \
    EK_GEMM4_LOAD_W                                   \
    "sxtb16 %[x0], %[x1]\n\t"                         \
    "sxtb16 %[x1], %[x1], ror #8\n\t"

#define EK_FC_LEAN_BODY EK_FC_LEAN_X EK_GEMM4_MACS
#define EK_FC_LEAN_PAIRED_BODY EK_FC_LEAN_X EK_GEMM4_PAIRED_MACS

/* The kernels' four variants (input widened in scratch or in registers, plain or paired weights)
 * share one shape: rows_*(w, x, steps, rq, out, blocks) computes `blocks` blocks of four rows
 * from the weights at w against the input at x (steps steps of 16 MACs: k_pairs / 2 words of
 * widened pairs in scratch, or k / 4 words of int8 input for the lean ones), each block's
 * accumulators starting at its rows' rq[0] (halved for the lean ones, whose sums are doubled
 * at the end) and requantized into out, saturated to int8. */
#if EK_DSP_ASM
/* Requantize accumulator A (ek_requant2 with row terms m, c, right at byte offsets M, C, R of
 * the block's table, in t) and store it at out (in x), saturated to int8. */
#define EK_FC_OUT(A, M, C, R)                         \
    "ldr    %[wa0], [%[t], #" #M "]\n\t"              \
    "ldr    %[wb0], [%[t], #" #C "]\n\t"              \
    "ldr    %[wa1], [%[t], #" #R "]\n\t"              \
    "smmlar %[x0], %[" A "], %[wa0], %[wb0]\n\t"      \
    "add    %[x0], %[x0], %[" A "], asr #31\n\t"      \
    "asr    %[x0], %[x0], %[wa1]\n\t"                 \
    "ssat   %[x0], #8, %[x0]\n\t"                     \
    "strb   %[x0], [%[x]], #1\n\t"

#define EK_FC_HALVE                                   \
    "asr    %[a0], %[a0], #1\n\t"                     \
    "asr    %[a1], %[a1], #1\n\t"                     \
    "asr    %[a2], %[a2], #1\n\t"                     \
    "asr    %[a3], %[a3], #1\n\t"

#define EK_FC_DOUBLE                                  \
    "lsl    %[a0], %[a0], #1\n\t"                     \
    "lsl    %[a1], %[a1], #1\n\t"                     \
    "lsl    %[a2], %[a2], #1\n\t"                     \
    "lsl    %[a3], %[a3], #1\n\t"

/* Rows r+1 and r+3 of paired weights out of their accumulators (ek_gemm4_dsp.h: 256 times the
 * row's sum plus the row below's, modulo 2^32). */
#define EK_FC_UNPAIR                                  \
    "sub    %[a1], %[a1], %[a0]\n\t"                  \
    "asr    %[a1], %[a1], #8\n\t"                     \
    "sub    %[a3], %[a3], %[a2]\n\t"                  \
    "asr    %[a3], %[a3], #8\n\t"

/* rows_* in assembly: per block (label 5) the four starts, x back at its start, the k loop of
 * dot4 (EK_GEMM4_LOOP), FINISH, the four outputs; the block's table and output pointers and the
 * count live in memory between blocks (the k loop takes every allocatable register). STEP_BYTES:
 * the input bytes one step reads. */
#define EK_FC_ROWS_DEFINE(NAME, BODY, STEP_BYTES, START, FINISH)                                                 \
    static void NAME(const uint32_t *w, const void *x_start, int32_t steps, const int32_t *rq, int8_t *out,      \
                     int32_t blocks)                                                                             \
    {                                                                                                            \
        const uint8_t *end = (const uint8_t *)x_start + STEP_BYTES * steps;                                     \
        const int32_t rem = steps & 3;                                                                           \
        const void *x;                                                                                           \
        int32_t a0, a1, a2, a3;                                                                                  \
        uint32_t wa0, wb0, wa1, wb1, x0, x1, t;                                                                  \
        __asm__ volatile("5:\n\t"                                                                                \
                         "ldr    %[t], %[rq]\n\t"                                                                \
                         "ldr    %[a0], [%[t]]\n\t"                                                              \
                         "ldr    %[a1], [%[t], #16]\n\t"                                                         \
                         "ldr    %[a2], [%[t], #32]\n\t"                                                         \
                         "ldr    %[a3], [%[t], #48]\n\t"                                                         \
                         "ldr    %[x], %[x_start]\n\t"                                                           \
                         START                                                                                   \
                         "ldr    %[t], %[rem]\n\t"                                                               \
                         EK_GEMM4_LOOP(BODY)                                                                     \
                         FINISH                                                                                  \
                         "ldr    %[t], %[rq]\n\t"                                                                \
                         "ldr    %[x], %[out]\n\t"                                                               \
                         EK_FC_OUT("a0", 4, 8, 12) EK_FC_OUT("a1", 20, 24, 28)                                   \
                         EK_FC_OUT("a2", 36, 40, 44) EK_FC_OUT("a3", 52, 56, 60)                                 \
                         "add    %[t], %[t], #64\n\t"                                                            \
                         "str    %[t], %[rq]\n\t"                                                                \
                         "str    %[x], %[out]\n\t"                                                               \
                         "ldr    %[t], %[blocks]\n\t"                                                            \
                         "subs   %[t], %[t], #1\n\t"                                                             \
                         "str    %[t], %[blocks]\n\t"                                                            \
                         "bne    5b\n\t"                                                                         \
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [w] "+r"(w),          \
                           [x] "=&r"(x), [wa0] "=&r"(wa0), [wb0] "=&r"(wb0), [wa1] "=&r"(wa1), [wb1] "=&r"(wb1), \
                           [x0] "=&r"(x0), [x1] "=&r"(x1), [t] "=&r"(t), [rq] "+m"(rq), [out] "+m"(out),         \
                           [blocks] "+m"(blocks)                                                                 \
                         : [end] "r"(end), [x_start] "m"(x_start), [rem] "m"(rem)                                \
                         : "cc", "memory");                                                                      \
    }

#if EK_FC_PLAIN_WEIGHTS
EK_FC_ROWS_DEFINE(rows_scratch, EK_GEMM4_BODY, 8, "", "")
EK_FC_ROWS_DEFINE(rows_lean, EK_FC_LEAN_BODY, 4, EK_FC_HALVE, EK_FC_DOUBLE)
#endif
EK_FC_ROWS_DEFINE(rows_scratch_paired, EK_GEMM4_PAIRED_BODY, 8, "", EK_FC_UNPAIR)
EK_FC_ROWS_DEFINE(rows_lean_paired, EK_FC_LEAN_PAIRED_BODY, 4, EK_FC_HALVE, EK_FC_UNPAIR EK_FC_DOUBLE)
#else
/* The same in C: cores without the DSP extension, builds where EK_DSP_ASM is 0 and the host. */
EK_INLINE int32_t unpair(int32_t upper, int32_t lower)
{
    return (int32_t)((uint32_t)upper - (uint32_t)lower) >> 8;
}

EK_INLINE int8_t out1(int32_t acc2, const int32_t *rq)
{
    return (int8_t)ek_ssat8(ek_requant2(acc2, rq[1], rq[2], rq[3]));
}

static void rows_c(const uint32_t *w, const void *x, int32_t steps, const int32_t *rq, int8_t *out,
                   int32_t blocks, int32_t lean, int32_t paired)
{
    for (; blocks > 0; --blocks, rq += 16, out += 4) {
        int32_t a[4] = {rq[0], rq[4], rq[8], rq[12]};
        if (lean) {
            const int8_t *x8 = (const int8_t *)x;
            for (int32_t j = 0; j < 4; ++j) {
                a[j] /= 2; /* even */
            }
            for (int32_t q = 0; q < steps; ++q, w += 4) {
                const uint32_t v = ek_read32(x8 + 4 * q);
                if (paired) {
                    gemm4_paired(ek_sxtb16(v), w, &a[0], &a[1], &a[2], &a[3]);
                    gemm4_paired(ek_sxtb16_ror8(v), w + 2, &a[0], &a[1], &a[2], &a[3]);
                } else {
                    gemm4_pair(ek_sxtb16(v), w, &a[0], &a[1], &a[2], &a[3]);
                    gemm4_pair(ek_sxtb16_ror8(v), w + 2, &a[0], &a[1], &a[2], &a[3]);
                }
            }
        } else if (paired) {
            dot4_paired(&w, (const uint32_t *)x, 2 * steps, &a[0], &a[1], &a[2], &a[3]);
        } else {
            dot4(&w, (const uint32_t *)x, 2 * steps, &a[0], &a[1], &a[2], &a[3]);
        }
        if (paired) {
            a[1] = unpair(a[1], a[0]);
            a[3] = unpair(a[3], a[2]);
        }
        for (int32_t j = 0; j < 4; ++j) {
            out[j] = out1(lean ? 2 * a[j] : a[j], rq + 4 * j);
        }
    }
}

/* rows_* in C: rows_c with the variant's two flags. */
#define EK_FC_ROWS_C(NAME, LEAN, PAIRED)                                                                         \
    static void NAME(const uint32_t *w, const void *x, int32_t steps, const int32_t *rq, int8_t *out,            \
                     int32_t blocks)                                                                             \
    {                                                                                                            \
        rows_c(w, x, steps, rq, out, blocks, LEAN, PAIRED);                                                      \
    }

#if EK_FC_PLAIN_WEIGHTS
EK_FC_ROWS_C(rows_scratch, 0, 0)
EK_FC_ROWS_C(rows_lean, 1, 0)
#endif
EK_FC_ROWS_C(rows_scratch_paired, 0, 1)
EK_FC_ROWS_C(rows_lean_paired, 1, 1)
#endif

typedef void rows_fn(const uint32_t *w, const void *x, int32_t steps, const int32_t *rq, int8_t *out,
                     int32_t blocks);

/* A batch row's n_out outputs by ROWS: the whole blocks of four straight into output, a last
 * partial block (its padding rows' outputs too) through a word on the stack; then, for an
 * activation range narrower than int8, the clamp (the saturated int8 values clamp the same). */
static void all_rows(const ek_fully_connected_dsp_params *p, rows_fn *rows, const void *x, int32_t steps,
                     int8_t *output)
{
    const int32_t n_out = p->out_features;
    const int32_t whole = n_out / 4, left = n_out % 4;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    if (whole > 0) {
        rows(w, x, steps, p->requant, output, whole);
    }
    if (left > 0) {
        int8_t last[4];
        rows(w + whole * p->k_pad, x, steps, p->requant + 16 * whole, last, 1);
        memcpy(output + 4 * whole, last, (size_t)left);
    }
    if (!p->act_full) {
        clamp_outputs(p, output, n_out);
    }
}

/* One word of int4 weights against one pair of doubled inputs X: the low nibbles (rows A, B)
 * into the accumulators A0, A1 with X = x0, the high nibbles with x1 (see the header). */
#define EK_FC4_WORD(W, A0, A1)                        \
    "and    %[t], %[m], %[" W "], lsl #4\n\t"         \
    "sxtb16 %[u], %[t]\n\t"                           \
    "smlad  %[" A0 "], %[x0], %[u], %[" A0 "]\n\t"    \
    "sxtb16 %[u], %[t], ror #8\n\t"                   \
    "smlad  %[" A1 "], %[x0], %[u], %[" A1 "]\n\t"    \
    "and    %[t], %[" W "], %[m]\n\t"                 \
    "sxtb16 %[u], %[t]\n\t"                           \
    "smlad  %[" A0 "], %[x1], %[u], %[" A0 "]\n\t"    \
    "sxtb16 %[u], %[t], ror #8\n\t"                   \
    "smlad  %[" A1 "], %[x1], %[u], %[" A1 "]\n\t"

#define EK_FC4_BODY                                   \
    "ldr    %[wa], [%[w]], #4\n\t"                    \
    "ldr    %[wb], [%[w]], #4\n\t"                    \
    "ldr    %[x0], [%[x]], #4\n\t"                    \
    "ldr    %[x1], [%[x]], #4\n\t"                    \
    EK_FC4_WORD("wa", "a0", "a1")                     \
    EK_FC4_WORD("wb", "a2", "a3")

#if EK_DSP_ASM
/* Four rows over k_quads groups of four k (two words of weights and two of doubled input each),
 * two groups per iteration (an odd count enters at the second), as dot4. */
static void dot4_int4(const uint32_t **wp, const uint32_t *x, int32_t k_quads, int32_t *r0, int32_t *r1,
                      int32_t *r2, int32_t *r3)
{
    int32_t a0 = *r0, a1 = *r1, a2 = *r2, a3 = *r3;
    const uint32_t *w = *wp;
    const uint32_t *end = x + 2 * k_quads;
    const int32_t odd = k_quads & 1;
    const uint32_t m = 0xF0F0F0F0u;
    uint32_t wa, wb, x0, x1, t, u;
    __asm__ volatile(
        "ldr    %[t], %[odd]\n\t"
        "cmp    %[t], #0\n\t"
        "bne    2f\n\t"
        ".p2align 2\n\t"
        "1:\n\t"
        EK_FC4_BODY
        "2:\n\t"
        EK_FC4_BODY
        "cmp    %[x], %[end]\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
          [wa] "=&r"(wa), [wb] "=&r"(wb), [x0] "=&r"(x0), [x1] "=&r"(x1), [t] "=&r"(t), [u] "=&r"(u)
        : [end] "r"(end), [m] "r"(m), [odd] "m"(odd)
        : "cc", "memory");
    *wp = w;
    *r0 = a0;
    *r1 = a1;
    *r2 = a2;
    *r3 = a3;
}
#else
/* The same computation in C: the nibbles moved to the high half of their byte, 16 w per byte. */
static void dot4_int4(const uint32_t **wp, const uint32_t *x, int32_t k_quads, int32_t *r0, int32_t *r1,
                      int32_t *r2, int32_t *r3)
{
    const uint32_t *w = *wp;
    for (int32_t q = 0; q < k_quads; ++q, w += 2, x += 2) {
        const uint32_t x0 = x[0], x1 = x[1];
        const uint32_t alo = (w[0] << 4) & 0xF0F0F0F0u, ahi = w[0] & 0xF0F0F0F0u;
        const uint32_t blo = (w[1] << 4) & 0xF0F0F0F0u, bhi = w[1] & 0xF0F0F0F0u;
        *r0 = ek_smlad(x0, ek_sxtb16(alo), *r0);
        *r1 = ek_smlad(x0, ek_sxtb16_ror8(alo), *r1);
        *r0 = ek_smlad(x1, ek_sxtb16(ahi), *r0);
        *r1 = ek_smlad(x1, ek_sxtb16_ror8(ahi), *r1);
        *r2 = ek_smlad(x0, ek_sxtb16(blo), *r2);
        *r3 = ek_smlad(x0, ek_sxtb16_ror8(blo), *r3);
        *r2 = ek_smlad(x1, ek_sxtb16(bhi), *r2);
        *r3 = ek_smlad(x1, ek_sxtb16_ror8(bhi), *r3);
    }
    *wp = w;
}
#endif

/* Scratch: the input row widened to doubled int16 pairs (2 * k_pad bytes), plus the row padded to
 * k_pad when in_features is not a multiple of 4. */
int32_t ek_fully_connected_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad)
{
    return 2 * k_pad + (k_pad != in_features ? k_pad : 0);
}

/* The input row widened to doubled int16 pairs in scratch (padded to k_pad with zeros first when
 * in_features is not a multiple of 4): what ek_fully_connected_dsp_s8 and the int4 kernel read. */
EK_INLINE const uint32_t *widen_row(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *scratch)
{
    const int32_t k_pad = p->k_pad;
    uint32_t *xw = (uint32_t *)(void *)scratch;
    int8_t *row = scratch + 2 * k_pad;
    const int8_t *x8 = input;
    if (k_pad != p->in_features) {
        memcpy(row, input, (size_t)p->in_features);
        memset(row + p->in_features, 0, (size_t)(k_pad - p->in_features));
        x8 = row;
    }
    for (int32_t g = 0; g < k_pad; g += 4) {
        const uint32_t v = ek_read32(x8 + g);
        const uint32_t a = ek_sxtb16(v), c = ek_sxtb16_ror8(v);
        xw[g / 2] = ek_sadd16(a, a);
        xw[g / 2 + 1] = ek_sadd16(c, c);
    }
    return xw;
}

void ek_fully_connected_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                               int8_t *scratch)
{
#if EK_FC_PLAIN_WEIGHTS
    rows_fn *rows = p->paired ? rows_scratch_paired : rows_scratch;
#else
    rows_fn *rows = rows_scratch_paired; /* the generator proved every call paired */
#endif
    for (int32_t b = 0; b < p->batches; ++b, input += p->in_features, output += p->out_features) {
        all_rows(p, rows, widen_row(p, input, scratch), p->k_pad / 4, output);
    }
}

/* The same scratch as ek_fully_connected_dsp_s8. */
int32_t ek_fully_connected_int4_dsp_s8_scratch_bytes(int32_t in_features, int32_t k_pad)
{
    return ek_fully_connected_dsp_s8_scratch_bytes(in_features, k_pad);
}

void ek_fully_connected_int4_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output,
                                    int8_t *scratch)
{
    const int32_t n_out = p->out_features;
    const int32_t full = p->act_full;
    for (int32_t b = 0; b < p->batches; ++b, input += p->in_features, output += n_out) {
        const uint32_t *xw = widen_row(p, input, scratch);
        const uint32_t *w = (const uint32_t *)(const void *)p->weights;
        const int32_t *rq = p->requant;
        for (int32_t n = 0; n < n_out; n += 4, rq += 16) {
            /* 16 times the doubled sum; the generator proved 16 * 2 (W x + b') fits int32 */
            int32_t a0 = 16 * rq[0], a1 = 16 * rq[4], a2 = 16 * rq[8], a3 = 16 * rq[12];
            dot4_int4(&w, xw, p->k_pad / 4, &a0, &a1, &a2, &a3);
            /* exact: multiples of 16 */
            store4(p, full, rq, output + n, n_out - n < 4 ? n_out - n : 4, a0 / 16, a1 / 16, a2 / 16, a3 / 16);
        }
    }
}

void ek_fully_connected_lean_dsp_s8(const ek_fully_connected_dsp_params *p, const int8_t *input, int8_t *output)
{
    const int32_t k = p->in_features; /* == k_pad: a multiple of 4 */
#if EK_FC_PLAIN_WEIGHTS
    rows_fn *rows = p->paired ? rows_lean_paired : rows_lean;
#else
    rows_fn *rows = rows_lean_paired; /* the generator proved every call paired */
#endif
    for (int32_t b = 0; b < p->batches; ++b, input += k, output += p->out_features) {
        all_rows(p, rows, input, k / 4, output);
    }
}

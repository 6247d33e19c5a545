#include "ek_depthwise_rows_dsp.h"

#include <string.h>

#include "ek_dsp.h"

#if EK_HAVE_DSP
#define ek_smlabt(a, b, acc) __smlabt((a), (b), (acc))
#define ek_smlatb(a, b, acc) __smlatb((a), (b), (acc))
#else
EK_INLINE int32_t ek_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)(ek_lo16(a) * ek_hi16(b)) + (uint32_t)acc);
}

EK_INLINE int32_t ek_smlatb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)(ek_hi16(a) * ek_lo16(b)) + (uint32_t)acc);
}
#endif

/* Input row iy of channels c0 .. c0 + g - 1 into its ring slot: one int16 plane row per channel,
 * padding columns = zero point. With g a multiple of 4, pixels go in pairs: the two pixels' words
 * of four channels unpack (SXTB16) and pack (PKHBT/PKHTB) into one word per channel, (pixel ix,
 * pixel ix + 1), stored at an even plane index. */
static void widen_row(const ek_depthwise_rows_params *p, const int8_t *input, int32_t iy, int16_t *slot,
                      int32_t c0, int32_t g)
{
    const int32_t ch = p->channels, w = p->input_w, len = p->row_len, pl = p->pad_left;
    const int16_t zp = (int16_t)p->pad_value;
    /* bytes between neighbouring pixels of a row, and between rows (transposed: a column) */
    const int32_t col = p->transposed ? p->input_h * ch : ch;
    const int8_t *src = input + iy * (p->transposed ? ch : w * ch) + c0;
    for (int32_t c = 0; c < g; ++c) {
        int16_t *dst = slot + c * len;
        for (int32_t j = 0; j < pl; ++j) {
            dst[j] = zp;
        }
        for (int32_t j = pl + w; j < len; ++j) {
            dst[j] = zp;
        }
    }
    int32_t ix = 0;
    if (g % 4 == 0) {
        if (pl % 2 != 0) { /* the first pixel alone, so pairs start at an even plane index */
            for (int32_t c = 0; c < g; ++c) {
                slot[c * len + pl] = src[c];
            }
            ix = 1;
        }
        for (; ix + 1 < w; ix += 2) {
            const int8_t *a = src + ix * col;
            uint32_t *dst = (uint32_t *)(void *)(slot + pl + ix);
            const int32_t words = len / 2; /* one channel's plane row, in words */
            for (int32_t c = 0; c < g; c += 4, a += 4, dst += 4 * words) {
                const uint32_t va = ek_read32(a), vb = ek_read32(a + col);
                const uint32_t a02 = ek_sxtb16(va), a13 = ek_sxtb16_ror8(va);
                const uint32_t b02 = ek_sxtb16(vb), b13 = ek_sxtb16_ror8(vb);
                dst[0] = (a02 & 0xFFFFu) | (b02 << 16);             /* channel c */
                dst[words] = (a13 & 0xFFFFu) | (b13 << 16);         /* c + 1 */
                dst[2 * words] = (a02 >> 16) | (b02 & 0xFFFF0000u); /* c + 2 */
                dst[3 * words] = (a13 >> 16) | (b13 & 0xFFFF0000u); /* c + 3 */
            }
        }
    }
    for (; ix < w; ++ix) {
        int16_t *dst = slot + pl + ix;
        const int8_t *a = src + ix * col;
        for (int32_t c = 0; c < g; ++c, dst += len) {
            *dst = a[c];
        }
    }
}

/* One filter row of four outputs, stride 1: x -> the row's words from the block's first tap. */
#define EK_ROW_S1(x, wp)                                                  \
    do {                                                                  \
        const uint32_t x01_ = (x)[0], x23_ = (x)[1], x45_ = (x)[2];       \
        const uint32_t w01_ = (wp)[0], w12_ = (wp)[1];                    \
        a0 = ek_smlabt(x23_, w12_, ek_smlad(x01_, w01_, a0));             \
        a1 = ek_smlad(x23_, w12_, ek_smlatb(x01_, w01_, a1));             \
        a2 = ek_smlabt(x45_, w12_, ek_smlad(x23_, w01_, a2));             \
        a3 = ek_smlad(x45_, w12_, ek_smlatb(x23_, w01_, a3));             \
    } while (0)

/* The same, stride 2: output j reads words j and j + 1 (its first two taps, then the third). */
#define EK_ROW_S2(x, wp)                                                  \
    do {                                                                  \
        const uint32_t x01_ = (x)[0], x23_ = (x)[1], x45_ = (x)[2];       \
        const uint32_t x67_ = (x)[3], x89_ = (x)[4];                      \
        const uint32_t w01_ = (wp)[0], w12_ = (wp)[1];                    \
        a0 = ek_smlabt(x23_, w12_, ek_smlad(x01_, w01_, a0));             \
        a1 = ek_smlabt(x45_, w12_, ek_smlad(x23_, w01_, a1));             \
        a2 = ek_smlabt(x67_, w12_, ek_smlad(x45_, w01_, a2));             \
        a3 = ek_smlabt(x89_, w12_, ek_smlad(x67_, w01_, a3));             \
    } while (0)

/* What the block loop needs besides registers, per output row (asm memory operands). */
typedef struct {
    int32_t adv[3];  /* bytes added to each row pointer after a channel (next plane, minus the blocks) */
    int32_t out_adv; /* bytes added to the output pointer after a channel: 1 - blocks * 4 * channels */
    int32_t blocks;  /* blocks of four outputs per channel */
    int32_t left;    /* blocks left in the current channel */
    uintptr_t w_end; /* the weights after the last channel */
} ek_dw_row;

/* One channel's words: 3 filter rows x (w0, w1), (w1, w2) doubled int16 pairs, then 2 * bias,
 * multiplier, c, right (ek_depthwise_rows_params.weights). */
#define EK_DW_WORDS 10

#if EK_HAVE_DSP
/* One filter row of a stride-1 block: words X01 X23 (then X45 into x01's register) and the
 * row's weight pairs; eight halfword/dual MACs. */
#define EK_ASM_ROW_S1(R, W01, W12)                          \
    "ldr    %[x01], [%[" R "]], #8\n\t"                     \
    "ldr    %[x23], [%[" R "], #-4]\n\t"                    \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                   \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                   \
    "smlad  %[a0], %[x01], %[w01], %[a0]\n\t"               \
    "smlatb %[a1], %[x01], %[w01], %[a1]\n\t"               \
    "ldr    %[x01], [%[" R "]]\n\t"                         \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"               \
    "smlad  %[a1], %[x23], %[w12], %[a1]\n\t"               \
    "smlad  %[a2], %[x23], %[w01], %[a2]\n\t"               \
    "smlatb %[a3], %[x23], %[w01], %[a3]\n\t"               \
    "smlabt %[a2], %[x01], %[w12], %[a2]\n\t"               \
    "smlad  %[a3], %[x01], %[w12], %[a3]\n\t"

/* The same for stride 2: output j reads words j (two taps) and j + 1 (its low tap). */
#define EK_ASM_ROW_S2(R, W01, W12)                          \
    "ldr    %[x01], [%[" R "]], #16\n\t"                    \
    "ldr    %[x23], [%[" R "], #-12]\n\t"                   \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                   \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                   \
    "smlad  %[a0], %[x01], %[w01], %[a0]\n\t"               \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"               \
    "smlad  %[a1], %[x23], %[w01], %[a1]\n\t"               \
    "ldr    %[x01], [%[" R "], #-8]\n\t"                    \
    "smlabt %[a1], %[x01], %[w12], %[a1]\n\t"               \
    "smlad  %[a2], %[x01], %[w01], %[a2]\n\t"               \
    "ldr    %[x23], [%[" R "], #-4]\n\t"                    \
    "smlabt %[a2], %[x23], %[w12], %[a2]\n\t"               \
    "smlad  %[a3], %[x23], %[w01], %[a3]\n\t"               \
    "ldr    %[x01], [%[" R "]]\n\t"                         \
    "smlabt %[a3], %[x01], %[w12], %[a3]\n\t"

/* Requantize accumulator A (ek_requant2: SMMLAR, sign fix, shift), saturate, store, step. */
#define EK_ASM_OUT(A)                                       \
    "smmlar %[x01], %[" A "], %[w01], %[w12]\n\t"           \
    "add    %[x01], %[x01], %[" A "], asr #31\n\t"          \
    "asr    %[x01], %[x01], %[x23]\n\t"                     \
    "ssat   %[x01], #8, %[x01]\n\t"                         \
    "strb   %[x01], [%[out]]\n\t"                           \
    "add    %[out], %[out], %[ch]\n\t"

/* Every channel's blocks of one output row (saturated to int8). The loops use every
 * allocatable register, so they are written out; blocks_c is the same computation in C. */
#define EK_ASM_ROW(ROW)                                                                             \
    __asm__ volatile("2:\n\t"                                                                       \
                     "ldr    %[x01], %[blocks]\n\t"                                                 \
                     "str    %[x01], %[left]\n\t"                                                   \
                     "1:\n\t"                                                                       \
                     "ldr    %[a0], [%[w], #24]\n\t"                                                \
                     "mov    %[a1], %[a0]\n\t"                                                      \
                     "mov    %[a2], %[a0]\n\t"                                                      \
                     "mov    %[a3], %[a0]\n\t"                                                      \
                     ROW("r0", "0", "4") ROW("r1", "8", "12") ROW("r2", "16", "20")                 \
                     "ldr    %[w01], [%[w], #28]\n\t"                                               \
                     "ldr    %[w12], [%[w], #32]\n\t"                                               \
                     "ldr    %[x23], [%[w], #36]\n\t"                                               \
                     EK_ASM_OUT("a0") EK_ASM_OUT("a1") EK_ASM_OUT("a2") EK_ASM_OUT("a3")            \
                     "ldr    %[x01], %[left]\n\t"                                                   \
                     "subs   %[x01], %[x01], #1\n\t"                                                \
                     "str    %[x01], %[left]\n\t"                                                   \
                     "bne    1b\n\t"                                                                \
                     "ldr    %[x01], %[adv0]\n\t"                                                   \
                     "add    %[r0], %[r0], %[x01]\n\t"                                              \
                     "ldr    %[x01], %[adv1]\n\t"                                                   \
                     "add    %[r1], %[r1], %[x01]\n\t"                                              \
                     "ldr    %[x01], %[adv2]\n\t"                                                   \
                     "add    %[r2], %[r2], %[x01]\n\t"                                              \
                     "ldr    %[x01], %[out_adv]\n\t"                                                \
                     "add    %[out], %[out], %[x01]\n\t"                                            \
                     "add    %[w], %[w], #40\n\t"                                                   \
                     "ldr    %[x01], %[w_end]\n\t"                                                  \
                     "cmp    %[w], %[x01]\n\t"                                                      \
                     "bne    2b\n\t"                                                                \
                     : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [out] "+r"(out), [w] "+r"(w),     \
                       [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),              \
                       [x01] "=&r"(x01), [x23] "=&r"(x23), [w01] "=&r"(w01), [w12] "=&r"(w12),      \
                       [left] "=m"(row->left)                                                       \
                     : [ch] "r"(ch), [blocks] "m"(row->blocks), [adv0] "m"(row->adv[0]),            \
                       [adv1] "m"(row->adv[1]), [adv2] "m"(row->adv[2]), [out_adv] "m"(row->out_adv), \
                       [w_end] "m"(row->w_end)                                                      \
                     : "cc", "memory")

static void row_asm(const uint32_t *r0, const uint32_t *r1, const uint32_t *r2, const uint32_t *w, ek_dw_row *row,
                    int8_t *out, int32_t ch, int32_t stride)
{
    int32_t a0, a1, a2, a3;
    uint32_t x01, x23, w01, w12;
    if (stride == 1) {
        EK_ASM_ROW(EK_ASM_ROW_S1);
    } else {
        EK_ASM_ROW(EK_ASM_ROW_S2);
    }
}
#endif

#if !EK_HAVE_DSP
/* One channel's blocks of four outputs (stride ch between outputs): the computation of the
 * assembly loops in C, for cores without the DSP extension and the host. */
static void blocks_c(const ek_depthwise_rows_params *p, const uint32_t *const r[3], const uint32_t *w,
                             int8_t *out, int32_t ch, int32_t blocks)
{
    const int32_t step = 2 * p->stride_w; /* words per block */
    const int32_t *rq = (const int32_t *)(const void *)(w + 6);
    for (int32_t b = 0; b < blocks; ++b, out += 4 * ch) {
        int32_t a[4] = {rq[0], rq[0], rq[0], rq[0]};
        for (int32_t k = 0; k < 3; ++k) {
            const int16_t *h = (const int16_t *)(const void *)(r[k] + b * step);
            const uint32_t w01 = w[2 * k], w12 = w[2 * k + 1];
            for (int32_t j = 0; j < 4; ++j) {
                const int32_t i = p->stride_w * j; /* output j's taps: h[i], h[i + 1], h[i + 2] */
                a[j] += h[i] * ek_lo16(w01) + h[i + 1] * ek_hi16(w01) + h[i + 2] * ek_hi16(w12);
            }
        }
        for (int32_t j = 0; j < 4; ++j) {
            out[j * ch] = (int8_t)ek_ssat8(ek_requant2(a[j], rq[1], rq[2], rq[3]));
        }
    }
}
#endif

/* An activation range narrower than int8 (rare): clamp the saturated row. */
EK_COLD static void clamp_row(int8_t *row, int32_t n, int32_t lo, int32_t hi)
{
    for (int32_t i = 0; i < n; ++i) {
        row[i] = (int8_t)ek_clamp_i32(row[i], lo, hi);
    }
}

/* The output row of one group, computed in row_buf (stride g between pixels), into the output:
 * one run when the pixels are contiguous there, else one run of g bytes per pixel (transposed:
 * the row is a column of the output). */
static void store_row(const ek_depthwise_rows_params *p, const int8_t *row_buf, int8_t *output, int32_t oy,
                      int32_t c0, int32_t g)
{
    const int32_t ch = p->channels;
    const int32_t step = p->transposed ? p->output_h * ch : ch;
    int8_t *dst = output + (p->transposed ? oy : oy * p->output_w) * ch + c0;
    int32_t runs = p->output_w, run = g;
    if (step == g) {
        run *= runs;
        runs = 1;
    }
    for (; runs > 0; --runs, dst += step, row_buf += g) {
        memcpy(dst, row_buf, (size_t)run);
    }
}

void ek_depthwise_rows_dsp_s8(const ek_depthwise_rows_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch)
{
    const int32_t ch = p->channels, len = p->row_len, kh = 3, ow = p->output_w, g = p->group;
    int16_t *ring = (int16_t *)(void *)scratch;
    int16_t *pad_row = ring + kh * g * len;
    int8_t *row_buf = (int8_t *)(pad_row + len); /* one output row of the group, in blocks of 4 */
    const int32_t nb = (ow + 3) / 4;
    const int16_t *rows[3];
    int32_t plane_step[3]; /* int16 from one channel's row to the next (0: the zero-point row) */

    for (int32_t j = 0; j < len; ++j) {
        pad_row[j] = (int16_t)p->pad_value;
    }
    for (int32_t c0 = 0; c0 < ch; c0 += g) {
        int32_t next_iy = 0; /* the next input row to widen */
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t k = 0; k < kh; ++k) {
                const int32_t iy = iy0 + k;
                if (iy < 0 || iy >= p->input_h) {
                    rows[k] = pad_row;
                    plane_step[k] = 0;
                    continue;
                }
                if (next_iy <= iy) {
                    next_iy = next_iy > iy0 ? next_iy : (iy0 > 0 ? iy0 : 0); /* rows above were never needed */
                    for (; next_iy <= iy; ++next_iy) {
                        widen_row(p, input, next_iy, ring + (next_iy % kh) * g * len, c0, g);
                    }
                }
                rows[k] = ring + (iy % kh) * g * len;
                plane_step[k] = len;
            }
            /* every block of the row goes to the row buffer (stride g), then the row is copied */
            const uint32_t *w = (const uint32_t *)(const void *)p->weights + EK_DW_WORDS * c0;
            const uint32_t *r[3];
            for (int32_t k = 0; k < 3; ++k) {
                r[k] = (const uint32_t *)(const void *)rows[k];
            }
#if EK_HAVE_DSP
            const int32_t block_bytes = 8 * p->stride_w;
            ek_dw_row row = {{2 * plane_step[0] - nb * block_bytes, 2 * plane_step[1] - nb * block_bytes,
                              2 * plane_step[2] - nb * block_bytes},
                             1 - nb * 4 * g, nb, 0, (uintptr_t)(w + EK_DW_WORDS * g)};
            row_asm(r[0], r[1], r[2], w, &row, row_buf, g, p->stride_w);
#else
            for (int32_t c = 0; c < g; ++c, w += EK_DW_WORDS) {
                blocks_c(p, r, w, row_buf + c, g, nb);
                for (int32_t k = 0; k < 3; ++k) {
                    r[k] += plane_step[k] / 2;
                }
            }
#endif
            if (p->act_min != -128 || p->act_max != 127) {
                clamp_row(row_buf, ow * g, p->act_min, p->act_max);
            }
            store_row(p, row_buf, output, oy, c0, g);
        }
    }
}

#include "ek_depthwise_dsp.h"

#include <string.h>

#include "ek_dsp.h"

#if EK_HAVE_DSP
#define ek_smlabb(a, b, acc) __smlabb((a), (b), (acc))
#define ek_smlatt(a, b, acc) __smlatt((a), (b), (acc))
#else
EK_INLINE int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)(ek_lo16(a) * ek_lo16(b)) + (uint32_t)acc);
}

EK_INLINE int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)(ek_hi16(a) * ek_hi16(b)) + (uint32_t)acc);
}
#endif

/* Four channels of one tap: x holds the input word, w the tap's two weight words. */
#define EK_TAP(x, w)                                     \
    do {                                                 \
        const uint32_t x02_ = ek_sxtb16(x);              \
        const uint32_t x13_ = ek_sxtb16_ror8(x);         \
        const uint32_t w02_ = (w)[0], w13_ = (w)[1];     \
        a0 = ek_smlabb(x02_, w02_, a0);                  \
        a2 = ek_smlatt(x02_, w02_, a2);                  \
        a1 = ek_smlabb(x13_, w13_, a1);                  \
        a3 = ek_smlatt(x13_, w13_, a3);                  \
    } while (0)

/* Requantize the four accumulators of channels c..c+3 and store them as one word. */
EK_INLINE void store_group(const ek_depthwise_dsp_params *p, int8_t *out, const int32_t *rq, int32_t a0, int32_t a1,
                           int32_t a2, int32_t a3)
{
    int32_t v0 = ek_ssat8(ek_requant2_clamped(a0, rq[1], rq[2], rq[3]));
    int32_t v1 = ek_ssat8(ek_requant2_clamped(a1, rq[5], rq[6], rq[7]));
    int32_t v2 = ek_ssat8(ek_requant2_clamped(a2, rq[9], rq[10], rq[11]));
    int32_t v3 = ek_ssat8(ek_requant2_clamped(a3, rq[13], rq[14], rq[15]));
    if (!p->act_full) {
        v0 = ek_clamp_i32(v0, p->act_min, p->act_max);
        v1 = ek_clamp_i32(v1, p->act_min, p->act_max);
        v2 = ek_clamp_i32(v2, p->act_min, p->act_max);
        v3 = ek_clamp_i32(v3, p->act_min, p->act_max);
    }
    ek_write32(out, ((uint32_t)(uint8_t)v0) | ((uint32_t)(uint8_t)v1 << 8) | ((uint32_t)(uint8_t)v2 << 16) |
                        ((uint32_t)(uint8_t)v3 << 24));
}

#if EK_DSP_ASM
#if EK_REQUANT_BELOW_ZERO_POINT
#define EK_DW_SIGN_TERM(A) "add    %[x], %[x], %[" A "], asr #31\n\t"
#else
#define EK_DW_SIGN_TERM(A)
#endif

/* One tap of four channels: its pointer at byte T of the table, its two weight words at byte W of the
 * group's, the input word, unpacked, four halfword MACs. */
#define EK_DW_TAP(T, W)                                \
    "ldr    %[x], [%[tap], #" T "]\n\t"                \
    "ldr    %[w02], [%[w], #" W "]\n\t"                 \
    "ldr    %[w13], [%[w], #" W "+4]\n\t"               \
    "ldr    %[x], [%[x], %[c]]\n\t"                     \
    "sxtb16 %[y], %[x]\n\t"                             \
    "sxtb16 %[x], %[x], ror #8\n\t"                     \
    "smlabb %[a0], %[y], %[w02], %[a0]\n\t"             \
    "smlatt %[a2], %[y], %[w02], %[a2]\n\t"             \
    "smlabb %[a1], %[x], %[w13], %[a1]\n\t"             \
    "smlatt %[a3], %[x], %[w13], %[a3]\n\t"

/* Accumulator A of the channel whose requantization terms start at byte R of the group's
 * (ek_requant2_clamped), saturated, stored at byte B of the group's output. */
#define EK_DW_OUT(A, R, B)                             \
    "ldr    %[w02], [%[rq], #" R "+4]\n\t"              \
    "ldr    %[w13], [%[rq], #" R "+8]\n\t"              \
    "ldr    %[y], [%[rq], #" R "+12]\n\t"               \
    "smmlar %[x], %[" A "], %[w02], %[w13]\n\t"         \
    EK_DW_SIGN_TERM(A)                                  \
    "asr    %[x], %[x], %[y]\n\t"                       \
    "ssat   %[x], #8, %[x]\n\t"                         \
    "strb   %[x], [%[out], #" B "]\n\t"
#endif

#if !EK_DSP_ASM
/* One channel group of pixel_3x3: the computation of its assembly in C, for cores without the DSP
 * extension, builds where EK_DSP_ASM is 0 and the host. */
static void group_3x3_c(const ek_depthwise_dsp_params *p, const int8_t *const tap[9], int32_t c, const uint32_t *w,
                        const int32_t *rq, int8_t *out)
{
    int32_t a0 = rq[0], a1 = rq[4], a2 = rq[8], a3 = rq[12];
    for (int32_t k = 0; k < 9; ++k) {
        const uint32_t x = ek_read32(tap[k] + c);
        EK_TAP(x, w + 2 * k);
    }
    store_group(p, out, rq, a0, a1, a2, a3);
}
#endif

/* One output pixel of a 3x3 filter (dilation 1), every channel group: tap[k] points at the input
 * pixel of tap k (row-major) or, outside the image, at the zero-point row; channel c of a tap is
 * at tap[k] + c. */
static void pixel_3x3(const ek_depthwise_dsp_params *p, const int8_t *const tap[9], int8_t *out)
{
    const int32_t ch = p->input_c;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    const int32_t *rq = p->requant;
    for (int32_t c = 0; c < ch; c += 4, w += 18, rq += 16) {
#if EK_DSP_ASM
        int32_t a0, a1, a2, a3;
        uint32_t x, y, w02, w13;
        __asm__ volatile("ldr    %[a0], [%[rq]]\n\t"
                         "ldr    %[a1], [%[rq], #16]\n\t"
                         "ldr    %[a2], [%[rq], #32]\n\t"
                         "ldr    %[a3], [%[rq], #48]\n\t"
                         EK_DW_TAP("0", "0") EK_DW_TAP("4", "8") EK_DW_TAP("8", "16")
                         EK_DW_TAP("12", "24") EK_DW_TAP("16", "32") EK_DW_TAP("20", "40")
                         EK_DW_TAP("24", "48") EK_DW_TAP("28", "56") EK_DW_TAP("32", "64")
                         EK_DW_OUT("a0", "0", "0") EK_DW_OUT("a1", "16", "1")
                         EK_DW_OUT("a2", "32", "2") EK_DW_OUT("a3", "48", "3")
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "=&r"(x),
                           [y] "=&r"(y), [w02] "=&r"(w02), [w13] "=&r"(w13)
                         : [c] "r"(c), [w] "r"(w), [rq] "r"(rq), [out] "r"(out + c), [tap] "r"(tap)
                         : "memory");
        if (!p->act_full) {
            for (int32_t k = 0; k < 4; ++k) {
                out[c + k] = (int8_t)ek_clamp_i32(out[c + k], p->act_min, p->act_max);
            }
        }
#else
        group_3x3_c(p, tap, c, w, rq, out + c);
#endif
    }
}

/* Any window: each tap row is the input pixel or, outside the image, the zero-point row. */
static void pixel_any(const ek_depthwise_dsp_params *p, const int8_t *const *tap, int8_t *out)
{
    const int32_t ch = p->input_c;
    const int32_t taps = p->filter_h * p->filter_w;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    const int32_t *rq = p->requant;
    for (int32_t c = 0; c < ch; c += 4, rq += 16, out += 4) {
        int32_t a0 = rq[0], a1 = rq[4], a2 = rq[8], a3 = rq[12];
        for (int32_t k = 0; k < taps; ++k, w += 2) {
            const uint32_t x = ek_read32(tap[k] + c);
            EK_TAP(x, w);
        }
        store_group(p, out, rq, a0, a1, a2, a3);
    }
}

/* Scratch: a row of the zero point (input_c rounded up to 8), then one tap pointer per filter tap,
 * 8 bytes each so that the same arena serves 32-bit cores and 64-bit hosts. */
int32_t ek_depthwise_dsp_s8_scratch_bytes(int32_t input_c, int32_t filter_h, int32_t filter_w)
{
    return ((input_c + 7) & ~7) + 8 * filter_h * filter_w;
}

void ek_depthwise_dsp_s8(const ek_depthwise_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t ch = p->input_c;
    int8_t *pad_row = scratch;                                                  /* input_c bytes of zero point */
    const int8_t **tap = (const int8_t **)(void *)(scratch + ((ch + 7) & ~7)); /* the pixel's taps */
    const int fast = p->filter_h == 3 && p->filter_w == 3 && p->dilation_h == 1 && p->dilation_w == 1;
    int8_t *out = output;

    memset(pad_row, p->pad_value, (size_t)ch);
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        if (fast) {
            /* the window's three rows (a row outside the image: its taps all the zero-point row) */
            const int8_t *row[3];
            for (int32_t ky = 0; ky < 3; ++ky) {
                const int32_t iy = iy0 + ky;
                row[ky] = iy >= 0 && iy < p->input_h ? input + iy * p->input_w * ch : NULL;
            }
            for (int32_t ox = 0, ix0 = -p->pad_left; ox < p->output_w; ++ox, ix0 += p->stride_w, out += ch) {
                const int32_t at = ix0 * ch;
                if (ix0 >= 0 && ix0 + 2 < p->input_w) { /* every column inside */
                    for (int32_t ky = 0; ky < 3; ++ky) {
                        const int8_t *r = row[ky] ? row[ky] + at : NULL;
                        tap[3 * ky] = r ? r : pad_row;
                        tap[3 * ky + 1] = r ? r + ch : pad_row;
                        tap[3 * ky + 2] = r ? r + 2 * ch : pad_row;
                    }
                } else {
                    for (int32_t kx = 0; kx < 3; ++kx) {
                        const int col = ix0 + kx >= 0 && ix0 + kx < p->input_w;
                        for (int32_t ky = 0; ky < 3; ++ky) {
                            tap[3 * ky + kx] = col && row[ky] ? row[ky] + (at + kx * ch) : pad_row;
                        }
                    }
                }
                pixel_3x3(p, tap, out);
            }
            continue;
        }
        for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int32_t t = 0;
            for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                const int32_t iy = iy0 + ky * p->dilation_h;
                for (int32_t kx = 0; kx < p->filter_w; ++kx, ++t) {
                    const int32_t ix = ix0 + kx * p->dilation_w;
                    const int inside = iy >= 0 && iy < p->input_h && ix >= 0 && ix < p->input_w;
                    tap[t] = inside ? input + (iy * p->input_w + ix) * ch : pad_row;
                }
            }
            pixel_any(p, tap, out);
        }
    }
}

#include "ek_conv2d_dsp.h"

#include <string.h>

#include "ek_dsp.h"

/* n bytes, n small: words where possible (unaligned words are fine on the cores this runs on,
 * and memcpy-to-word on the host). */
static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        ek_write32(dst, ek_read32(src));
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static void fill_bytes(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t v = (uint32_t)(uint8_t)value * 0x01010101u;
    for (; n >= 4; n -= 4, dst += 4) {
        ek_write32(dst, v);
    }
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
}

/* The int8 window of output pixel (oy, ox) when it crosses the image border: filter_h runs of
 * filter_w * input_c bytes, back to back, out-of-image taps reading the zero point. Grouped
 * (a constant where it is inlined): `input` at the group's first channel, pixels input_c * groups
 * bytes apart, so a window row is copied tap by tap. */
EK_INLINE const int8_t *gather_window(const ek_conv2d_dsp_params *p, const int8_t *input, int32_t oy, int32_t ox,
                                      int8_t *buf, int32_t grouped)
{
    const int32_t c = p->input_c, row = p->filter_w * c;
    const int32_t cs = grouped ? c * p->groups : c; /* the bytes of an input pixel */
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    /* taps kx in [lo, hi) are inside the image: one run per filter row (grouped: a tap at a time) */
    const int32_t lo = ix0 < 0 ? -ix0 : 0;
    const int32_t hi = ix0 + p->filter_w > p->input_w ? p->input_w - ix0 : p->filter_w;
    int8_t *dst = buf;
    for (int32_t ky = 0; ky < p->filter_h; ++ky, dst += row) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->input_h || hi <= lo) {
            fill_bytes(dst, p->pad_value, row);
            continue;
        }
        fill_bytes(dst, p->pad_value, lo * c);
        if (grouped) {
            const int8_t *src = input + (iy * p->input_w + ix0 + lo) * cs;
            for (int32_t kx = lo; kx < hi; ++kx, src += cs) {
                copy_bytes(dst + kx * c, src, c);
            }
        } else {
            copy_bytes(dst + lo * c, input + (iy * p->input_w + ix0 + lo) * c, (hi - lo) * c);
        }
        fill_bytes(dst + hi * c, p->pad_value, (p->filter_w - hi) * c);
    }
    return buf;
}

/* Ungrouped, a window crosses the border rarely: compiled for size. */
EK_COLD static const int8_t *gather(const ek_conv2d_dsp_params *p, const int8_t *input, int32_t oy, int32_t ox,
                                    int8_t *buf)
{
    return gather_window(p, input, oy, ox, buf, 0);
}

/* Grouped, every window of a filter wider than one pixel is gathered (its taps are not
 * contiguous): compiled for speed, a function of its own. */
EK_NOINLINE static const int8_t *gather_grouped(const ek_conv2d_dsp_params *p, const int8_t *input, int32_t oy,
                                                int32_t ox, int8_t *buf)
{
    return gather_window(p, input, oy, ox, buf, 1);
}

/* Both int16 halves doubled (no carry between them). */
EK_INLINE uint32_t ek_dbl16(uint32_t v)
{
    return ek_sadd16(v, v);
}

/* One word of four k of a column (k0..k3) as the doubled int16 pairs (k0, k2), (k1, k3) at
 * dst[0] and dst[4] (the pairs are stored [pair][pixel]). */
EK_INLINE void widen_word(uint32_t v, uint32_t *dst)
{
    dst[0] = ek_dbl16(ek_sxtb16(v));
    dst[4] = ek_dbl16(ek_sxtb16_ror8(v));
}

/* The sizes the pixel walk uses, read from the parameters once per call. */
typedef struct {
    int32_t full;     /* the whole words of a filter row, in bytes (row & ~3) */
    int32_t rem;      /* the bytes of a filter row after them (row % 4) */
    int32_t fh;       /* filter_h */
    int32_t quick;    /* column4 can do it: a row has a whole word, the rows' last bytes fit one */
} ek_walk;

/* The column of one pixel from its window (filter_h runs of row bytes, `stride` apart) into
 * slot j of the four-pixel buffer, in the order the generator laid the weights out: every
 * run's whole words, then the runs' last row % 4 bytes gathered into words (the rest of the
 * last word is zero). The pairs past them (to k_pad) hold zeros, written once per call. */
EK_COLD static void column(const ek_walk *k, const int8_t *src, int32_t stride, uint32_t *dst)
{
    const int32_t full = k->full, rem = k->rem;
    const int8_t *r = src;
    for (int32_t ky = k->fh; ky > 0; --ky, r += stride) {
        for (int32_t b = 0; b < full; b += 4, dst += 8) {
            widen_word(ek_read32(r + b), dst);
        }
    }
    if (rem) {
        uint32_t t = 0;
        int32_t shift = k->quick ? 32 - 8 * k->fh * rem : 0; /* the layout column4 makes */
        r = src + full;
        for (int32_t ky = k->fh; ky > 0; --ky, r += stride) {
            for (int32_t b = 0; b < rem; ++b) {
                t |= (uint32_t)(uint8_t)r[b] << shift;
                shift += 8;
                if (shift == 32) {
                    widen_word(t, dst);
                    dst += 8;
                    t = 0;
                    shift = 0;
                }
            }
        }
        if (shift) {
            widen_word(t, dst);
        }
    }
}

/* Four words, one per pixel, into the buffer as column() stores one (pixel j at dst[j]). */
EK_INLINE void widen4(uint32_t v0, uint32_t v1, uint32_t v2, uint32_t v3, uint32_t *dst)
{
    dst[0] = ek_dbl16(ek_sxtb16(v0));
    dst[1] = ek_dbl16(ek_sxtb16(v1));
    dst[2] = ek_dbl16(ek_sxtb16(v2));
    dst[3] = ek_dbl16(ek_sxtb16(v3));
    dst[4] = ek_dbl16(ek_sxtb16_ror8(v0));
    dst[5] = ek_dbl16(ek_sxtb16_ror8(v1));
    dst[6] = ek_dbl16(ek_sxtb16_ror8(v2));
    dst[7] = ek_dbl16(ek_sxtb16_ror8(v3));
}

/* column() for four pixels whose windows all lie inside the image (window j's first tap at
 * src[j], rows `stride` apart), in one pass over the taps. Its callers make sure that the
 * rows' last bytes (if any) fit one word and that a row has a whole word (k->quick): each row's
 * last word then brings them in at the top, and the earlier rows' ones move down. */
EK_INLINE void column4(const ek_walk *k, const int8_t *const src[4], int32_t stride, uint32_t *dst)
{
    const int32_t full = k->full, fh = k->fh, last = full + k->rem - 4, down = 8 * k->rem;
    const uint32_t top = down ? ~0u << (32 - down) : 0u;
    const int8_t *p0 = src[0], *p1 = src[1], *p2 = src[2], *p3 = src[3];
    uint32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (int32_t o0 = 0; o0 < fh * stride; o0 += stride) {
        for (int32_t o = o0; o < o0 + full; o += 4, dst += 8) {
            widen4(ek_read32(p0 + o), ek_read32(p1 + o), ek_read32(p2 + o), ek_read32(p3 + o), dst);
        }
        if (down) {
            t0 = (t0 >> down) | (ek_read32(p0 + o0 + last) & top);
            t1 = (t1 >> down) | (ek_read32(p1 + o0 + last) & top);
            t2 = (t2 >> down) | (ek_read32(p2 + o0 + last) & top);
            t3 = (t3 >> down) | (ek_read32(p3 + o0 + last) & top);
        }
    }
    if (down) {
        widen4(t0, t1, t2, t3, dst);
    }
}

/* The activation range narrower than int8 (rare): clamp the four pixels' outputs. */
EK_COLD static void clamp_pixels(int8_t *const out[4], int32_t n, int32_t lo, int32_t hi)
{
    for (int32_t j = 0; j < 4; ++j) {
        for (int32_t i = 0; i < n; ++i) {
            out[j][i] = (int8_t)ek_clamp_i32(out[j][i], lo, hi);
        }
    }
}

/* What the channel loop reads besides registers (asm memory operands). The k loop takes eight
 * pairs of k per iteration; a column of pairs % 8 != 0 pairs starts it at the pair that makes the
 * rest whole iterations (entry e = (8 - pairs % 8) % 8), with x placed so that the pair read
 * there is the column's first. */
typedef struct {
    uintptr_t x_start;  /* cols - 16 * e (e = 0: cols - 128, the first pair pre-indexes by 128) */
    uintptr_t x_last;   /* x in the last iteration: cols + 16 * (pairs - 8) */
    uintptr_t entry;    /* the address of pair e's code in the k loop (the asm fills it in) */
    int32_t entry_bytes; /* e * EK_KPAIR_BYTES (int4: e / 2 words * EK_KQUAD_BYTES) */
    int8_t *out[4];     /* each pixel's output row (a throw-away row for a missing pixel) */
    const uint32_t *cols; /* the columns (the C version, the sparse loop, channels_one) */
    int32_t pairs;        /* k pairs per column (the C version, channels_one) */
} ek_gemm_ctx;

/* The last word of a channel pair's terms (right | channel << 8) has this bit set in the stream's
 * last pair: the channel loop ends there. */
#define EK_LAST_PAIR 0x80000000u

/* The word that ends a channel pair's blocks in the block-sparse stream (no block offset is
 * negative). */
#define EK_SPARSE_END (-1)

/* The bytes of one pair's code in the k loop (fifteen 32-bit instructions). */
#define EK_KPAIR_BYTES 60
/* The bytes of one word's code in the int4 k loop (thirty-three 32-bit instructions). */
#define EK_KQUAD_BYTES 132
#define EK_STR_(v) #v
#define EK_STR(v) EK_STR_(v)

#if EK_DSP_ASM
/* One pair of k: a word of weights (both channels) and the four pixels' int16 pairs, loaded
 * back to back so the loads pipeline, then eight dual MACs. The first pair of an iteration
 * advances x (pre-index); the others address it with offsets. Every instruction is 32-bit
 * (.w), so that each pair's code takes EK_KPAIR_BYTES and the entry is computed. */
#define EK_KPAIR(XLOAD0, X1, X2, X3)                      \
    "ldr.w  %[w1], [%[s]], #4\n\t"                        \
    XLOAD0                                                \
    "ldr.w  %[x1], [%[x], #" #X1 "]\n\t"                  \
    "sxtb16 %[w0], %[w1]\n\t"                             \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                     \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"             \
    "smlad  %[a10], %[x0], %[w1], %[a10]\n\t"             \
    "smlad  %[a01], %[x1], %[w0], %[a01]\n\t"             \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"             \
    "ldr.w  %[x0], [%[x], #" #X2 "]\n\t"                  \
    "ldr.w  %[x1], [%[x], #" #X3 "]\n\t"                  \
    "smlad  %[a02], %[x0], %[w0], %[a02]\n\t"             \
    "smlad  %[a12], %[x0], %[w1], %[a12]\n\t"             \
    "smlad  %[a03], %[x1], %[w0], %[a03]\n\t"             \
    "smlad  %[a13], %[x1], %[w1], %[a13]\n\t"

#if EK_REQUANT_BELOW_ZERO_POINT
#define EK_SIGN_TERM(A) "add    %[x1], %[x1], %[" A "], asr #31\n\t"
#else
#define EK_SIGN_TERM(A)
#endif

/* Requantize accumulator A in place (ek_requant2_clamped with m = w0, c = w1, right = low byte
 * of x0), saturated to int8. */
#define EK_REQ(A)                                         \
    "smmlar %[x1], %[" A "], %[w0], %[w1]\n\t"            \
    EK_SIGN_TERM(A)                                       \
    "asr    %[x1], %[x1], %[x0]\n\t"                      \
    "ssat   %[" A "], #8, %[x1]\n\t"

/* One channel: its terms, its four accumulators requantized in place. */
#define EK_CHANNEL(A0, A1, A2, A3)                        \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "ldr    %[x0], [%[s]], #4\n\t"                        \
    EK_REQ(A0) EK_REQ(A1) EK_REQ(A2) EK_REQ(A3)

/* Pixel J's two outputs, at channel x (the pair's first) and x0 of its row, whose pointer is in
 * register P. */
#define EK_STORE2(P, J)                                   \
    "strb   %[a0" #J "], [%[" P "], %[x]]\n\t"            \
    "strb   %[a1" #J "], [%[" P "], %[x0]]\n\t"

/* The loops' branch targets (label 2, once per channel pair; label 10 and the entries into it,
 * once per iteration of the k loop) are word-aligned (.p2align 2, ek_dsp.h); the entries stay
 * so: each step of the k loop is a multiple of 4 bytes long (EK_KPAIR_BYTES, EK_KQUAD_BYTES).
 *
 * The parts of channels() and channels_int4() around their k loops. EK_CHANNELS_ENTER works out
 * the loop's entry address (entry_bytes past label 10) once per call; then, per channel pair (label
 * 2), the biases into the eight accumulators, x at the columns' start, and the entry address in x0
 * for the BX. */
#define EK_CHANNELS_ENTER                                 \
    "adr.w  %[x0], 10f\n\t"                               \
    "ldr    %[x1], %[entry_bytes]\n\t"                    \
    "add    %[x0], %[x0], %[x1]\n\t"                      \
    "orr    %[x0], %[x0], #1\n\t" /* Thumb */             \
    "str    %[x0], %[entry]\n\t"                          \
    ".p2align 2\n\t"                                      \
    "2:\n\t"                                              \
    "ldr    %[a00], [%[s]], #4\n\t"                       \
    "ldr    %[a10], [%[s]], #4\n\t"                       \
    "mov    %[a01], %[a00]\n\t"                           \
    "mov    %[a02], %[a00]\n\t"                           \
    "mov    %[a03], %[a00]\n\t"                           \
    "mov    %[a11], %[a10]\n\t"                           \
    "mov    %[a12], %[a10]\n\t"                           \
    "mov    %[a13], %[a10]\n\t"                           \
    "ldr    %[x], %[x_start]\n\t"                         \
    "ldr    %[x0], %[entry]\n\t" /* pipelined: LDR PC would block */

/* The end of an iteration of the k loop (labels 10 and 11 frame its first step, which must be
 * BYTES long: the entry address counts in steps). */
#define EK_K_LOOP_END(BYTES, WHY)                         \
    "ldr    %[x0], %[x_last]\n\t"                         \
    "cmp    %[x], %[x0]\n\t"                              \
    "bne    10b\n\t"                                      \
    ".if 11b - 10b - " EK_STR(BYTES) "\n\t"               \
    ".error \"" WHY "\"\n\t"                              \
    ".endif\n\t"

/* After the k loop: both channels requantized by CHANNEL (EK_CHANNEL or EK_CHANNEL4), x then
 * holding the first one's index, and the four pixels' outputs stored; the TST of the last pair's
 * flag sets Z for the BEQ back to the next pair. */
#define EK_PAIR_OUT(CHANNEL)                              \
    CHANNEL("a00", "a01", "a02", "a03")                   \
    "ubfx   %[x], %[x0], #8, #16\n\t"                     \
    CHANNEL("a10", "a11", "a12", "a13")                   \
    "tst    %[x0], #0x80000000\n\t" /* EK_LAST_PAIR */    \
    "ubfx   %[x0], %[x0], #8, #16\n\t"                    \
    "ldr    %[w0], %[o0]\n\t"                             \
    "ldr    %[w1], %[o1]\n\t"                             \
    EK_STORE2("w0", 0)                                    \
    "ldr    %[w0], %[o2]\n\t"                             \
    EK_STORE2("w1", 1)                                    \
    "ldr    %[w1], %[o3]\n\t"                             \
    EK_STORE2("w0", 2)                                    \
    EK_STORE2("w1", 3)                                    \
    "beq    2b\n\t"

/* The operands of both loops (the variables of channels() and channels_int4()). */
#define EK_CHANNELS_OPERANDS                                                                               \
    : [a00] "=&r"(a00), [a01] "=&r"(a01), [a02] "=&r"(a02), [a03] "=&r"(a03),                             \
      [a10] "=&r"(a10), [a11] "=&r"(a11), [a12] "=&r"(a12), [a13] "=&r"(a13),                             \
      [s] "+r"(s), [x] "=&r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1),                                          \
      [x0] "=&r"(x0), [x1] "=&r"(x1), [entry] "=m"(g->entry)                                              \
    : [x_start] "m"(g->x_start), [x_last] "m"(g->x_last), [entry_bytes] "m"(g->entry_bytes),              \
      [o0] "m"(g->out[0]), [o1] "m"(g->out[1]), [o2] "m"(g->out[2]), [o3] "m"(g->out[3])                  \
    : "cc", "memory"

/* Every channel pair against the four columns: biases, the k loop (eight pairs of k per
 * iteration, entered at the pair that leaves whole iterations: its address is worked out once
 * per call, then a BX per channel pair), requantization and stores. It needs all fourteen
 * allocatable registers (8 accumulators, 2 pointers, 4 operands), more than gcc's allocator
 * manages for the same loop written with intrinsics, so it is written out; the portable version
 * below is the same computation in C. After the k loop x is free: it holds the first channel's
 * index while the second one is requantized, so that each pixel's row pointer is loaded once
 * for both; the pointer loads are placed where the cores pipeline them. The TST of the last
 * pair's flag sets Z for the BEQ at the end (nothing between sets flags). Inlined, so that the
 * context is on the stack (sp-relative operands). */
EK_INLINE void channels(const int32_t *s, ek_gemm_ctx *g)
{
    int32_t a00, a01, a02, a03, a10, a11, a12, a13;
    uint32_t w0, w1, x0, x1;
    uintptr_t x;
    __asm__ volatile(EK_CHANNELS_ENTER
                     "bx     %[x0]\n\t"
                     ".p2align 2\n\t"
                     "10:\n\t"
                     EK_KPAIR("ldr.w  %[x0], [%[x], #128]!\n\t", 4, 8, 12)
                     "11:\n\t"
                     EK_KPAIR("ldr.w  %[x0], [%[x], #16]\n\t", 20, 24, 28)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #32]\n\t", 36, 40, 44)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #48]\n\t", 52, 56, 60)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #64]\n\t", 68, 72, 76)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #80]\n\t", 84, 88, 92)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #96]\n\t", 100, 104, 108)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #112]\n\t", 116, 120, 124)
                     EK_K_LOOP_END(EK_KPAIR_BYTES, "a k pair's code is not EK_KPAIR_BYTES long")
                     EK_PAIR_OUT(EK_CHANNEL)
                     EK_CHANNELS_OPERANDS);
}

/* Two pairs of k on int4 weights: one word of the stream (ek_conv2d_dsp.h), its low nibbles
 * moved to the high half of their bytes (LSL, AND: 16 times pair 2i's int8 word) for the first
 * pair and its high nibbles masked in place (AND) for the second, each widened by two SXTB16
 * into both channels' int16 pairs (16 w), then eight dual MACs against the four pixels' pairs.
 * The word is loaded again for the second pair (w1 holds the first's, and every other register
 * is taken); that load pipelines with the pixels' loads after it. The first word of an
 * iteration advances x (pre-index) as EK_KPAIR does; every instruction is 32-bit. */
#define EK_KQUAD(XLOAD0, X1, X2, X3, X4, X5, X6, X7)      \
    "ldr.w  %[w1], [%[s]], #4\n\t"                        \
    XLOAD0                                                \
    "ldr.w  %[x1], [%[x], #" #X1 "]\n\t"                  \
    "lsl.w  %[w1], %[w1], #4\n\t"                         \
    "and    %[w1], %[w1], #0xF0F0F0F0\n\t"                \
    "sxtb16 %[w0], %[w1]\n\t"                             \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                     \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"             \
    "smlad  %[a10], %[x0], %[w1], %[a10]\n\t"             \
    "smlad  %[a01], %[x1], %[w0], %[a01]\n\t"             \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"             \
    "ldr.w  %[x0], [%[x], #" #X2 "]\n\t"                  \
    "ldr.w  %[x1], [%[x], #" #X3 "]\n\t"                  \
    "smlad  %[a02], %[x0], %[w0], %[a02]\n\t"             \
    "smlad  %[a12], %[x0], %[w1], %[a12]\n\t"             \
    "smlad  %[a03], %[x1], %[w0], %[a03]\n\t"             \
    "smlad  %[a13], %[x1], %[w1], %[a13]\n\t"             \
    "ldr.w  %[w1], [%[s], #-4]\n\t"                       \
    "ldr.w  %[x0], [%[x], #" #X4 "]\n\t"                  \
    "ldr.w  %[x1], [%[x], #" #X5 "]\n\t"                  \
    "and    %[w1], %[w1], #0xF0F0F0F0\n\t"                \
    "sxtb16 %[w0], %[w1]\n\t"                             \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                     \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"             \
    "smlad  %[a10], %[x0], %[w1], %[a10]\n\t"             \
    "smlad  %[a01], %[x1], %[w0], %[a01]\n\t"             \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"             \
    "ldr.w  %[x0], [%[x], #" #X6 "]\n\t"                  \
    "ldr.w  %[x1], [%[x], #" #X7 "]\n\t"                  \
    "smlad  %[a02], %[x0], %[w0], %[a02]\n\t"             \
    "smlad  %[a12], %[x0], %[w1], %[a12]\n\t"             \
    "smlad  %[a03], %[x1], %[w0], %[a03]\n\t"             \
    "smlad  %[a13], %[x1], %[w1], %[a13]\n\t"

/* One channel of the int4 loop: its accumulators, at 16 times the doubled sum, divided by 16
 * (exact: a multiple of 16), then as EK_CHANNEL. */
#define EK_CHANNEL4(A0, A1, A2, A3)                       \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "ldr    %[x0], [%[s]], #4\n\t"                        \
    "asr    %[" A0 "], %[" A0 "], #4\n\t"                 \
    "asr    %[" A1 "], %[" A1 "], #4\n\t"                 \
    "asr    %[" A2 "], %[" A2 "], #4\n\t"                 \
    "asr    %[" A3 "], %[" A3 "], #4\n\t"                 \
    EK_REQ(A0) EK_REQ(A1) EK_REQ(A2) EK_REQ(A3)

/* channels() on the int4 stream: the same loop with four words of weights (eight pairs of k)
 * per iteration, entered at the word that leaves whole iterations (the pairs of a column are
 * even, so x_start and x_last are channels()'s; the entry is in words, EK_KQUAD_BYTES each). */
EK_INLINE void channels_int4(const int32_t *s, ek_gemm_ctx *g)
{
    int32_t a00, a01, a02, a03, a10, a11, a12, a13;
    uint32_t w0, w1, x0, x1;
    uintptr_t x;
    __asm__ volatile(EK_CHANNELS_ENTER
                     "bx     %[x0]\n\t"
                     ".p2align 2\n\t"
                     "10:\n\t"
                     EK_KQUAD("ldr.w  %[x0], [%[x], #128]!\n\t", 4, 8, 12, 16, 20, 24, 28)
                     "11:\n\t"
                     EK_KQUAD("ldr.w  %[x0], [%[x], #32]\n\t", 36, 40, 44, 48, 52, 56, 60)
                     EK_KQUAD("ldr.w  %[x0], [%[x], #64]\n\t", 68, 72, 76, 80, 84, 88, 92)
                     EK_KQUAD("ldr.w  %[x0], [%[x], #96]\n\t", 100, 104, 108, 112, 116, 120, 124)
                     EK_K_LOOP_END(EK_KQUAD_BYTES, "an int4 k word's code is not EK_KQUAD_BYTES long")
                     EK_PAIR_OUT(EK_CHANNEL4)
                     EK_CHANNELS_OPERANDS);
}

/* channels() on the block-sparse stream: per channel pair, each block's byte offset in the columns
 * (x = cols + offset) and its eight pairs of k, EK_KPAIR's code addressed from x, until the
 * offset word is EK_SPARSE_END (-1; CMN sets Z); a pair without blocks is its biases alone. */
EK_INLINE void channels_sparse(const int32_t *s, ek_gemm_ctx *g)
{
    int32_t a00, a01, a02, a03, a10, a11, a12, a13;
    uint32_t w0, w1, x0, x1;
    uintptr_t x;
    __asm__ volatile(".p2align 2\n\t"
                     "2:\n\t"
                     "ldr    %[a00], [%[s]], #4\n\t"
                     "ldr    %[a10], [%[s]], #4\n\t"
                     "mov    %[a01], %[a00]\n\t"
                     "mov    %[a02], %[a00]\n\t"
                     "mov    %[a03], %[a00]\n\t"
                     "mov    %[a11], %[a10]\n\t"
                     "mov    %[a12], %[a10]\n\t"
                     "mov    %[a13], %[a10]\n\t"
                     "ldr    %[w0], [%[s]], #4\n\t"
                     "b      12f\n\t"
                     ".p2align 2\n\t"
                     "10:\n\t"
                     "ldr    %[x], %[cols]\n\t"
                     "add    %[x], %[x], %[w0]\n\t"
                     EK_KPAIR("ldr.w  %[x0], [%[x]]\n\t", 4, 8, 12)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #16]\n\t", 20, 24, 28)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #32]\n\t", 36, 40, 44)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #48]\n\t", 52, 56, 60)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #64]\n\t", 68, 72, 76)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #80]\n\t", 84, 88, 92)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #96]\n\t", 100, 104, 108)
                     EK_KPAIR("ldr.w  %[x0], [%[x], #112]\n\t", 116, 120, 124)
                     "ldr    %[w0], [%[s]], #4\n\t"
                     "12:\n\t"
                     "cmn    %[w0], #1\n\t" /* EK_SPARSE_END */
                     "bne    10b\n\t"
                     EK_PAIR_OUT(EK_CHANNEL)
                     : [a00] "=&r"(a00), [a01] "=&r"(a01), [a02] "=&r"(a02), [a03] "=&r"(a03),
                       [a10] "=&r"(a10), [a11] "=&r"(a11), [a12] "=&r"(a12), [a13] "=&r"(a13),
                       [s] "+r"(s), [x] "=&r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1),
                       [x0] "=&r"(x0), [x1] "=&r"(x1)
                     : [cols] "m"(g->cols), [o0] "m"(g->out[0]), [o1] "m"(g->out[1]), [o2] "m"(g->out[2]),
                       [o3] "m"(g->out[3])
                     : "cc", "memory");
}
#else
/* The same computation in C: cores without the DSP extension, builds where EK_DSP_ASM is 0
 * (ek_dsp.h: -O0, EK_DSP_NO_ASM) and the host. */

/* k pairs of weights, a word each, against the four columns from cols (pair q at cols[4q..4q+3])
 * into a channel pair's accumulators; the weights' end. */
static const int32_t *mac_pairs(const int32_t *s, const uint32_t *cols, int32_t k_pairs, int32_t a[2][4])
{
    for (int32_t q = 0; q < k_pairs; ++q) {
        const uint32_t v = (uint32_t)*s++;
        const uint32_t w[2] = {ek_sxtb16(v), ek_sxtb16_ror8(v)};
        for (int32_t n = 0; n < 2; ++n) {
            for (int32_t j = 0; j < 4; ++j) {
                a[n][j] = ek_smlad(cols[4 * q + j], w[n], a[n][j]);
            }
        }
    }
    return s;
}

/* A channel pair's outputs from its accumulators (divided by `down`: 16 for the int4 stream) and
 * its terms at s; whether the pair was the last one. */
static int32_t pair_out(const int32_t *s, int32_t a[2][4], int32_t down, ek_gemm_ctx *g)
{
    for (int32_t n = 0; n < 2; ++n, s += 3) {
        const int32_t channel = (int32_t)(((uint32_t)s[2] >> 8) & 0xFFFFu);
        for (int32_t j = 0; j < 4; ++j) {
            const int32_t acc2 = a[n][j] / down; /* exact: the int4 sums are multiples of 16 */
            g->out[j][channel] = (int8_t)ek_ssat8(ek_requant2_clamped(acc2, s[0], s[1], s[2] & 0xFF));
        }
    }
    return ((uint32_t)s[-1] & EK_LAST_PAIR) != 0;
}

static void channels(const int32_t *s, ek_gemm_ctx *g)
{
    int32_t last;
    do {
        int32_t a[2][4] = {{s[0], s[0], s[0], s[0]}, {s[1], s[1], s[1], s[1]}};
        s = mac_pairs(s + 2, g->cols, g->pairs, a);
        last = pair_out(s, a, 1, g);
        s += 6;
    } while (!last);
}

/* channels_int4 in C: per word of weights, its low nibbles (moved to the high half of their
 * bytes) for the first pair of k and its high nibbles for the second, 16 w per byte. */
static void channels_int4(const int32_t *s, ek_gemm_ctx *g)
{
    const int32_t k_words = g->pairs / 2;
    int32_t last;
    do {
        int32_t a[2][4] = {{s[0], s[0], s[0], s[0]}, {s[1], s[1], s[1], s[1]}};
        s += 2;
        for (int32_t q = 0; q < k_words; ++q, ++s) {
            const int32_t half[2] = {(int32_t)(((uint32_t)*s << 4) & 0xF0F0F0F0u),
                                     (int32_t)((uint32_t)*s & 0xF0F0F0F0u)};
            mac_pairs(&half[0], g->cols + 8 * q, 1, a);
            mac_pairs(&half[1], g->cols + 8 * q + 4, 1, a);
        }
        last = pair_out(s, a, 16, g);
        s += 6;
    } while (!last);
}

/* channels_sparse in C: per channel pair, the blocks its stream lists (offset, eight pairs of k). */
static void channels_sparse(const int32_t *s, ek_gemm_ctx *g)
{
    int32_t last;
    do {
        int32_t a[2][4] = {{s[0], s[0], s[0], s[0]}, {s[1], s[1], s[1], s[1]}};
        s += 2;
        for (int32_t offset = *s++; offset != EK_SPARSE_END; offset = *s++) {
            s = mac_pairs(s, g->cols + offset / 4, 8, a);
        }
        last = pair_out(s, a, 1, g);
        s += 6;
    } while (!last);
}
#endif

/* Two pairs of k of one channel pair against the column's pixel (word q of the stream against
 * x[4q]: the columns are stored [pair][pixel]) into a0, a1. */
EK_INLINE void one_two_pairs(const int32_t *s, const uint32_t *x, int32_t *a0, int32_t *a1)
{
    const uint32_t v0 = (uint32_t)s[0], v1 = (uint32_t)s[1];
    *a0 = ek_smlad(x[0], ek_sxtb16(v0), *a0);
    *a1 = ek_smlad(x[0], ek_sxtb16_ror8(v0), *a1);
    *a0 = ek_smlad(x[4], ek_sxtb16(v1), *a0);
    *a1 = ek_smlad(x[4], ek_sxtb16_ror8(v1), *a1);
}

#if EK_DSP_ASM
/* One word of weights (both channels, a pair of k) against the pixel's pair X. */
#define EK_ONE_WORD(W, X)                                 \
    "sxtb16 %[t], %[" W "]\n\t"                            \
    "smlad  %[a0], %[" X "], %[t], %[a0]\n\t"              \
    "sxtb16 %[" W "], %[" W "], ror #8\n\t"                \
    "smlad  %[a1], %[" X "], %[" W "], %[a1]\n\t"

/* A channel pair's pairs of k (even) against one pixel: two in C when pairs % 4 == 2, then four a
 * step, the eight words (four of weights, four of the pixel's pairs) loaded back to back so that the
 * loads pipeline. The stream after the pair's weights. */
EK_INLINE const int32_t *one_pixel_pairs(const int32_t *s, const uint32_t *x, int32_t pairs, int32_t *r0,
                                         int32_t *r1)
{
    int32_t a0 = *r0, a1 = *r1;
    if (pairs & 2) {
        one_two_pairs(s, x, &a0, &a1);
        s += 2;
        x += 8;
    }
    if (pairs >= 4) {
        const uint32_t *end = x + 4 * (pairs & ~3);
        uint32_t w0, w1, w2, w3, x0, x1, x2, x3, t;
        __asm__ volatile(".p2align 2\n\t"
                         "1:\n\t"
                         "ldr    %[w0], [%[s]], #4\n\t"
                         "ldr    %[w1], [%[s]], #4\n\t"
                         "ldr    %[w2], [%[s]], #4\n\t"
                         "ldr    %[w3], [%[s]], #4\n\t"
                         "ldr    %[x0], [%[x]], #64\n\t"
                         "ldr    %[x1], [%[x], #-48]\n\t"
                         "ldr    %[x2], [%[x], #-32]\n\t"
                         "ldr    %[x3], [%[x], #-16]\n\t"
                         EK_ONE_WORD("w0", "x0") EK_ONE_WORD("w1", "x1")
                         EK_ONE_WORD("w2", "x2") EK_ONE_WORD("w3", "x3")
                         "ldr    %[t], %[end]\n\t"
                         "cmp    %[x], %[t]\n\t"
                         "bne    1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [s] "+r"(s), [x] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1),
                           [w2] "=&r"(w2), [w3] "=&r"(w3), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2),
                           [x3] "=&r"(x3), [t] "=&r"(t)
                         : [end] "m"(end)
                         : "cc", "memory");
    }
    *r0 = a0;
    *r1 = a1;
    return s;
}
#else
/* The same computation in C: cores without the DSP extension, builds where EK_DSP_ASM is 0
 * (ek_dsp.h: -O0, EK_DSP_NO_ASM) and the host. */
EK_INLINE const int32_t *one_pixel_pairs(const int32_t *s, const uint32_t *x, int32_t pairs, int32_t *r0,
                                         int32_t *r1)
{
    for (int32_t q = 0; q < pairs; q += 2, s += 2, x += 8) {
        one_two_pairs(s, x, r0, r1);
    }
    return s;
}
#endif

/* A last block of one pixel: every channel pair against that column alone (one_pixel_pairs), where
 * the four-pixel loop would compute four pixels; the same requantization as the four-pixel loop. */
EK_INLINE void channels_one(const int32_t *s, const ek_gemm_ctx *g)
{
    const int32_t pairs = g->pairs; /* even: k_pad is a multiple of 4 */
    int32_t last;
    do {
        int32_t a0 = s[0], a1 = s[1]; /* scalars: an array here is kept on the stack */
        s = one_pixel_pairs(s + 2, g->cols, pairs, &a0, &a1);
        g->out[0][((uint32_t)s[2] >> 8) & 0xFFFFu] = (int8_t)ek_ssat8(ek_requant2_clamped(a0, s[0], s[1], s[2] & 0xFF));
        g->out[0][((uint32_t)s[5] >> 8) & 0xFFFFu] = (int8_t)ek_ssat8(ek_requant2_clamped(a1, s[3], s[4], s[5] & 0xFF));
        last = ((uint32_t)s[5] & EK_LAST_PAIR) != 0;
        s += 6;
    } while (!last);
}

/* The walk's next output pixel (row-major): its window's first row and column, and the offset of its
 * first tap in the input (possibly outside the image). */
#define EK_CONV_NEXT_PIXEL()                                  \
    do {                                                      \
        ix0 += p->stride_w;                                   \
        at += x_step;                                         \
        if (++ox == ow) {                                     \
            ox = 0;                                           \
            ix0 = -p->pad_left;                               \
            ++oy;                                             \
            iy0 += p->stride_h;                               \
            rows_in = iy0 >= 0 && iy0 + span < p->input_h;    \
            at = (iy0 * p->input_w + ix0) * cs;               \
        }                                                     \
    } while (0)

/* Scratch: the int16 columns of four pixels (8 * k_pad bytes), one border window being gathered
 * (k_pad bytes), one throw-away output row for a last block of fewer than four pixels. */
int32_t ek_conv2d_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c)
{
    return 9 * k_pad + ((output_c + 3) & ~3);
}

/* The same scratch as ek_conv2d_dsp_s8. */
int32_t ek_conv2d_int4_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c)
{
    return ek_conv2d_dsp_s8_scratch_bytes(k_pad, output_c);
}

/* The same scratch as ek_conv2d_dsp_s8 (its k_pad a multiple of 16). */
int32_t ek_conv2d_sparse_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c)
{
    return ek_conv2d_dsp_s8_scratch_bytes(k_pad, output_c);
}

/* The output pixels a walk makes (row-major indices of the whole output): first .. end - 1, pixel
 * q at output + (q - first) * output_c, or from pixel `split` on at spill + (q - split) * output_c
 * (ek_conv2d_dsp_s8_span; a whole call: 0 .. pixels, split at the end). */
typedef struct {
    int32_t first, end, split;
    int8_t *spill;
} ek_span;

EK_INLINE int8_t *span_out(const ek_span *sp, int8_t *output, int32_t q, int32_t n_out)
{
    return q < sp->split ? output + (q - sp->first) * n_out : sp->spill + (q - sp->split) * n_out;
}

/* The int8 walk's last block when it has one pixel, output pixel pix: its column (straight from the
 * input, or gathered at the border) and channels_one on it. Out of the walk's loop, so that the loop
 * is as it is without it. */
EK_NOINLINE static void one_pixel(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output,
                                  const ek_walk *walk, ek_gemm_ctx *g, int8_t *col8, const int32_t *s,
                                  const ek_span *sp, int32_t pix)
{
    const int32_t ow = p->output_w, cs = p->input_c * p->groups, n_out = p->output_c;
    const int32_t oy = pix / ow, ox = pix % ow;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    uint32_t *cols = (uint32_t *)(uintptr_t)g->cols;
    int8_t *sink = col8 + p->k_pad;
    if ((p->groups == 1 || p->filter_w == 1) && iy0 >= 0 && iy0 + (p->filter_h - 1) * p->dilation_h < p->input_h &&
        ix0 >= 0 && ix0 + p->filter_w <= p->input_w) {
        column(walk, input + (iy0 * p->input_w + ix0) * cs, p->dilation_h * p->input_w * cs, cols);
    } else {
        column(walk, p->groups == 1 ? gather(p, input, oy, ox, col8) : gather_grouped(p, input, oy, ox, col8),
               p->filter_w * p->input_c, cols);
    }
    g->out[0] = span_out(sp, output, pix, n_out);
    g->out[1] = g->out[2] = g->out[3] = sink;
    if (p->dead_row != NULL) {
        memcpy(g->out[0], p->dead_row, (size_t)n_out);
    }
    channels_one(s, g);
    if (!p->act_full) {
        clamp_pixels(g->out, n_out, p->act_min, p->act_max);
    }
}

/* The channel loops the pixel walk can take (a constant where it is inlined). */
#define EK_WALK_INT8 0
#define EK_WALK_INT4 1
#define EK_WALK_SPARSE 2

/* The pixel walk of the three kernels over one group (`input` at its first channel, `s` its part
 * of the stream: the whole input and stream when ungrouped); kind (EK_WALK_*) picks the channel
 * loop. */
EK_INLINE void conv_walk(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                         int32_t kind, const int32_t *s, const ek_span *sp)
{
    const int32_t int4 = kind == EK_WALK_INT4;
    const int32_t n_out = p->output_c, ow = p->output_w, c = p->input_c, groups = p->groups;
    const int32_t cs = c * groups; /* the bytes of an input pixel */
    const int32_t first = sp->first, stop = sp->end, split = sp->split; /* (stop: one past the last pixel) */
    const int32_t row = p->filter_w * c;
    const int32_t tail_bytes = (p->filter_h * (row & 3) + 3) & ~3;
    /* a window row's taps are contiguous in the input (else every window is gathered) */
    const int32_t contiguous = groups == 1 || p->filter_w == 1;
    uint32_t *cols = (uint32_t *)(void *)scratch;              /* [k_pad / 2][4] int16 pairs */
    int8_t *col8 = scratch + 8 * p->k_pad;                     /* a border window, gathered */
    const ek_walk walk = {row & ~3, row & 3, p->filter_h, row >= 4 && p->filter_h * (row & 3) <= 4};
    int8_t *sink = col8 + p->k_pad;                            /* outputs of missing pixels */
    const int32_t step = p->dilation_h * p->input_w * cs;      /* from a window row to the next */
    const int32_t span = (p->filter_h - 1) * p->dilation_h;    /* from a window's first row to its last */
    const int32_t x_step = p->stride_w * cs;
    /* the pairs a column fills: every row's whole words, then the gathered last bytes */
    const int32_t filled = 2 * (p->filter_h * (row >> 2)) + tail_bytes / 2;
    const int32_t pairs = p->k_pad / 2, entry = (8 - pairs % 8) % 8;
    const int32_t words = p->k_pad / 4; /* int4: a word of weights per two pairs */
    ek_gemm_ctx g = {(uintptr_t)cols - 16u * (uint32_t)(entry ? entry : 8),
                     (uintptr_t)cols + 16u * (uint32_t)pairs - 128u, 0u,
                     int4 ? (4 - words % 4) % 4 * EK_KQUAD_BYTES : entry * EK_KPAIR_BYTES,
                     {sink, sink, sink, sink}, cols, pairs};
    int32_t ox = first % ow, oy = first / ow;
    int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    int32_t rows_in = iy0 >= 0 && iy0 + span < p->input_h;
    int32_t at = (iy0 * p->input_w + ix0) * cs; /* the window's first tap (maybe outside the image) */

    /* the int8 stream's last block of one pixel is left to one_pixel (after the loop) */
    const int32_t end = kind == EK_WALK_INT8 && p->live_c > 0 && (stop - first) % 4 == 1 ? stop - 1 : stop;
    memset(cols + 4 * filled, 0, (size_t)(p->k_pad / 2 - filled) * 16u);
    for (int32_t pix = first; pix < end; pix += 4) {
        /* four windows inside the image, in one output row: their columns in one pass */
        if (walk.quick && contiguous && pix + 4 <= stop && ox + 4 <= ow && rows_in && ix0 >= 0 &&
            ix0 + 3 * p->stride_w + p->filter_w <= p->input_w) {
            const int8_t *src[4] = {input + at, input + at + x_step, input + at + 2 * x_step, input + at + 3 * x_step};
            column4(&walk, src, step, cols);
            if (pix + 4 <= split) { /* every pixel of the block at output (always, in a whole call) */
                int8_t *const o = output + (pix - first) * n_out;
                g.out[0] = o;
                g.out[1] = o + n_out;
                g.out[2] = o + 2 * n_out;
                g.out[3] = o + 3 * n_out;
            } else {
                for (int32_t j = 0; j < 4; ++j) {
                    g.out[j] = span_out(sp, output, pix + j, n_out);
                }
            }
            ox += 3;
            ix0 += 3 * p->stride_w;
            at += 3 * x_step;
            EK_CONV_NEXT_PIXEL();
        } else {
            for (int32_t j = 0; j < 4; ++j) {
                if (pix + j < stop) {
                    if (contiguous && rows_in && ix0 >= 0 && ix0 + p->filter_w <= p->input_w) {
                        column(&walk, input + at, step, cols + j);
                    } else {
                        column(&walk, groups == 1 ? gather(p, input, oy, ox, col8)
                                                  : gather_grouped(p, input, oy, ox, col8), row, cols + j);
                    }
                    g.out[j] = span_out(sp, output, pix + j, n_out);
                    EK_CONV_NEXT_PIXEL();
                } else { /* a last block of < 4 pixels: repeat the previous column, discard outputs */
                    const uint32_t *prev = cols + (j - 1);
                    for (int32_t q = 0; q < p->k_pad / 2; ++q) {
                        cols[4 * q + j] = prev[4 * q];
                    }
                    g.out[j] = sink;
                }
            }
        }
        if (p->dead_row != NULL) { /* ungrouped only (see ek_conv2d_dsp.h) */
            for (int32_t j = 0; j < 4; ++j) {
                memcpy(g.out[j], p->dead_row, (size_t)n_out);
            }
        }
        if (p->live_c > 0) {
            if (kind == EK_WALK_INT4) {
                channels_int4(s, &g);
            } else if (kind == EK_WALK_SPARSE) {
                channels_sparse(s, &g);
            } else {
                channels(s, &g);
            }
        }
        if (!p->act_full) {
            clamp_pixels(g.out, n_out, p->act_min, p->act_max);
        }
    }
    if (end < stop) {
        one_pixel(p, input, output, &walk, &g, col8, s, sp, end);
    }
}

/* Each kernel's walk as a function of its own (word-aligned: the channel loop inlined in it takes
 * its entry's address with ADR, which adds to the word-aligned PC and which the assembler resolves
 * within the section as if the section started on a word; -O2 and -O3 align functions so, -O1,
 * -Og, -Os and -Oz only to 2 bytes, and in a link that placed the function at 2 mod 4 the loop was
 * entered 2 bytes off: a hang). Not inlined into the group loop below: the walk keeps its
 * registers to itself. */
EK_ALIGNED(4) EK_NOINLINE static void walk_int8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output,
                                                int8_t *scratch, const int32_t *s, const ek_span *sp)
{
    conv_walk(p, input, output, scratch, EK_WALK_INT8, s, sp);
}

EK_ALIGNED(4) EK_NOINLINE static void walk_int4(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output,
                                                int8_t *scratch, const int32_t *s, const ek_span *sp)
{
    conv_walk(p, input, output, scratch, EK_WALK_INT4, s, sp);
}

EK_ALIGNED(4) EK_NOINLINE static void walk_sparse(const ek_conv2d_dsp_params *p, const int8_t *input,
                                                  int8_t *output, int8_t *scratch, const int32_t *s,
                                                  const ek_span *sp)
{
    conv_walk(p, input, output, scratch, EK_WALK_SPARSE, s, sp);
}

/* Every group's walk, one after another (groups 1: the whole convolution). A group's part of the
 * stream is its channel pairs' biases, weights and terms (int4: a word per two pairs of k). */
typedef void ek_conv_walk_fn(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                             const int32_t *s, const ek_span *sp);

static void conv_groups(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                        ek_conv_walk_fn *walk, int32_t k_words, const ek_span *sp)
{
    const int32_t group_words = (p->output_c / p->groups + 1) / 2 * (8 + k_words);
    const int32_t *s = p->stream;
    for (int32_t g = 0; g < p->groups; ++g, s += group_words) {
        walk(p, input + g * p->input_c, output, scratch, s, sp);
    }
}

/* The whole output: pixels 0 .. output_h * output_w - 1 at output. */
EK_INLINE ek_span whole_span(const ek_conv2d_dsp_params *p)
{
    const int32_t pixels = p->output_h * p->output_w;
    const ek_span sp = {0, pixels, pixels, NULL};
    return sp;
}

void ek_conv2d_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const ek_span sp = whole_span(p);
    conv_groups(p, input, output, scratch, walk_int8, p->k_pad / 2, &sp);
}

void ek_conv2d_dsp_s8_span(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first, int32_t end, int8_t *spill, int32_t split)
{
    const ek_span sp = {first, end, split, spill};
    conv_groups(p, input, output, scratch, walk_int8, p->k_pad / 2, &sp);
}

void ek_conv2d_int4_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const ek_span sp = whole_span(p);
    conv_groups(p, input, output, scratch, walk_int4, p->k_pad / 4, &sp);
}

void ek_conv2d_sparse_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const ek_span sp = whole_span(p);
    conv_groups(p, input, output, scratch, walk_sparse, p->k_pad / 2, &sp); /* groups 1: the stride is not used */
}

/* Scratch: the walk's (ek_conv2d_dsp_s8's), then a chunk of decoded channel pairs, each
 * 2 + k_pad / 2 + 6 words. */
int32_t ek_conv2d_pal_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c, int32_t chunk_pairs)
{
    return ek_conv2d_dsp_s8_scratch_bytes(k_pad, output_c) + chunk_pairs * (8 + k_pad / 2) * 4;
}

/* A word of the int8 stream from the four `bits`-wide indices at bit `at` of `code` (LSB first):
 * bytes 0 and 2 are the pair's first channel's weights (table t0), bytes 1 and 3 its second's (t1). */
#define EK_PAL_WORD(code, at, bits, t0, t1)                                                        \
    ((uint32_t)(t0)[((code) >> (at)) & ((1u << (bits)) - 1u)] |                                     \
     (uint32_t)(t1)[((code) >> ((at) + (bits))) & ((1u << (bits)) - 1u)] << 8 |                     \
     (uint32_t)(t0)[((code) >> ((at) + 2 * (bits))) & ((1u << (bits)) - 1u)] << 16 |                \
     (uint32_t)(t1)[((code) >> ((at) + 3 * (bits))) & ((1u << (bits)) - 1u)] << 24)

/* `words` words of the int8 stream from the `bits`-wide indices at `codes` (8 / bits words of it
 * per word of indices); the next word of indices. Each word of indices is written out with
 * constant shifts (a UBFX and a LDRB per weight), a last partial one word by word. */
static const uint32_t *pal_words(const uint32_t *codes, int32_t words, int32_t bits, const uint8_t *t0,
                                 const uint8_t *t1, int32_t *out)
{
    const int32_t per_code = 8 / bits;
    int32_t i = 0;
    if (bits == 4) {
        for (; i + 2 <= words; i += 2, out += 2) {
            const uint32_t c = *codes++;
            out[0] = (int32_t)EK_PAL_WORD(c, 0, 4, t0, t1);
            out[1] = (int32_t)EK_PAL_WORD(c, 16, 4, t0, t1);
        }
    } else if (bits == 2) {
        for (; i + 4 <= words; i += 4, out += 4) {
            const uint32_t c = *codes++;
            out[0] = (int32_t)EK_PAL_WORD(c, 0, 2, t0, t1);
            out[1] = (int32_t)EK_PAL_WORD(c, 8, 2, t0, t1);
            out[2] = (int32_t)EK_PAL_WORD(c, 16, 2, t0, t1);
            out[3] = (int32_t)EK_PAL_WORD(c, 24, 2, t0, t1);
        }
    }
    if (i < words) { /* 1 bit, or a partial last word of indices */
        for (uint32_t c = 0; i < words; ++i, c >>= 4 * bits) {
            if (i % per_code == 0) {
                c = *codes++;
            }
            *out++ = (int32_t)EK_PAL_WORD(c, 0, bits, t0, t1);
        }
    }
    return codes;
}

/* n channel pairs of the palettized stream at s decoded into the int8 kernel's stream at out (no
 * pair flagged last); the palettized stream's next pair. */
static const int32_t *pal_decode(const int32_t *s, int32_t n, int32_t k_pad, int32_t bits, int32_t *out)
{
    const int32_t words = k_pad / 2;
    for (int32_t q = 0; q < n; ++q) {
        const uint8_t *t0 = (const uint8_t *)(s + 2), *t1 = t0 + (1 << bits);
        const uint32_t *codes = (const uint32_t *)(s + 2 + (1 << (bits - 1)));
        out[0] = s[0];
        out[1] = s[1];
        codes = pal_words(codes, words, bits, t0, t1, out + 2);
        out += 2 + words;
        s = (const int32_t *)codes;
        for (int32_t t = 0; t < 6; ++t) {
            *out++ = *s++;
        }
        out[-1] = (int32_t)((uint32_t)out[-1] & ~EK_LAST_PAIR);
    }
    return s;
}

void ek_conv2d_pal_dsp_s8(const ek_conv2d_pal_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    ek_conv2d_dsp_params c = p->conv; /* its stream the decoded chunk, its dead row the first chunk's */
    int32_t *chunk = (int32_t *)(void *)(scratch + ek_conv2d_dsp_s8_scratch_bytes(c.k_pad, c.output_c));
    const int32_t pairs = (c.live_c + 1) / 2, pair_words = 8 + c.k_pad / 2;
    const int32_t clamp_after = !c.act_full && pairs > p->chunk_pairs; /* once, not once a chunk */
    const int32_t *s = p->conv.stream;
    const ek_span sp = whole_span(&c);
    if (clamp_after) {
        c.act_full = 1;
    }
    if (pairs == 0) { /* every channel constant */
        walk_int8(&c, input, output, scratch, chunk, &sp);
    }
    for (int32_t first = 0; first < pairs; first += p->chunk_pairs) {
        const int32_t n = ek_min_i32(p->chunk_pairs, pairs - first);
        s = pal_decode(s, n, c.k_pad, p->bits, chunk);
        chunk[n * pair_words - 1] = (int32_t)((uint32_t)chunk[n * pair_words - 1] | EK_LAST_PAIR);
        walk_int8(&c, input, output, scratch, chunk, &sp);
        c.dead_row = NULL; /* written with the first chunk's outputs */
    }
    if (clamp_after) {
        const int32_t n = c.output_h * c.output_w * c.output_c;
        for (int32_t i = 0; i < n; ++i) {
            output[i] = (int8_t)ek_clamp_i32(output[i], c.act_min, c.act_max);
        }
    }
}

/* One group of four k (input bytes x[0..3]) of a channel pair, its eight `bits`-wide indices at bit
 * `at` of `code` in the int8 stream's byte order: (first channel, k0), (second, k0), (first, k2),
 * (second, k2), then k1 and k3 the same way (SXTB16's pairs, ek_conv2d_dsp.h). */
#define EK_PAL_GROUP(code, at, bits, x, a0, a1)                                                     \
    do {                                                                                           \
        const uint32_t m_ = (1u << (bits)) - 1u;                                                   \
        (a0) += t0[((code) >> (at)) & m_] * (x)[0] + t0[((code) >> ((at) + 2 * (bits))) & m_] * (x)[2] + \
                t0[((code) >> ((at) + 4 * (bits))) & m_] * (x)[1] +                                \
                t0[((code) >> ((at) + 6 * (bits))) & m_] * (x)[3];                                 \
        (a1) += t1[((code) >> ((at) + (bits))) & m_] * (x)[0] +                                    \
                t1[((code) >> ((at) + 3 * (bits))) & m_] * (x)[2] +                                \
                t1[((code) >> ((at) + 5 * (bits))) & m_] * (x)[1] +                                \
                t1[((code) >> ((at) + 7 * (bits))) & m_] * (x)[3];                                 \
    } while (0)

/* A channel pair's two sums of weight x input over `groups` groups of four k, its indices at codes
 * (bits a constant where it is inlined); the next word of the stream. */
EK_INLINE const uint32_t *pal_pixel_dot(const uint32_t *codes, int32_t groups, int32_t bits, const int8_t *t0,
                                        const int8_t *t1, const int8_t *x, int32_t sums[2])
{
    const int32_t per_code = 4 / bits; /* groups per word of indices */
    int32_t a0 = 0, a1 = 0, g = 0;
    for (; g + per_code <= groups; g += per_code, x += 4 * per_code) {
        const uint32_t c = *codes++;
        for (int32_t j = 0; j < per_code; ++j) { /* unrolled: per_code is a constant */
            EK_PAL_GROUP(c, 8 * bits * j, bits, x + 4 * j, a0, a1);
        }
    }
    if (g < groups) { /* a last partial word of indices */
        const uint32_t c = *codes++;
        for (int32_t j = 0; g < groups; ++g, ++j, x += 4) {
            EK_PAL_GROUP(c, 8 * bits * j, bits, x, a0, a1);
        }
    }
    sums[0] = a0;
    sums[1] = a1;
    return codes;
}

void ek_conv2d_pal_dsp_pixel_s8(const ek_conv2d_pal_dsp_params *p, const int8_t *input, int8_t *output)
{
    const ek_conv2d_dsp_params *c = &p->conv;
    const int32_t bits = p->bits, groups = c->k_pad / 4, pairs = (c->live_c + 1) / 2;
    const int32_t *s = c->stream;
    if (c->dead_row != NULL) {
        memcpy(output, c->dead_row, (size_t)c->output_c);
    }
    for (int32_t q = 0; q < pairs; ++q) {
        const int8_t *t0 = (const int8_t *)(s + 2), *t1 = t0 + (1 << bits);
        const uint32_t *codes = (const uint32_t *)(s + 2 + (1 << (bits - 1)));
        int32_t sums[2];
        codes = bits == 4   ? pal_pixel_dot(codes, groups, 4, t0, t1, input, sums)
                : bits == 2 ? pal_pixel_dot(codes, groups, 2, t0, t1, input, sums)
                            : pal_pixel_dot(codes, groups, 1, t0, t1, input, sums);
        const int32_t *terms = (const int32_t *)codes;
        for (int32_t n = 0; n < 2; ++n, terms += 3) {
            const int32_t acc2 = s[n] + 2 * sums[n]; /* the doubled accumulator ek_requant2 takes */
            const int32_t y = ek_ssat8(ek_requant2_clamped(acc2, terms[0], terms[1], terms[2] & 0xFF));
            output[((uint32_t)terms[2] >> 8) & 0xFFFFu] = (int8_t)ek_clamp_i32(y, c->act_min, c->act_max);
        }
        s = terms;
    }
}

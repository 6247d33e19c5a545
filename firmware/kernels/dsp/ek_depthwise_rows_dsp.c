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

/* Two pixels' words of four channels, va and vb, as one word per channel (pixel a, pixel b) into
 * the four planes from d (`words` words apart): packed halfword-wise (PKHBT/PKHTB), unpacked
 * (SXTB16, SXTB16 ROR 8). */
EK_INLINE void widen_quad(uint32_t va, uint32_t vb, uint32_t *d, int32_t words)
{
    const uint32_t lo = ek_pack_lo(va, vb);
    const uint32_t hi = ek_pack_hi(va, vb);
    d[0] = ek_sxtb16(lo);
    d[words] = ek_sxtb16_ror8(lo);
    d[2 * words] = ek_sxtb16(hi);
    d[3 * words] = ek_sxtb16_ror8(hi);
}

#if EK_DSP_ASM
/* One quad's four plane words from the pixels' words va, vb (loaded by LOADS): PKHBT/PKHTB, then
 * each SXTB16 stored to its plane (w4: the bytes between two channels' planes), d to the next quad. */
#define EK_WIDEN_QUAD(LOADS)                          \
    LOADS                                             \
    "pkhbt  %[lo], %[va], %[vb], lsl #16\n\t"         \
    "pkhtb  %[vb], %[vb], %[va], asr #16\n\t"         \
    "sxtb16 %[va], %[lo]\n\t"                         \
    "str    %[va], [%[d]]\n\t"                        \
    "sxtb16 %[lo], %[lo], ror #8\n\t"                 \
    "str    %[lo], [%[d], %[w4]]\n\t"                 \
    "add    %[d], %[d], %[w4], lsl #1\n\t"            \
    "sxtb16 %[va], %[vb]\n\t"                         \
    "str    %[va], [%[d]]\n\t"                        \
    "sxtb16 %[vb], %[vb], ror #8\n\t"                 \
    "str    %[vb], [%[d], %[w4]]\n\t"                 \
    "add    %[d], %[d], %[w4], lsl #1\n\t"

#define EK_WIDEN_LOOP(LOADS, ...)                                                              \
    do {                                                                                       \
        uint32_t va, vb, lo;                                                                   \
        const uint32_t *end_ = (const uint32_t *)(const void *)d + (uint32_t)g * (uint32_t)words; \
        __asm__ volatile("tst    %[g], #4\n\t"                                                 \
                         "beq    1f\n\t"                                                       \
                         EK_WIDEN_QUAD(LOADS)                                                  \
                         "cmp    %[d], %[end]\n\t"                                             \
                         "beq    2f\n\t"                                                       \
                         ".p2align 2\n\t"                                                      \
                         "1:\n\t"                                                              \
                         EK_WIDEN_QUAD(LOADS) EK_WIDEN_QUAD(LOADS)                             \
                         "cmp    %[d], %[end]\n\t"                                             \
                         "bne    1b\n\t"                                                       \
                         "2:\n\t"                                                              \
                         : [d] "+r"(d), [va] "=&r"(va), [vb] "=&r"(vb), [lo] "=&r"(lo), __VA_ARGS__ \
                         : [w4] "r"(4 * words), [g] "r"(g), [end] "r"(end_)                    \
                         : "cc", "memory");                                                    \
    } while (0)

/* Channels 0 .. g - 1 (g a multiple of 4) of two pixels of the image, a and b, into the planes from
 * d: a quad (four channels) a step, two steps an iteration. */
EK_INLINE void widen_pair(const int8_t *a, const int8_t *b, uint32_t *d, int32_t words, int32_t g)
{
    EK_WIDEN_LOOP("ldr    %[va], [%[a]], #4\n\t"
                  "ldr    %[vb], [%[b]], #4\n\t", [a] "+r"(a), [b] "+r"(b));
}

/* The same with pixel a outside the image: the zero point's word zpw in its place. */
EK_INLINE void widen_pair_zp_a(uint32_t zpw, const int8_t *b, uint32_t *d, int32_t words, int32_t g)
{
    EK_WIDEN_LOOP("mov    %[va], %[zpw]\n\t"
                  "ldr    %[vb], [%[b]], #4\n\t", [b] "+r"(b), [zpw] "+r"(zpw));
}

/* The same with pixel b outside the image. */
EK_INLINE void widen_pair_zp_b(const int8_t *a, uint32_t zpw, uint32_t *d, int32_t words, int32_t g)
{
    EK_WIDEN_LOOP("ldr    %[va], [%[a]], #4\n\t"
                  "mov    %[vb], %[zpw]\n\t", [a] "+r"(a), [zpw] "+r"(zpw));
}

/* Eight channels (a group of eight: a streamed call's, where rows are short) of `pairs` (>= 1) pairs
 * of pixels of the image, (a, a + ch), (a + 2 ch, a + 3 ch), ..., into plane words dst, dst + 1, ...:
 * an iteration a pair, its two quads written out. */
static void widen_pairs8(const int8_t *a, int32_t ch, uint32_t *dst, int32_t words, int32_t pairs)
{
    const int8_t *b = a + ch;
    const uint32_t *end = dst + pairs;
    uint32_t *d, va, vb, lo;
    __asm__ volatile(".p2align 2\n\t"
                     "1:\n\t"
                     "mov    %[d], %[dst]\n\t"
                     EK_WIDEN_QUAD("ldr    %[va], [%[a]]\n\t"
                                   "ldr    %[vb], [%[b]]\n\t")
                     EK_WIDEN_QUAD("ldr    %[va], [%[a], #4]\n\t"
                                   "ldr    %[vb], [%[b], #4]\n\t")
                     "add    %[a], %[a], %[ch2]\n\t"
                     "add    %[b], %[b], %[ch2]\n\t"
                     "add    %[dst], %[dst], #4\n\t"
                     "cmp    %[dst], %[end]\n\t"
                     "bne    1b\n\t"
                     : [a] "+r"(a), [b] "+r"(b), [dst] "+r"(dst), [d] "=&r"(d), [va] "=&r"(va), [vb] "=&r"(vb),
                       [lo] "=&r"(lo)
                     : [ch2] "r"(2 * ch), [w4] "r"(4 * words), [end] "r"(end)
                     : "cc", "memory");
}
#else
/* Channels 0 .. g - 1 (g a multiple of 4) of two pixels of the image, a and b, into the planes from
 * d, a quad (four channels) a step. */
EK_INLINE void widen_pair(const int8_t *a, const int8_t *b, uint32_t *d, int32_t words, int32_t g)
{
    for (int32_t q = 0; q < g; q += 4, a += 4, b += 4, d += 4 * words) {
        widen_quad(ek_read32(a), ek_read32(b), d, words);
    }
}

/* The same with pixel a outside the image: the zero point's word zpw in its place. */
EK_INLINE void widen_pair_zp_a(uint32_t zpw, const int8_t *b, uint32_t *d, int32_t words, int32_t g)
{
    for (int32_t q = 0; q < g; q += 4, b += 4, d += 4 * words) {
        widen_quad(zpw, ek_read32(b), d, words);
    }
}

/* The same with pixel b outside the image. */
EK_INLINE void widen_pair_zp_b(const int8_t *a, uint32_t zpw, uint32_t *d, int32_t words, int32_t g)
{
    for (int32_t q = 0; q < g; q += 4, a += 4, d += 4 * words) {
        widen_quad(ek_read32(a), zpw, d, words);
    }
}
#endif

/* Input rows iy .. iy + n - 1 of channels c0 .. c0 + g - 1 into n consecutive slots from `slot`:
 * one int16 plane row per channel (3 * row_len int16 apart: the ring is [channel][slot][row_len]).
 * The slots' padding columns hold the zero point already (every slot is filled with it first,
 * and only the words holding image pixels are written here). With g a multiple of 4, pixels go
 * in pairs whose first one is at an even plane index (a word of the zero point stands for the
 * padding pixel that completes a pair at either end of the row). One call for a window's rows. */
static void widen_rows(const ek_depthwise_rows_params *p, const int8_t *input, int32_t iy, int32_t n,
                       int16_t *slot, int32_t c0, int32_t g)
{
    const int32_t ch = p->channels, w = p->input_w, len = p->row_len, cs = 3 * len, pl = p->pad_left;
    if (g % 4 == 0) {
        const uint32_t zpw = (uint32_t)(uint8_t)p->pad_value * 0x01010101u;
        const int32_t first = pl % 2;             /* pixel 0 pairs with the padding before it */
        const int32_t last = (w - first) % 2;     /* pixel w - 1 pairs with the padding after it */
        for (int32_t r = 0; r < n; ++r) {
            const int8_t *a = input + (iy + r) * w * ch + c0;
            uint32_t *d = (uint32_t *)(void *)(slot + r * len + pl - first);
            int32_t pairs = (w - first) / 2;      /* pairs of image pixels */
            if (first) {
                widen_pair_zp_a(zpw, a, d++, cs / 2, g);
                a += ch;
            }
#if EK_DSP_ASM
            if (g == 8 && pairs > 0) {
                widen_pairs8(a, ch, d, cs / 2, pairs);
                a += 2 * ch * pairs;
                d += pairs;
                pairs = 0;
            }
#endif
            for (; pairs > 0; --pairs, a += 2 * ch) {
                widen_pair(a, a + ch, d++, cs / 2, g);
            }
            if (last) {
                widen_pair_zp_b(a, zpw, d, cs / 2, g);
            }
        }
        return;
    }
    for (int32_t r = 0; r < n; ++r) {
        const int8_t *row = input + (iy + r) * w * ch + c0;
        for (int32_t ix = 0; ix < w; ++ix) {
            int16_t *dst = slot + r * len + pl + ix;
            const int8_t *a = row + ix * ch;
            for (int32_t c = 0; c < g; ++c, dst += cs) {
                *dst = a[c];
            }
        }
    }
}

/* n int16 of the zero point (n even, dst word-aligned). */
static void fill_zp(int16_t *dst, int32_t n, int32_t zp)
{
    const uint32_t v = (uint32_t)(uint16_t)zp * 0x00010001u;
    uint32_t *d = (uint32_t *)(void *)dst;
    for (int32_t i = 0; i < n / 2; ++i) {
        d[i] = v;
    }
}

/* What the channel loop needs besides registers, per output row (asm memory operands). */
typedef struct {
    int32_t adv;     /* bytes added to each row pointer after a channel (next plane, minus the blocks) */
    int32_t out_adv; /* bytes added to the output pointer after a channel: 1 - outputs * channels */
    uint32_t blocks; /* (-blocks of four per channel) << 16 */
    int32_t tail;    /* outputs after them: 0, 1 or 2 */
    uintptr_t w_end; /* the weights after the group's last channel */
} ek_dw_row;

#if EK_DSP_ASM
/* The byte offsets of a channel record's parts (ek_depthwise_rows_dsp.h), as immediates of the
 * assembly loops, which address the record through them, never through numbers of their own:
 * filter row k's pairs at o_w + 8k and o_w + 8k + 4, the four requantization terms from o_rq. */
#define EK_DWR_OFFSETS                                                                              \
    [o_w] "i"(4 * EK_DWR_PAIRS), [o_rq] "i"(4 * EK_DWR_REQUANT), [o_next] "i"(4 * EK_DWR_WORDS)

/* One filter row of a stride-1 block of four: words X01 X23 (then X45 into x01's register) and
 * the row's weight pairs; eight halfword/dual MACs. I0..I3: what each accumulator adds to (the
 * first row: a3, loaded with 2 * bias, for all four; a3's own first MAC comes last). */
#define EK_ASM_ROW_S1(R, W01, W12, I0, I1, I2, I3)                                                  \
    "ldr    %[x01], [%[" R "]], #8\n\t"                                                             \
    "ldr    %[x23], [%[" R "], #-4]\n\t"                                                            \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                                                           \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                                                           \
    "smlad  %[a0], %[x01], %[w01], %[" I0 "]\n\t"                                                   \
    "smlatb %[a1], %[x01], %[w01], %[" I1 "]\n\t"                                                   \
    "ldr    %[x01], [%[" R "]]\n\t"                                                                 \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"                                                       \
    "smlad  %[a1], %[x23], %[w12], %[a1]\n\t"                                                       \
    "smlad  %[a2], %[x23], %[w01], %[" I2 "]\n\t"                                                   \
    "smlatb %[a3], %[x23], %[w01], %[" I3 "]\n\t"                                                   \
    "smlabt %[a2], %[x01], %[w12], %[a2]\n\t"                                                       \
    "smlad  %[a3], %[x01], %[w12], %[a3]\n\t"

/* The same for stride 2: output j reads words j (two taps) and j + 1 (its low tap). */
#define EK_ASM_ROW_S2(R, W01, W12, I0, I1, I2, I3)                                                  \
    "ldr    %[x01], [%[" R "]], #16\n\t"                                                            \
    "ldr    %[x23], [%[" R "], #-12]\n\t"                                                           \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                                                           \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                                                           \
    "smlad  %[a0], %[x01], %[w01], %[" I0 "]\n\t"                                                   \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"                                                       \
    "smlad  %[a1], %[x23], %[w01], %[" I1 "]\n\t"                                                   \
    "ldr    %[x01], [%[" R "], #-8]\n\t"                                                            \
    "smlabt %[a1], %[x01], %[w12], %[a1]\n\t"                                                       \
    "smlad  %[a2], %[x01], %[w01], %[" I2 "]\n\t"                                                   \
    "ldr    %[x23], [%[" R "], #-4]\n\t"                                                            \
    "smlabt %[a2], %[x23], %[w12], %[a2]\n\t"                                                       \
    "smlad  %[a3], %[x23], %[w01], %[" I3 "]\n\t"                                                   \
    "ldr    %[x01], [%[" R "]]\n\t"                                                                 \
    "smlabt %[a3], %[x01], %[w12], %[a3]\n\t"

/* One output (either stride: its taps are the first three of words X01 X23). */
#define EK_ASM_ONE(R, W01, W12, I0)                                                                 \
    "ldr    %[x01], [%[" R "]]\n\t"                                                                 \
    "ldr    %[x23], [%[" R "], #4]\n\t"                                                             \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                                                           \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                                                           \
    "smlad  %[a0], %[x01], %[w01], %[" I0 "]\n\t"                                                   \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"

/* A block of two, stride 1: words X01 X23. */
#define EK_ASM_HALF_S1(R, W01, W12, I0, I1)                                                         \
    "ldr    %[x01], [%[" R "]], #4\n\t"                                                             \
    "ldr    %[x23], [%[" R "]]\n\t"                                                                 \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                                                           \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                                                           \
    "smlad  %[a0], %[x01], %[w01], %[" I0 "]\n\t"                                                   \
    "smlatb %[a1], %[x01], %[w01], %[" I1 "]\n\t"                                                   \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"                                                       \
    "smlad  %[a1], %[x23], %[w12], %[a1]\n\t"

/* A block of two, stride 2: words X01 X23 X45. */
#define EK_ASM_HALF_S2(R, W01, W12, I0, I1)                                                         \
    "ldr    %[x01], [%[" R "]], #8\n\t"                                                             \
    "ldr    %[x23], [%[" R "], #-4]\n\t"                                                            \
    "ldr    %[w01], [%[w], #" W01 "]\n\t"                                                           \
    "ldr    %[w12], [%[w], #" W12 "]\n\t"                                                           \
    "smlad  %[a0], %[x01], %[w01], %[" I0 "]\n\t"                                                   \
    "smlabt %[a0], %[x23], %[w12], %[a0]\n\t"                                                       \
    "ldr    %[x01], [%[" R "]]\n\t"                                                                 \
    "smlad  %[a1], %[x23], %[w01], %[" I1 "]\n\t"                                                   \
    "smlabt %[a1], %[x01], %[w12], %[a1]\n\t"

#if EK_REQUANT_BELOW_ZERO_POINT
#define EK_ASM_SIGN_TERM(A) "add    %[x01], %[x01], %[" A "], asr #31\n\t"
#else
#define EK_ASM_SIGN_TERM(A)
#endif

/* Requantize accumulator A (ek_requant2_clamped: SMMLAR, the sign term if kept, shift),
 * saturate, store, step. */
#define EK_ASM_OUT(A)                                                                               \
    "smmlar %[x01], %[" A "], %[w01], %[w12]\n\t"                                                   \
    EK_ASM_SIGN_TERM(A)                                                                             \
    "asr    %[x01], %[x01], %[x23]\n\t"                                                             \
    "ssat   %[x01], #8, %[x01]\n\t"                                                                 \
    "strb   %[x01], [%[out]]\n\t"                                                                   \
    "uxtah  %[out], %[out], %[chn]\n\t"

#define EK_ASM_RQ                                                                                   \
    "ldr    %[w01], [%[w], #%c[o_rq]+4]\n\t"                                                        \
    "ldr    %[w12], [%[w], #%c[o_rq]+8]\n\t"                                                        \
    "ldr    %[x23], [%[w], #%c[o_rq]+12]\n\t"

/* Every channel's blocks of one output row (saturated to int8). The loops use every
 * allocatable register, so they are written out; outputs_c is the same computation in C.
 * chn: the output stride (channels) in its low halfword, and in its high halfword minus the
 * blocks left: each block adds 1 << 16, the carry out of the last one ends the loop. */
#define EK_ASM_ROW(ROW, HALF)                                                                       \
    __asm__ volatile(".p2align 2\n\t"                                                               \
                     "2:\n\t"                                                                       \
                     "ldr    %[x01], %[blocks]\n\t"                                                 \
                     "add    %[chn], %[chn], %[x01]\n\t"                                            \
                     ".p2align 2\n\t"                                                               \
                     "1:\n\t"                                                                       \
                     "ldr    %[a3], [%[w], #%c[o_rq]]\n\t"                                          \
                     ROW("r0", "%c[o_w]", "%c[o_w]+4", "a3", "a3", "a3", "a3")                      \
                     ROW("r1", "%c[o_w]+8", "%c[o_w]+12", "a0", "a1", "a2", "a3")                   \
                     ROW("r2", "%c[o_w]+16", "%c[o_w]+20", "a0", "a1", "a2", "a3")                  \
                     EK_ASM_RQ                                                                      \
                     EK_ASM_OUT("a0") EK_ASM_OUT("a1") EK_ASM_OUT("a2") EK_ASM_OUT("a3")            \
                     "adds   %[chn], %[chn], #65536\n\t"                                            \
                     "bcc    1b\n\t"                                                                \
                     "ldr    %[x01], %[tail]\n\t"                                                   \
                     "cmp    %[x01], #1\n\t"                                                        \
                     "blo    3f\n\t"                                                                \
                     "ldr    %[a3], [%[w], #%c[o_rq]]\n\t"                                          \
                     "beq    4f\n\t"                                                                \
                     HALF("r0", "%c[o_w]", "%c[o_w]+4", "a3", "a3")                                 \
                     HALF("r1", "%c[o_w]+8", "%c[o_w]+12", "a0", "a1")                              \
                     HALF("r2", "%c[o_w]+16", "%c[o_w]+20", "a0", "a1")                             \
                     EK_ASM_RQ                                                                      \
                     EK_ASM_OUT("a0") EK_ASM_OUT("a1")                                              \
                     "b      3f\n\t"                                                                \
                     "4:\n\t"                                                                       \
                     EK_ASM_ONE("r0", "%c[o_w]", "%c[o_w]+4", "a3")                                 \
                     EK_ASM_ONE("r1", "%c[o_w]+8", "%c[o_w]+12", "a0")                              \
                     EK_ASM_ONE("r2", "%c[o_w]+16", "%c[o_w]+20", "a0")                             \
                     EK_ASM_RQ                                                                      \
                     EK_ASM_OUT("a0")                                                               \
                     "3:\n\t"                                                                       \
                     "ldr    %[x01], %[adv]\n\t"                                                    \
                     "add    %[r0], %[r0], %[x01]\n\t"                                              \
                     "add    %[r1], %[r1], %[x01]\n\t"                                              \
                     "add    %[r2], %[r2], %[x01]\n\t"                                              \
                     "ldr    %[x01], %[out_adv]\n\t"                                                \
                     "add    %[out], %[out], %[x01]\n\t"                                            \
                     "add    %[w], %[w], #%c[o_next]\n\t"                                           \
                     "ldr    %[x01], %[w_end]\n\t"                                                  \
                     "cmp    %[w], %[x01]\n\t"                                                      \
                     "bne    2b\n\t"                                                                \
                     : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [out] "+r"(out), [w] "+r"(w),   \
                       [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),              \
                       [x01] "=&r"(x01), [x23] "=&r"(x23), [w01] "=&r"(w01), [w12] "=&r"(w12),      \
                       [chn] "+r"(chn)                                                              \
                     : [blocks] "m"(row->blocks), [tail] "m"(row->tail),                            \
                       [adv] "m"(row->adv), [out_adv] "m"(row->out_adv), [w_end] "m"(row->w_end),   \
                       EK_DWR_OFFSETS                                                               \
                     : "cc", "memory")

/* Inlined, so that row is on the stack (sp-relative operands): its address would take a
 * fifteenth register. -O1 and above inline it anyway (one call); -Og only when told to. */
EK_INLINE void row_asm(const uint32_t *r0, const uint32_t *r1, const uint32_t *r2, const uint32_t *w,
                       ek_dw_row *row, int8_t *out, int32_t ch, int32_t stride)
{
    int32_t a0, a1, a2, a3;
    uint32_t x01, x23, w01, w12, chn = (uint32_t)ch;
    if (stride == 1) {
        EK_ASM_ROW(EK_ASM_ROW_S1, EK_ASM_HALF_S1);
    } else {
        EK_ASM_ROW(EK_ASM_ROW_S2, EK_ASM_HALF_S2);
    }
}
#endif

#if !EK_DSP_ASM
/* One channel's n outputs (stride ch between them): the computation of the assembly loops in C,
 * for cores without the DSP extension, builds where EK_DSP_ASM is 0 (ek_dsp.h: -O0,
 * EK_DSP_NO_ASM) and the host. */
static void outputs_c(const ek_depthwise_rows_params *p, const uint32_t *const r[3], const uint32_t *w,
                      int8_t *out, int32_t ch, int32_t n)
{
    const int32_t *rq = (const int32_t *)(const void *)(w + EK_DWR_REQUANT);
    for (int32_t j = 0; j < n; ++j) {
        int32_t a = rq[0];
        for (int32_t k = 0; k < 3; ++k) {
            const int16_t *h = (const int16_t *)(const void *)r[k] + p->stride_w * j; /* taps h[0..2] */
            const uint32_t w01 = w[EK_DWR_PAIRS + 2 * k], w12 = w[EK_DWR_PAIRS + 2 * k + 1];
            a += h[0] * ek_lo16(w01) + h[1] * ek_hi16(w01) + h[2] * ek_hi16(w12);
        }
        out[j * ch] = (int8_t)ek_ssat8(ek_requant2_clamped(a, rq[1], rq[2], rq[3]));
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

/* The zero point into one slot of channels 0 .. g - 1 (a row outside the image). */
static void fill_slot_zp(int16_t *slot, int32_t g, int32_t len, int32_t zp)
{
    for (int32_t c = 0; c < g; ++c) {
        fill_zp(slot + c * 3 * len, len, zp);
    }
}

/* Scratch: the ring of plane rows (3 rows of row_len int16 per channel of the group:
 * 6 * row_len * group bytes), plus without `direct` one output row computed
 * before it is stored ((4 * blocks + tail) * channels bytes). */
int32_t ek_depthwise_rows_dsp_s8_record(int32_t field)
{
    static const int32_t words[EK_DWR_RECORD_FIELDS] = {EK_DWR_PAIRS, EK_DWR_REQUANT, EK_DWR_WORDS};
    return (field >= 0 && field < EK_DWR_RECORD_FIELDS) ? words[field] : -1;
}

int32_t ek_depthwise_rows_dsp_s8_scratch_bytes(int32_t row_len, int32_t group, int32_t channels, int32_t blocks,
                                               int32_t tail, int32_t direct)
{
    return 6 * row_len * group + (direct ? 0 : (4 * blocks + tail) * channels);
}

void ek_depthwise_rows_dsp_s8(const ek_depthwise_rows_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch)
{
    const int32_t ch = p->channels, len = p->row_len, g = p->group, ow = p->output_w;
    const int32_t ring = g == ch; /* one group: the plane rows are a ring, each input row widened once */
    const int32_t n_out = 4 * p->blocks + p->tail;
    int16_t *slots = (int16_t *)(void *)scratch; /* [channel][slot][len] */
    int8_t *row_buf = (int8_t *)(slots + 3 * g * len); /* one output row, without `direct` */
    int32_t slot_of[3];                          /* the slot of each filter row's input row */
    int32_t next_iy = 0;                         /* ring: the next input row to widen */

    /* every slot starts as the zero point: its padding columns stay so */
    fill_zp(slots, 3 * g * len, p->pad_value);
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        int8_t *dst = p->direct ? output + oy * ow * ch : row_buf;
        for (int32_t c0 = 0; c0 < ch; c0 += g) {
            int32_t lo = 3, hi = 0; /* the filter rows whose input row is inside the image: lo .. hi - 1 */
            for (int32_t k = 0; k < 3; ++k) {
                const int32_t iy = iy0 + k;
                const int inside = iy >= 0 && iy < p->input_h;
                /* ring: row iy lives in slot iy mod 3 (the window's three rows are distinct mod 3, so
                 * a row outside the image takes its slot as a row of the zero point); else slot k */
                const int32_t s = ring ? (iy % 3 + 3) % 3 : k;
                slot_of[k] = s;
                if (!inside) {
                    fill_slot_zp(slots + s * len, g, len, p->pad_value);
                } else if (!ring) {
                    lo = k < lo ? k : lo;
                    hi = k + 1;
                } else if (next_iy <= iy) {
                    next_iy = next_iy > iy0 ? next_iy : (iy0 > 0 ? iy0 : 0); /* rows above were never needed */
                    for (; next_iy <= iy; ++next_iy) {
                        widen_rows(p, input, next_iy, 1, slots + (next_iy % 3) * len, c0, g);
                    }
                }
            }
            if (lo < hi) { /* not the ring: the window's rows inside the image, into slots lo .. hi - 1 */
                widen_rows(p, input, iy0 + lo, hi - lo, slots + lo * len, c0, g);
            }
            const uint32_t *w = (const uint32_t *)(const void *)p->weights + EK_DWR_WORDS * c0;
            const uint32_t *r[3];
            for (int32_t k = 0; k < 3; ++k) {
                r[k] = (const uint32_t *)(const void *)(slots + slot_of[k] * len);
            }
#if EK_DSP_ASM
            const int32_t s = p->stride_w;
            /* the row pointers' advance: 8 * s bytes a block of four, 4 * s a block of two, none for one */
            ek_dw_row row = {6 * len - p->blocks * 8 * s - (p->tail == 2 ? 4 * s : 0), 1 - n_out * ch,
                             (uint32_t)-p->blocks << 16, p->tail, (uintptr_t)(w + EK_DWR_WORDS * g)};
            row_asm(r[0], r[1], r[2], w, &row, dst + c0, ch, s);
#else
            for (int32_t c = 0; c < g; ++c, w += EK_DWR_WORDS) {
                outputs_c(p, r, w, dst + c0 + c, ch, n_out);
                for (int32_t k = 0; k < 3; ++k) {
                    r[k] += 3 * len / 2;
                }
            }
#endif
        }
        if (p->act_min != -128 || p->act_max != 127) {
            clamp_row(dst, ow * ch, p->act_min, p->act_max);
        }
        if (!p->direct) {
            memcpy(output + oy * ow * ch, row_buf, (size_t)(ow * ch));
        }
    }
}

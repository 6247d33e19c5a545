#include "ek_conv3x3_wino_dsp.h"

#include "ek_dsp.h"

/* ---------------------------------------------------------------------------- input transform */

/* The 16 pixels of tile (ty, tx)'s 4x4 patch, row-major: each a pointer to the pixel's channel 0
 * in the input, or to a pixel of zero points when it lies outside the image. */
static void patch_pixels(const ek_conv3x3_wino_params *p, const int8_t *input, const int8_t *zp, int32_t ty,
                         int32_t tx, const int8_t *px[16])
{
    const int32_t iy0 = 2 * ty - p->pad_top, ix0 = 2 * tx - p->pad_left;
    for (int32_t r = 0; r < 4; ++r) {
        const int32_t iy = iy0 + r;
        const int row_in = iy >= 0 && iy < p->input_h;
        for (int32_t c = 0; c < 4; ++c) {
            const int32_t ix = ix0 + c;
            px[4 * r + c] = row_in && ix >= 0 && ix < p->input_w ? input + (iy * p->input_w + ix) * p->input_c : zp;
        }
    }
}

/* B^T applied to four values (int16 pairs; no carry between the halves: |x| <= 256 here). */
#define EK_BT(x0, x1, x2, x3, y0, y1, y2, y3) \
    do {                                      \
        (y0) = ek_ssub16((x0), (x2));         \
        (y1) = ek_sadd16((x1), (x2));         \
        (y2) = ek_ssub16((x2), (x1));         \
        (y3) = ek_ssub16((x1), (x3));         \
    } while (0)

/* Row r of B^T d for four channels at patch column k: patch rows A and B combined by OP (SADD16
 * or SSUB16), as the pairs (c0, c0 + 2) and (c0 + 1, c0 + 3). */
#define EK_TROW(A, B, OP, k, lo, hi)                                            \
    do {                                                                        \
        const uint32_t a_ = ek_read32(px[4 * (A) + (k)] + c0);                  \
        const uint32_t b_ = ek_read32(px[4 * (B) + (k)] + c0);                  \
        (lo) = OP(ek_sxtb16(a_), ek_sxtb16(b_));                                \
        (hi) = OP(ek_sxtb16_ror8(a_), ek_sxtb16_ror8(b_));                      \
    } while (0)

/* Row r of V = (B^T d) B: B^T d's row combines patch rows A and B by OP; its four values then
 * go through B^T again (B^T d B's row is B^T applied to B^T d's row) to positions 4r .. 4r + 3. */
#define EK_VROW(r, A, B, OP)                                                    \
    do {                                                                        \
        uint32_t l0, l1, l2, l3, h0, h1, h2, h3;                                \
        uint32_t *d_ = v + 4 * (r) * pw;                                        \
        EK_TROW(A, B, OP, 0, l0, h0);                                           \
        EK_TROW(A, B, OP, 1, l1, h1);                                           \
        EK_TROW(A, B, OP, 2, l2, h2);                                           \
        EK_TROW(A, B, OP, 3, l3, h3);                                           \
        EK_BT(l0, l1, l2, l3, d_[0], d_[pw], d_[2 * pw], d_[3 * pw]);           \
        EK_BT(h0, h1, h2, h3, d_[4], d_[pw + 4], d_[2 * pw + 4], d_[3 * pw + 4]); \
    } while (0)

/* V = B^T d B of one tile for input channels c0 .. c0 + 3: the pairs (c0, c0 + 2) go to channel
 * pair q = c0 / 2, the pairs (c0 + 1, c0 + 3) to q + 1 (SXTB16's order, the order U is stored in).
 * v points at [position 0][q][this tile]; positions are `pw` words apart. The rows of B^T d
 * are patch rows 0 - 2, 1 + 2, 2 - 1 and 1 - 3. */
static void transform_group(const int8_t *const px[16], int32_t c0, uint32_t *v, int32_t pw)
{
    EK_VROW(0, 0, 2, ek_ssub16);
    EK_VROW(1, 1, 2, ek_sadd16);
    EK_VROW(2, 2, 1, ek_ssub16);
    EK_VROW(3, 1, 3, ek_ssub16);
}

/* ---------------------------------------------------------------------------- channel loop */

/* Where the channel loop keeps what does not fit in registers (asm memory operands). */
typedef struct {
    uintptr_t x_end;    /* the end of the current position's V */
    uintptr_t stride;   /* bytes of V per position */
    int32_t *m;         /* the next position's accumulators */
    int32_t *m_end;     /* after the last position's */
} ek_wino_ctx;

#if EK_DSP_ASM
/* One pair of input channels: both output channels' U words, the four tiles' V words, eight
 * dual MACs (2 output channels x 4 tiles). */
#define EK_WQ(X0, X1, X2, X3)                             \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "ldr    %[x0], [%[x], #" #X0 "]\n\t"                  \
    "ldr    %[x1], [%[x], #" #X1 "]\n\t"                  \
    "smlad  %[a00], %[x0], %[w0], %[a00]\n\t"             \
    "smlad  %[a10], %[x0], %[w1], %[a10]\n\t"             \
    "smlad  %[a01], %[x1], %[w0], %[a01]\n\t"             \
    "smlad  %[a11], %[x1], %[w1], %[a11]\n\t"             \
    "ldr    %[x0], [%[x], #" #X2 "]\n\t"                  \
    "ldr    %[x1], [%[x], #" #X3 "]\n\t"                  \
    "smlad  %[a02], %[x0], %[w0], %[a02]\n\t"             \
    "smlad  %[a12], %[x0], %[w1], %[a12]\n\t"             \
    "smlad  %[a03], %[x1], %[w0], %[a03]\n\t"             \
    "smlad  %[a13], %[x1], %[w1], %[a13]\n\t"

/* M for an output channel pair and the four tiles at all 16 positions: per position, the dot
 * products over the input channels (four pairs of them per iteration) into eight accumulators,
 * stored as m[position][channel][tile]. All fourteen allocatable registers are needed (8
 * accumulators, 2 pointers, 4 operands), so the loop is written out. Returns the next pair's U.
 * Inlined, so that the context is on the stack (sp-relative operands). */
EK_INLINE const int32_t *pair_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    int32_t a00, a01, a02, a03, a10, a11, a12, a13;
    uint32_t w0, w1, x0, x1;
    __asm__ volatile("3:\n\t"
                     "ldr    %[x0], %[stride]\n\t"
                     "add    %[x0], %[x], %[x0]\n\t"
                     "str    %[x0], %[x_end]\n\t"
                     "mov    %[a00], #0\n\t"
                     "mov    %[a01], #0\n\t"
                     "mov    %[a02], #0\n\t"
                     "mov    %[a03], #0\n\t"
                     "mov    %[a10], #0\n\t"
                     "mov    %[a11], #0\n\t"
                     "mov    %[a12], #0\n\t"
                     "mov    %[a13], #0\n\t"
                     ".p2align 2\n\t"
                     "1:\n\t"
                     EK_WQ(0, 4, 8, 12)
                     EK_WQ(16, 20, 24, 28)
                     EK_WQ(32, 36, 40, 44)
                     EK_WQ(48, 52, 56, 60)
                     "add    %[x], %[x], #64\n\t"
                     "ldr    %[x0], %[x_end]\n\t"
                     "cmp    %[x], %[x0]\n\t"
                     "bne    1b\n\t"
                     "ldr    %[x0], %[m]\n\t"
                     "str    %[a00], [%[x0], #0]\n\t"
                     "str    %[a01], [%[x0], #4]\n\t"
                     "str    %[a02], [%[x0], #8]\n\t"
                     "str    %[a03], [%[x0], #12]\n\t"
                     "str    %[a10], [%[x0], #16]\n\t"
                     "str    %[a11], [%[x0], #20]\n\t"
                     "str    %[a12], [%[x0], #24]\n\t"
                     "str    %[a13], [%[x0], #28]\n\t"
                     "add    %[x0], %[x0], #32\n\t"
                     "str    %[x0], %[m]\n\t"
                     "ldr    %[x1], %[m_end]\n\t"
                     "cmp    %[x0], %[x1]\n\t"
                     "bne    3b\n\t"
                     : [a00] "=&r"(a00), [a01] "=&r"(a01), [a02] "=&r"(a02), [a03] "=&r"(a03),
                       [a10] "=&r"(a10), [a11] "=&r"(a11), [a12] "=&r"(a12), [a13] "=&r"(a13),
                       [s] "+r"(s), [x] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1),
                       [x0] "=&r"(x0), [x1] "=&r"(x1), [x_end] "+m"(g->x_end), [m] "+m"(g->m)
                     : [stride] "m"(g->stride), [m_end] "m"(g->m_end)
                     : "cc", "memory");
    return s;
}
#else
/* The same computation in C: cores without the DSP extension, builds where EK_DSP_ASM is 0
 * (ek_dsp.h: -O0, EK_DSP_NO_ASM) and the host. */
static const int32_t *pair_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    const int32_t pairs = (int32_t)(g->stride / 16u); /* input channel pairs */
    for (int32_t *m = g->m; m != g->m_end; m += 8) {
        for (int32_t i = 0; i < 8; ++i) {
            m[i] = 0;
        }
        for (int32_t q = 0; q < pairs; ++q, x += 4, s += 2) {
            for (int32_t j = 0; j < 4; ++j) {
                m[j] = ek_smlad(x[j], (uint32_t)s[0], m[j]);
                m[4 + j] = ek_smlad(x[j], (uint32_t)s[1], m[4 + j]);
            }
        }
    }
    return s;
}
#endif

/* ---------------------------------------------------------------------------- output transform */

/* One output: acc2 = 2 * b' + y / 2 (y is 4 * sum_k w * x exactly, so y >> 1 is the doubled
 * sum), requantized, clamped to the activation range when it is narrower than int8. */
EK_INLINE int32_t out_value(int32_t y, int32_t b2, int32_t mul, int32_t c, int32_t right, int full, int32_t lo,
                            int32_t hi)
{
    const int32_t v = ek_ssat8(ek_requant2(b2 + (y >> 1), mul, c, right));
    return full ? v : ek_clamp_i32(v, lo, hi);
}

/* Y = A^T M A of one tile for one output channel (m: its accumulators, positions 8 words apart):
 * rows 0+1+2 and 1-2-3, then the same on the columns, in y's order (0,0), (0,1), (1,0), (1,1). */
#define EK_ACOL(m, k, a, s)                                             \
    do {                                                                \
        const int32_t m1_ = (m)[8 * (4 + (k))], m2_ = (m)[8 * (8 + (k))]; \
        (a) = (m)[8 * (k)] + m1_ + m2_;                                 \
        (s) = m1_ - m2_ - (m)[8 * (12 + (k))];                          \
    } while (0)
#define EK_OUTPUT_TRANSFORM(m, y0, y1, y2, y3)   \
    do {                                         \
        int32_t a0_, a1_, a2_, a3_, s0_, s1_, s2_, s3_; \
        EK_ACOL(m, 0, a0_, s0_);                 \
        EK_ACOL(m, 1, a1_, s1_);                 \
        EK_ACOL(m, 2, a2_, s2_);                 \
        EK_ACOL(m, 3, a3_, s3_);                 \
        (y0) = a0_ + a1_ + a2_;                  \
        (y1) = a1_ - a2_ - a3_;                  \
        (y2) = s0_ + s1_ + s2_;                  \
        (y3) = s1_ - s2_ - s3_;                  \
    } while (0)

/* Tiles with a row or column outside the map (odd sizes), or an activation range narrower than
 * int8: rare, compiled for size. cut[j]: bit 0 set when tile j's right column lies outside the
 * map, bit 1 when its bottom row does. */
EK_COLD static void output_tiles_general(const ek_conv3x3_wino_params *p, const int32_t *m, const int32_t *rq,
                                         int8_t *const o[4], const uint8_t cut[4], int32_t n_t)
{
    const int32_t n_out = p->output_c, row = p->output_w * n_out;
    for (int32_t j = 0; j < n_t; ++j) {
        int32_t y[4];
        EK_OUTPUT_TRANSFORM(m + j, y[0], y[1], y[2], y[3]);
        for (int32_t i = 0; i < 4; ++i) {
            if (!((i & 1) && (cut[j] & 1)) && !((i & 2) && (cut[j] & 2))) {
                o[j][(i >> 1) * row + (i & 1) * n_out] =
                    (int8_t)out_value(y[i], rq[0], rq[1], rq[2], rq[3], p->act_full, p->act_min, p->act_max);
            }
        }
    }
}

/* The output transform of the block's n_t tiles for one output channel (m: its accumulators,
 * tile j at m[j]), requantized with rq = (2 * b', multiplier, c, right), stored at o[j] (tile
 * j's top left output pixel, this channel). */
static void output_tiles(const ek_conv3x3_wino_params *p, const int32_t *m, const int32_t *rq, int8_t *const o[4],
                         const uint8_t cut[4], int32_t n_t, int whole)
{
    if (!whole || !p->act_full) {
        output_tiles_general(p, m, rq, o, cut, n_t);
        return;
    }
    const int32_t b2 = rq[0], mul = rq[1], c = rq[2], right = rq[3];
    const int32_t n_out = p->output_c, row = p->output_w * n_out;
    for (int32_t j = 0; j < n_t; ++j) {
        int32_t y0, y1, y2, y3;
        EK_OUTPUT_TRANSFORM(m + j, y0, y1, y2, y3);
        int8_t *out = o[j];
        out[0] = (int8_t)out_value(y0, b2, mul, c, right, 1, 0, 0);
        out[n_out] = (int8_t)out_value(y1, b2, mul, c, right, 1, 0, 0);
        out[row] = (int8_t)out_value(y2, b2, mul, c, right, 1, 0, 0);
        out[row + n_out] = (int8_t)out_value(y3, b2, mul, c, right, 1, 0, 0);
    }
}

/* ---------------------------------------------------------------------------- the kernel */

/* Scratch: the four tiles' V (128 * input_c bytes), the accumulators of one channel pair (512),
 * a pixel of zero points (input_c rounded up to 4). */
int32_t ek_conv3x3_wino_dsp_s8_scratch_bytes(int32_t input_c)
{
    return 128 * input_c + 512 + ((input_c + 3) & ~3);
}

void ek_conv3x3_wino_dsp_s8(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output,
                            int8_t *scratch)
{
    const int32_t cin = p->input_c, kp = cin / 2, n_out = p->output_c;
    const int32_t position_words = 4 * kp; /* V words of one position: [channel pair][tile] */
    uint32_t *v = (uint32_t *)(void *)scratch;
    int32_t *m = (int32_t *)(void *)(scratch + 128 * cin);
    int8_t *zp = scratch + 128 * cin + 512;
    const int32_t tiles = p->tiles_h * p->tiles_w;
    int32_t ty_next = 0, tx_next = 0;

    for (int32_t c = 0; c < cin; ++c) {
        zp[c] = (int8_t)p->pad_value;
    }
    for (int32_t t0 = 0; t0 < tiles; t0 += 4) {
        const int32_t n_t = tiles - t0 < 4 ? tiles - t0 : 4;
        int32_t ty[4], tx[4];
        for (int32_t j = 0; j < 4; ++j) {
            const int8_t *px[16];
            if (j < n_t) {
                ty[j] = ty_next;
                tx[j] = tx_next;
                if (++tx_next == p->tiles_w) {
                    tx_next = 0;
                    ++ty_next;
                }
            } else { /* a last block of fewer tiles: repeat the last, discard its outputs */
                ty[j] = ty[j - 1];
                tx[j] = tx[j - 1];
            }
            patch_pixels(p, input, zp, ty[j], tx[j], px);
            for (int32_t c0 = 0; c0 < cin; c0 += 4) {
                transform_group(px, c0, v + 4 * (c0 / 2) + j, position_words);
            }
        }
        int8_t *o[4];
        uint8_t cut[4];
        int whole = 1; /* every tile's 2x2 inside the output (odd sizes cut the last ones) */
        for (int32_t j = 0; j < n_t; ++j) {
            o[j] = output + (2 * ty[j] * p->output_w + 2 * tx[j]) * n_out;
            cut[j] = (uint8_t)((2 * tx[j] + 1 >= p->output_w) | (2 * (2 * ty[j] + 1 >= p->output_h)));
            whole &= cut[j] == 0;
        }
        const int32_t *s = p->weights;
        for (int32_t n = 0; n < n_out; n += 2) {
            ek_wino_ctx g = {0, (uintptr_t)(4 * position_words), m, m + 8 * 16};
            s = pair_positions(s, v, &g);
            for (int32_t h = 0; h < 2; ++h) {
                int8_t *const oh[4] = {o[0] + n + h, o[1] + n + h, o[2] + n + h, o[3] + n + h};
                output_tiles(p, m + 4 * h, p->requant + 4 * (n + h), oh, cut, n_t, whole);
            }
        }
    }
}

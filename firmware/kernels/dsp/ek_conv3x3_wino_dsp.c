#include "ek_conv3x3_wino_dsp.h"

#include "ek_dsp.h"

/* ---------------------------------------------------------------------------- input transform */

/* The 16 pixels of tile (ty, tx)'s 4x4 patch, row-major: each a pointer to the pixel's channel 0
 * in the input, or to a pixel of zero points when it lies outside the image. */
EK_INLINE void patch_pixels(const ek_conv3x3_wino_params *p, const int8_t *input, const int8_t *zp, int32_t ty,
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
        EK_BT(h0, h1, h2, h3, d_[tiles], d_[pw + tiles], d_[2 * pw + tiles],      \
              d_[3 * pw + tiles]);                                              \
    } while (0)

/* V = B^T d B of one tile for input channels c0 .. c0 + 3: the pairs (c0, c0 + 2) go to channel
 * pair q = c0 / 2, the pairs (c0 + 1, c0 + 3) to q + 1 (SXTB16's order, the order U is stored in).
 * v points at [position 0][q][this tile]; positions are `pw` words apart, channel pairs `tiles`. The
 * rows of B^T d are patch rows 0 - 2, 1 + 2, 2 - 1 and 1 - 3. */
EK_INLINE void transform_group(const int8_t *const px[16], int32_t c0, uint32_t *v, int32_t pw, int32_t tiles)
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
/* Blocks of two tiles, one pair of input channels: the two tiles' V words, then the four output
 * channels' U words two at a time, each against both tiles: eight dual MACs (4 output channels x
 * 2 tiles), 16 cycles (the loads of a pair pipeline four and two in a row). */
#define EK_WQ2(X0, X1)                                    \
    "ldr    %[x0], [%[x], #" #X0 "]\n\t"                  \
    "ldr    %[x1], [%[x], #" #X1 "]\n\t"                  \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "smlad  %[a0], %[x0], %[w0], %[a0]\n\t"               \
    "smlad  %[a1], %[x1], %[w0], %[a1]\n\t"               \
    "smlad  %[a2], %[x0], %[w1], %[a2]\n\t"               \
    "smlad  %[a3], %[x1], %[w1], %[a3]\n\t"               \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "smlad  %[a4], %[x0], %[w0], %[a4]\n\t"               \
    "smlad  %[a5], %[x1], %[w0], %[a5]\n\t"               \
    "smlad  %[a6], %[x0], %[w1], %[a6]\n\t"               \
    "smlad  %[a7], %[x1], %[w1], %[a7]\n\t"

/* Blocks of four tiles, one pair of input channels: both output channels' U words, the four tiles'
 * V words, eight dual MACs (2 output channels x 4 tiles), also 16 cycles. */
#define EK_WQ4(X0, X1, X2, X3)                            \
    "ldr    %[w0], [%[s]], #4\n\t"                        \
    "ldr    %[w1], [%[s]], #4\n\t"                        \
    "ldr    %[x0], [%[x], #" #X0 "]\n\t"                  \
    "ldr    %[x1], [%[x], #" #X1 "]\n\t"                  \
    "smlad  %[a0], %[x0], %[w0], %[a0]\n\t"               \
    "smlad  %[a4], %[x0], %[w1], %[a4]\n\t"               \
    "smlad  %[a1], %[x1], %[w0], %[a1]\n\t"               \
    "smlad  %[a5], %[x1], %[w1], %[a5]\n\t"               \
    "ldr    %[x0], [%[x], #" #X2 "]\n\t"                  \
    "ldr    %[x1], [%[x], #" #X3 "]\n\t"                  \
    "smlad  %[a2], %[x0], %[w0], %[a2]\n\t"               \
    "smlad  %[a6], %[x0], %[w1], %[a6]\n\t"               \
    "smlad  %[a3], %[x1], %[w0], %[a3]\n\t"               \
    "smlad  %[a7], %[x1], %[w1], %[a7]\n\t"

/* M for a group of output channels and the block's tiles at all 16 positions: per position, the
 * dot products over the input channels (four pairs of them per iteration, BODY) into eight
 * accumulators a0 .. a7, stored as m[position][channel][tile] (a[tiles * channel + tile]). All
 * fourteen allocatable registers are needed (8 accumulators, 2 pointers, 4 operands), so the loop
 * is written out, with the iteration's V bytes STEP. */
#define EK_WINO_POSITIONS(BODY, STEP)                                                                     \
    __asm__ volatile("3:\n\t"                                                                            \
                     "ldr    %[x0], %[stride]\n\t"                                                       \
                     "add    %[x0], %[x], %[x0]\n\t"                                                     \
                     "str    %[x0], %[x_end]\n\t"                                                        \
                     "mov    %[a0], #0\n\t"                                                              \
                     "mov    %[a1], #0\n\t"                                                              \
                     "mov    %[a2], #0\n\t"                                                              \
                     "mov    %[a3], #0\n\t"                                                              \
                     "mov    %[a4], #0\n\t"                                                              \
                     "mov    %[a5], #0\n\t"                                                              \
                     "mov    %[a6], #0\n\t"                                                              \
                     "mov    %[a7], #0\n\t"                                                              \
                     ".p2align 2\n\t"                                                                    \
                     "1:\n\t"                                                                            \
                     BODY                                                                                \
                     "add    %[x], %[x], #" #STEP "\n\t"                                                 \
                     "ldr    %[x0], %[x_end]\n\t"                                                        \
                     "cmp    %[x], %[x0]\n\t"                                                            \
                     "bne    1b\n\t"                                                                     \
                     "ldr    %[x0], %[m]\n\t"                                                            \
                     "str    %[a0], [%[x0], #0]\n\t"                                                     \
                     "str    %[a1], [%[x0], #4]\n\t"                                                     \
                     "str    %[a2], [%[x0], #8]\n\t"                                                     \
                     "str    %[a3], [%[x0], #12]\n\t"                                                    \
                     "str    %[a4], [%[x0], #16]\n\t"                                                    \
                     "str    %[a5], [%[x0], #20]\n\t"                                                    \
                     "str    %[a6], [%[x0], #24]\n\t"                                                    \
                     "str    %[a7], [%[x0], #28]\n\t"                                                    \
                     "add    %[x0], %[x0], #32\n\t"                                                      \
                     "str    %[x0], %[m]\n\t"                                                            \
                     "ldr    %[x1], %[m_end]\n\t"                                                        \
                     "cmp    %[x0], %[x1]\n\t"                                                           \
                     "bne    3b\n\t"                                                                     \
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4),  \
                       [a5] "=&r"(a5), [a6] "=&r"(a6), [a7] "=&r"(a7), [s] "+r"(s), [x] "+r"(x),         \
                       [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),                   \
                       [x_end] "+m"(g->x_end), [m] "+m"(g->m)                                            \
                     : [stride] "m"(g->stride), [m_end] "m"(g->m_end)                                    \
                     : "cc", "memory")

/* The channel loop of blocks of two tiles (four output channels) and of four (two channels).
 * Inlined, so that the context is on the stack (sp-relative operands). Returns the next group's U. */
EK_INLINE const int32_t *group_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    int32_t a0, a1, a2, a3, a4, a5, a6, a7;
    uint32_t w0, w1, x0, x1;
    EK_WINO_POSITIONS(EK_WQ2(0, 4) EK_WQ2(8, 12) EK_WQ2(16, 20) EK_WQ2(24, 28), 32);
    return s;
}

EK_INLINE const int32_t *pair_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    int32_t a0, a1, a2, a3, a4, a5, a6, a7;
    uint32_t w0, w1, x0, x1;
    EK_WINO_POSITIONS(EK_WQ4(0, 4, 8, 12) EK_WQ4(16, 20, 24, 28) EK_WQ4(32, 36, 40, 44) EK_WQ4(48, 52, 56, 60), 64);
    return s;
}
#else
/* The same computation in C: cores without the DSP extension, builds where EK_DSP_ASM is 0
 * (ek_dsp.h: -O0, EK_DSP_NO_ASM) and the host. */
static const int32_t *positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g, int32_t tiles)
{
    const int32_t channels = EK_WINO_ACCUMULATORS / tiles;
    const int32_t pairs = (int32_t)(g->stride / (4u * (uint32_t)tiles)); /* input channel pairs */
    for (int32_t *m = g->m; m != g->m_end; m += EK_WINO_ACCUMULATORS) {
        for (int32_t i = 0; i < EK_WINO_ACCUMULATORS; ++i) {
            m[i] = 0;
        }
        for (int32_t q = 0; q < pairs; ++q, x += tiles, s += channels) {
            for (int32_t n = 0; n < channels; ++n) {
                for (int32_t j = 0; j < tiles; ++j) {
                    m[tiles * n + j] = ek_smlad(x[j], (uint32_t)s[n], m[tiles * n + j]);
                }
            }
        }
    }
    return s;
}

static const int32_t *group_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    return positions(s, x, g, 2);
}

static const int32_t *pair_positions(const int32_t *s, const uint32_t *x, ek_wino_ctx *g)
{
    return positions(s, x, g, 4);
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

/* Y = A^T M A of one tile for one output channel (m: its accumulators, positions
 * EK_WINO_ACCUMULATORS words apart):
 * rows 0+1+2 and 1-2-3, then the same on the columns, in y's order (0,0), (0,1), (1,0), (1,1). */
#define EK_ACOL(m, k, a, s)                                             \
    do {                                                                \
        const int32_t m1_ = (m)[EK_WINO_ACCUMULATORS * (4 + (k))];       \
        const int32_t m2_ = (m)[EK_WINO_ACCUMULATORS * (8 + (k))];       \
        (a) = (m)[EK_WINO_ACCUMULATORS * (k)] + m1_ + m2_;               \
        (s) = m1_ - m2_ - (m)[EK_WINO_ACCUMULATORS * (12 + (k))];        \
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
                                         int8_t *const o[EK_WINO_MAX_TILES], const uint8_t cut[EK_WINO_MAX_TILES],
                                         int32_t n_t)
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
EK_INLINE void output_tiles(const ek_conv3x3_wino_params *p, const int32_t *m, const int32_t *rq,
                            int8_t *const o[EK_WINO_MAX_TILES], const uint8_t cut[EK_WINO_MAX_TILES], int32_t n_t,
                            int whole)
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

/* Scratch: the block's tiles' V (16 positions x 2 bytes x block_tiles per input channel), the
 * accumulators of one group of output channels (16 positions x EK_WINO_ACCUMULATORS words), a
 * pixel of zero points (input_c rounded up to 4). */
int32_t ek_conv3x3_wino_dsp_s8_scratch_bytes(int32_t input_c, int32_t block_tiles)
{
    return 32 * block_tiles * input_c + 64 * EK_WINO_ACCUMULATORS + ((input_c + 3) & ~3);
}

int32_t ek_conv3x3_wino_dsp_s8_group(int32_t block_tiles)
{
    return block_tiles == 2 || block_tiles == 4 ? EK_WINO_ACCUMULATORS / block_tiles : -1;
}

/* The kernel for blocks of bt tiles (a constant where it is inlined: each block size its own code, in
 * a function of its own: the two in one function cost the channel loop and the output transform
 * 1-2 % on the M4, the compiler's register choices across both). */
EK_INLINE void wino_blocks(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           const int32_t bt)
{
    const int32_t cin = p->input_c, kp = cin / 2, n_out = p->output_c;
    const int32_t group = EK_WINO_ACCUMULATORS / bt;
    const int32_t position_words = bt * kp; /* V words of one position: [channel pair][tile] */
    uint32_t *v = (uint32_t *)(void *)scratch;
    int32_t *m = (int32_t *)(void *)(scratch + 64 * position_words);
    int8_t *zp = scratch + 64 * position_words + 64 * EK_WINO_ACCUMULATORS;
    const int32_t tiles = p->tiles_h * p->tiles_w;
    int32_t ty_next = 0, tx_next = 0;

    for (int32_t c = 0; c < cin; ++c) {
        zp[c] = (int8_t)p->pad_value;
    }
    for (int32_t t0 = 0; t0 < tiles; t0 += bt) {
        const int32_t n_t = tiles - t0 < bt ? tiles - t0 : bt;
        int32_t ty[EK_WINO_MAX_TILES], tx[EK_WINO_MAX_TILES];
        for (int32_t j = 0; j < bt; ++j) {
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
                transform_group(px, c0, v + bt * (c0 / 2) + j, position_words, bt);
            }
        }
        int8_t *o[EK_WINO_MAX_TILES];
        uint8_t cut[EK_WINO_MAX_TILES];
        int whole = 1; /* every tile's 2x2 inside the output (odd sizes cut the last ones) */
        for (int32_t j = 0; j < n_t; ++j) {
            o[j] = output + (2 * ty[j] * p->output_w + 2 * tx[j]) * n_out;
            cut[j] = (uint8_t)((2 * tx[j] + 1 >= p->output_w) | (2 * (2 * ty[j] + 1 >= p->output_h)));
            whole &= cut[j] == 0;
        }
        const int32_t *s = p->weights;
        for (int32_t n = 0; n < n_out; n += group) {
            ek_wino_ctx g = {0, (uintptr_t)(4 * position_words), m, m + 16 * EK_WINO_ACCUMULATORS};
            const int32_t live = n_out - n < group ? n_out - n : group;
            s = bt == 2 ? group_positions(s, v, &g) : pair_positions(s, v, &g);
            for (int32_t h = 0; h < live; ++h) { /* (a padded group's last two channels: none) */
                int8_t *oh[EK_WINO_MAX_TILES];
                for (int32_t j = 0; j < n_t; ++j) {
                    oh[j] = o[j] + n + h;
                }
                output_tiles(p, m + bt * h, p->requant + 4 * (n + h), oh, cut, n_t, whole);
            }
        }
    }
}

#if EK_WINO_BLOCKS_2
EK_NOINLINE static void wino_blocks2(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output,
                                      int8_t *scratch)
{
    wino_blocks(p, input, output, scratch, 2);
}
#endif

#if EK_WINO_BLOCKS_4
EK_NOINLINE static void wino_blocks4(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output,
                                      int8_t *scratch)
{
    wino_blocks(p, input, output, scratch, 4);
}
#endif

/* Each block size's code only where a call of the build uses it (EK_WINO_BLOCKS_2, _4: ek_dsp.h). */
void ek_conv3x3_wino_dsp_s8(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output,
                            int8_t *scratch)
{
    (void)p, (void)input, (void)output, (void)scratch; /* (no call: neither) */
#if EK_WINO_BLOCKS_2
    if (p->block_tiles == 2) {
        wino_blocks2(p, input, output, scratch);
    }
#endif
#if EK_WINO_BLOCKS_4
    if (p->block_tiles == 4) {
        wino_blocks4(p, input, output, scratch);
    }
#endif
}

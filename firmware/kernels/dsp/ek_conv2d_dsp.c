#include "ek_conv2d_dsp.h"

#include <string.h>

#include "ek_dsp.h"

/* k, the taps of a window; a pointwise layer (1x1, stride 1, no padding, k == k_pad) reads its
 * columns straight from the input. */
EK_INLINE int32_t kk(const ek_conv2d_dsp_params *p)
{
    return p->filter_h * p->filter_w * p->input_c;
}

EK_INLINE int pointwise(const ek_conv2d_dsp_params *p)
{
    return p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
           p->pad_left == 0 && p->input_c == p->k_pad;
}

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

/* The int8 column of output pixel (oy, ox) when its window crosses the image border: k taps in (ky, kx, c) order, out-of-image taps reading the zero point (buf[k..k_pad)
 * holds zeros, written once per call). Rare: compiled for size. */
EK_COLD static const int8_t *gather(const ek_conv2d_dsp_params *p, const int8_t *input, int32_t oy,
                                    int32_t ox, int8_t *buf)
{
    const int32_t c = p->input_c, row = p->filter_w * c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    /* taps kx in [lo, hi) are inside the image: one run per filter row */
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
        copy_bytes(dst + lo * c, input + (iy * p->input_w + ix0 + lo) * c, (hi - lo) * c);
        fill_bytes(dst + hi * c, p->pad_value, (p->filter_w - hi) * c);
    }
    return buf;
}

/* Widen n bytes of a column (n a multiple of 4, starting at group g0 of four k) to int16 into
 * slot j of the four-pixel buffer: word g of the column gives the k pairs 2g (bytes 0, 2) and
 * 2g + 1 (bytes 1, 3), stored at [pair][pixel]. */
static void widen(const int8_t *col, int32_t n, int32_t g0, int32_t j, uint32_t *cols)
{
    uint32_t *dst = cols + 8 * g0 + j;
    int32_t g = 0;
    for (; g + 8 <= n; g += 8, dst += 16) {
        const uint32_t v = ek_read32(col + g), u = ek_read32(col + g + 4);
        dst[0] = ek_sxtb16(v);
        dst[4] = ek_sxtb16_ror8(v);
        dst[8] = ek_sxtb16(u);
        dst[12] = ek_sxtb16_ror8(u);
    }
    if (g < n) {
        const uint32_t v = ek_read32(col + g);
        dst[0] = ek_sxtb16(v);
        dst[4] = ek_sxtb16_ror8(v);
    }
}

/* The column of output pixel (oy, ox) into slot j. A window inside the image is
 * filter_h runs of filter_w * input_c bytes: widened straight from the input rows when the runs
 * are whole words, else copied into col8 first; a window crossing the border goes through
 * gather(). */
static void column(const ek_conv2d_dsp_params *p, const int8_t *input, int32_t oy, int32_t ox, int8_t *col8,
                   int32_t j, uint32_t *cols)
{
    const int32_t c = p->input_c, row = p->filter_w * c;
    if (pointwise(p)) {
        widen(input + (oy * p->input_w + ox) * c, p->k_pad, 0, j, cols);
        return;
    }
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t iy_last = iy0 + (p->filter_h - 1) * p->dilation_h;
    if (iy0 >= 0 && iy_last < p->input_h && ix0 >= 0 && ix0 + p->filter_w <= p->input_w) {
        const int32_t step = p->dilation_h * p->input_w * c;
        const int8_t *src = input + (iy0 * p->input_w + ix0) * c;
        if (row % 4 == 0) {
            for (int32_t ky = 0; ky < p->filter_h; ++ky, src += step) {
                widen(src, row, ky * row / 4, j, cols);
            }
            if (p->k_pad > kk(p)) {
                widen(col8 + kk(p), p->k_pad - kk(p), kk(p) / 4, j, cols); /* zeros */
            }
            return;
        }
        for (int32_t ky = 0; ky < p->filter_h; ++ky, src += step) {
            copy_bytes(col8 + ky * row, src, row);
        }
        widen(col8, p->k_pad, 0, j, cols);
        return;
    }
    widen(gather(p, input, oy, ox, col8), p->k_pad, 0, j, cols);
}

/* The activation range narrower than int8 (rare: compact). */
EK_COLD static void clamp4(int32_t v[4], int32_t lo, int32_t hi)
{
    for (int32_t j = 0; j < 4; ++j) {
        v[j] = ek_clamp_i32(v[j], lo, hi);
    }
}

/* One channel of the four pixels: requantize, saturate to int8, clamp to the activation range
 * unless it is the full int8 range, store. The requantization terms are read before any output
 * is stored (int8 stores may alias them, so reading them between stores would repeat loads). */
EK_INLINE void store4(int8_t *const o[4], int32_t ch, const int32_t *rq, int32_t a0, int32_t a1, int32_t a2,
                      int32_t a3, const ek_conv2d_dsp_params *p)
{
    const int32_t m = rq[1], c = rq[2], r = rq[3];
    int32_t v[4] = {ek_ssat8(ek_requant2(a0 * 2, m, c, r)), ek_ssat8(ek_requant2(a1 * 2, m, c, r)),
                    ek_ssat8(ek_requant2(a2 * 2, m, c, r)), ek_ssat8(ek_requant2(a3 * 2, m, c, r))};
    if (!p->act_full) {
        clamp4(v, p->act_min, p->act_max);
    }
    o[0][ch] = (int8_t)v[0];
    o[1][ch] = (int8_t)v[1];
    o[2][ch] = (int8_t)v[2];
    o[3][ch] = (int8_t)v[3];
}

#if EK_HAVE_DSP
/* One pair of k: a word of weights (both channels) and the four pixels' int16 pairs, loaded
 * back to back so the loads pipeline, then eight dual MACs. The first pair of an iteration
 * advances x (pre-index); the others address it with offsets. */
#define EK_KPAIR(XLOAD0, X1, X2, X3)                      \
    "ldr    %[w1], [%[w]], #4\n\t"                        \
    XLOAD0                                                \
    "ldr    %[x1], [%[x], #" #X1 "]\n\t"                  \
    "sxtb16 %[w0], %[w1]\n\t"                             \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                     \
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

/* The two-channel x four-pixel product over k_pairs pairs of k (a multiple of 4). The loop
 * needs all fourteen allocatable registers (8 accumulators, 2 pointers, 4 operands), more than
 * gcc's allocator manages for the same loop written with intrinsics, so it is written out; the
 * portable version below is the same computation in C. */
#define EK_GEMM_2X4(w, cols, k_pairs)                                                              \
    do {                                                                                           \
        uintptr_t x_ = (uintptr_t)(cols) - 64u; /* advanced before use */                          \
        const uintptr_t last_ = (uintptr_t)(cols) + 64u * (uint32_t)((k_pairs) / 4 - 1);           \
        const uint8_t *w_ = (w);                                                                   \
        uint32_t w0_, w1_, x0_, x1_;                                                               \
        __asm__ volatile("1:\n\t"                                                                  \
                         EK_KPAIR("ldr    %[x0], [%[x], #64]!\n\t", 4, 8, 12)                     \
                         EK_KPAIR("ldr    %[x0], [%[x], #16]\n\t", 20, 24, 28)                    \
                         EK_KPAIR("ldr    %[x0], [%[x], #32]\n\t", 36, 40, 44)                    \
                         EK_KPAIR("ldr    %[x0], [%[x], #48]\n\t", 52, 56, 60)                    \
                         "ldr    %[x0], %[last]\n\t"                                               \
                         "cmp    %[x], %[x0]\n\t"                                                  \
                         "bne    1b\n\t"                                                           \
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a02] "+r"(a02), [a03] "+r"(a03),     \
                           [a10] "+r"(a10), [a11] "+r"(a11), [a12] "+r"(a12), [a13] "+r"(a13),     \
                           [w] "+r"(w_), [x] "+r"(x_), [w0] "=&r"(w0_), [w1] "=&r"(w1_),           \
                           [x0] "=&r"(x0_), [x1] "=&r"(x1_)                                        \
                         : [last] "m"(last_)                                                       \
                         : "cc", "memory");                                                        \
    } while (0)
#else
#define EK_GEMM_2X4(w, cols, k_pairs)                                                              \
    do {                                                                                           \
        const uint8_t *w_ = (w);                                                                   \
        const uint32_t *x_ = (cols);                                                               \
        for (int32_t q_ = 0; q_ < (k_pairs); ++q_, w_ += 4, x_ += 4) {                             \
            const uint32_t v_ = ek_read32(w_);                                                     \
            const uint32_t w0_ = ek_sxtb16(v_), w1_ = ek_sxtb16_ror8(v_);                          \
            a00 = ek_smlad(x_[0], w0_, a00);                                                       \
            a01 = ek_smlad(x_[1], w0_, a01);                                                       \
            a02 = ek_smlad(x_[2], w0_, a02);                                                       \
            a03 = ek_smlad(x_[3], w0_, a03);                                                       \
            a10 = ek_smlad(x_[0], w1_, a10);                                                       \
            a11 = ek_smlad(x_[1], w1_, a11);                                                       \
            a12 = ek_smlad(x_[2], w1_, a12);                                                       \
            a13 = ek_smlad(x_[3], w1_, a13);                                                       \
        }                                                                                          \
    } while (0)
#endif

/* Every computed channel of the four pixels whose columns are in cols. */
EK_INLINE void channels(const ek_conv2d_dsp_params *p, const uint32_t *cols, int8_t *const out[4])
{
    const int32_t n_live = p->live_c;
    const int32_t k_pairs = p->k_pad / 2;
    const uint16_t *map = p->live_map;
    const uint8_t *w = (const uint8_t *)p->weights;
    const int32_t *rq = p->requant;
    for (int32_t n = 0; n < n_live; n += 2, w += 2 * p->k_pad, rq += 8) {
        int32_t a00 = rq[0], a01 = a00, a02 = a00, a03 = a00;
        int32_t a10 = rq[4], a11 = a10, a12 = a10, a13 = a10;
        EK_GEMM_2X4(w, cols, k_pairs);
        store4(out, map != NULL ? map[n] : n, rq, a00, a01, a02, a03, p);
        if (n + 1 < n_live) {
            store4(out, map != NULL ? map[n + 1] : n + 1, rq + 4, a10, a11, a12, a13, p);
        }
    }
}

void ek_conv2d_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t n_out = p->output_c;
    const int32_t pixels = p->output_h * p->output_w;
    uint32_t *cols = (uint32_t *)(void *)scratch;              /* [k_pairs][4] int16 pairs */
    int8_t *col8 = scratch + 8 * p->k_pad;                     /* one gathered int8 column */
    int8_t *sink = col8 + p->k_pad;                            /* outputs of missing pixels */
    int32_t oy = 0, ox = 0;

    fill_bytes(col8 + kk(p), 0, p->k_pad - kk(p));
    for (int32_t pix = 0; pix < pixels; pix += 4) {
        int8_t *out[4];
        for (int32_t j = 0; j < 4; ++j) {
            if (pix + j < pixels) {
                column(p, input, oy, ox, col8, j, cols);
                out[j] = output + (pix + j) * n_out;
                if (p->dead_row != NULL) {
                    memcpy(out[j], p->dead_row, (size_t)n_out);
                }
                if (++ox == p->output_w) {
                    ox = 0;
                    ++oy;
                }
            } else { /* a last block of < 4 pixels: repeat the previous column, discard outputs */
                const uint32_t *prev = cols + (j - 1);
                for (int32_t q = 0; q < p->k_pad / 2; ++q) {
                    cols[4 * q + j] = prev[4 * q];
                }
                out[j] = sink;
            }
        }
        channels(p, cols, out);
    }
}

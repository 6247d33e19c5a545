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
    int32_t v0 = ek_ssat8(ek_requant2(a0, rq[1], rq[2], rq[3]));
    int32_t v1 = ek_ssat8(ek_requant2(a1, rq[5], rq[6], rq[7]));
    int32_t v2 = ek_ssat8(ek_requant2(a2, rq[9], rq[10], rq[11]));
    int32_t v3 = ek_ssat8(ek_requant2(a3, rq[13], rq[14], rq[15]));
    if (!p->act_full) {
        v0 = ek_clamp_i32(v0, p->act_min, p->act_max);
        v1 = ek_clamp_i32(v1, p->act_min, p->act_max);
        v2 = ek_clamp_i32(v2, p->act_min, p->act_max);
        v3 = ek_clamp_i32(v3, p->act_min, p->act_max);
    }
    ek_write32(out, ((uint32_t)(uint8_t)v0) | ((uint32_t)(uint8_t)v1 << 8) | ((uint32_t)(uint8_t)v2 << 16) |
                        ((uint32_t)(uint8_t)v3 << 24));
}

/* A 3x3 window (dilation 1) entirely inside the image, top-left tap at `base`. */
static void pixel_3x3(const ek_depthwise_dsp_params *p, const int8_t *base, int8_t *out)
{
    const int32_t ch = p->input_c;
    const int32_t row = p->input_w * ch;
    const uint32_t *w = (const uint32_t *)(const void *)p->weights;
    const int32_t *rq = p->requant;
    for (int32_t c = 0; c < ch; c += 4, w += 18, rq += 16, out += 4) {
        const int8_t *r0 = base + c, *r1 = r0 + row, *r2 = r1 + row;
        int32_t a0 = rq[0], a1 = rq[4], a2 = rq[8], a3 = rq[12];
        uint32_t x;
        x = ek_read32(r0);
        EK_TAP(x, w);
        x = ek_read32(r0 + ch);
        EK_TAP(x, w + 2);
        x = ek_read32(r0 + 2 * ch);
        EK_TAP(x, w + 4);
        x = ek_read32(r1);
        EK_TAP(x, w + 6);
        x = ek_read32(r1 + ch);
        EK_TAP(x, w + 8);
        x = ek_read32(r1 + 2 * ch);
        EK_TAP(x, w + 10);
        x = ek_read32(r2);
        EK_TAP(x, w + 12);
        x = ek_read32(r2 + ch);
        EK_TAP(x, w + 14);
        x = ek_read32(r2 + 2 * ch);
        EK_TAP(x, w + 16);
        store_group(p, out, rq, a0, a1, a2, a3);
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
    const int32_t span_h = (p->filter_h - 1) * p->dilation_h, span_w = (p->filter_w - 1) * p->dilation_w;
    const int fast = p->filter_h == 3 && p->filter_w == 3 && p->dilation_h == 1 && p->dilation_w == 1;
    int8_t *out = output;

    memset(pad_row, p->pad_value, (size_t)ch);
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + span_h < p->input_h;
        for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            if (fast && rows_inside && ix0 >= 0 && ix0 + span_w < p->input_w) {
                pixel_3x3(p, input + (iy0 * p->input_w + ix0) * ch, out);
                continue;
            }
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

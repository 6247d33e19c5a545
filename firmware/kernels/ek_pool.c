#include "ek_pool.h"

#include "ek_common.h"

/* The window of output pixel (oy, ox) clipped to the input: [*y0, *y1) x [*x0, *x1). */
static void window(const ek_pool_params *p, int32_t oy, int32_t ox,
                   int32_t *y0, int32_t *y1, int32_t *x0, int32_t *x1)
{
    const int32_t iy = oy * p->stride_h - p->pad_h;
    const int32_t ix = ox * p->stride_w - p->pad_w;
    *y0 = ek_max_i32(iy, 0);
    *y1 = ek_min_i32(iy + p->filter_h, p->in_h);
    *x0 = ek_max_i32(ix, 0);
    *x1 = ek_min_i32(ix + p->filter_w, p->in_w);
}

/* Max pool of `size`-byte elements (1: int8, 2: int16) whose lowest value is `lowest`. */
EK_INLINE void max_pool(const ek_pool_params *p, const void *input, void *output, int32_t size, int32_t lowest)
{
    const int32_t c_n = p->channels;
    int32_t o = 0; /* output element */
    for (int32_t b = 0; b < p->batches; ++b) {
        const int32_t in_b = b * p->in_h * p->in_w * c_n;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, o += c_n) {
                int32_t y0, y1, x0, x1;
                window(p, oy, ox, &y0, &y1, &x0, &x1);
                /* the output pixel is the running maximum, channels innermost */
                for (int32_t c = 0; c < c_n; ++c) {
                    ek_store(output, o + c, lowest, size);
                }
                char *out = (char *)output + o * size;
                for (int32_t y = y0; y < y1; ++y) {
                    for (int32_t x = x0; x < x1; ++x) {
                        /* a pointer per pixel: the element loop below is then a plain walk */
                        const char *in = (const char *)input + (in_b + (y * p->in_w + x) * c_n) * size;
                        for (int32_t c = 0; c < c_n; ++c) {
                            const int32_t v = ek_load(in, c, size);
                            if (v > ek_load(out, c, size)) {
                                ek_store(out, c, v, size);
                            }
                        }
                    }
                }
                for (int32_t c = 0; c < c_n; ++c) {
                    ek_store(output, o + c, ek_clamp_i32(ek_load(output, o + c, size), p->act_min, p->act_max), size);
                }
            }
        }
    }
}

void ek_max_pool_s8(const ek_pool_params *p, const int8_t *input, int8_t *output)
{
    max_pool(p, input, output, 1, INT8_MIN);
}

void ek_max_pool_s16(const ek_pool_params *p, const int16_t *input, int16_t *output)
{
    max_pool(p, input, output, 2, INT16_MIN);
}

/* Scratch: one int32 sum per channel. */
int32_t ek_avg_pool_s8_scratch_bytes(int32_t channels)
{
    return 4 * channels;
}

/* acc[c] += in[c] for one pixel's n channels. Out of line, with the element size tested once:
 * the loop keeps its few registers (inlined into the window walk at -Os it spilled a pointer per
 * element, a third more instructions in kws's global average pool). */
EK_NOINLINE static void accumulate(int32_t *acc, const void *in, int32_t n, int32_t size)
{
    if (size == 2) {
        const int16_t *s = (const int16_t *)in;
        for (int32_t c = 0; c < n; ++c) {
            acc[c] += s[c];
        }
    } else {
        const int8_t *s = (const int8_t *)in;
        for (int32_t c = 0; c < n; ++c) {
            acc[c] += s[c];
        }
    }
}

EK_INLINE void avg_pool(const ek_pool_params *p, const void *input, void *output, void *scratch, int32_t size)
{
    const int32_t c_n = p->channels;
    int32_t *acc = (int32_t *)scratch;
    int32_t o = 0;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int32_t in_b = b * p->in_h * p->in_w * c_n;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, o += c_n) {
                int32_t y0, y1, x0, x1;
                window(p, oy, ox, &y0, &y1, &x0, &x1);
                for (int32_t c = 0; c < c_n; ++c) {
                    acc[c] = 0;
                }
                for (int32_t y = y0; y < y1; ++y) {
                    const char *in = (const char *)input + (in_b + (y * p->in_w + x0) * c_n) * size;
                    for (int32_t x = x0; x < x1; ++x, in += c_n * size) {
                        accumulate(acc, in, c_n, size);
                    }
                }
                const int32_t count = (y1 - y0) * (x1 - x0);
                for (int32_t c = 0; c < c_n; ++c) {
                    ek_store(output, o + c, ek_clamp_i32(ek_pool_average(acc[c], count), p->act_min, p->act_max),
                             size);
                }
            }
        }
    }
}

void ek_avg_pool_s8(const ek_pool_params *p, const int8_t *input, int8_t *output, void *scratch)
{
    avg_pool(p, input, output, scratch, 1);
}

void ek_avg_pool_s16(const ek_pool_params *p, const int16_t *input, int16_t *output, void *scratch)
{
    avg_pool(p, input, output, scratch, 2);
}

#include "ek_resize.h"

#include <string.h>

/* Nearest of `size`-byte elements (1: int8, 2: int16); the tables hold element offsets. */
static void resize_nearest(const ek_resize_nearest_params *p, const char *input, char *output, int32_t size)
{
    const size_t depth = (size_t)(p->depth * size);
    for (int32_t b = 0; b < p->batches; ++b) {
        const char *in = input + b * p->batch_elems * size;
        for (int32_t y = 0; y < p->out_height; ++y) {
            const char *row = in + p->rows[y] * size;
            for (int32_t x = 0; x < p->out_width; ++x) {
                memcpy(output, row + p->cols[x] * size, depth);
                output += depth;
            }
        }
    }
}

void ek_resize_nearest_s8(const ek_resize_nearest_params *p, const int8_t *input, int8_t *output)
{
    resize_nearest(p, (const char *)input, (char *)output, 1);
}

void ek_resize_nearest_s16(const ek_resize_nearest_params *p, const int16_t *input, int16_t *output)
{
    resize_nearest(p, (const char *)input, (char *)output, 2);
}

void ek_resize_bilinear_s8(const ek_resize_bilinear_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->batch_elems;
        for (int32_t y = 0; y < p->out_height; ++y) {
            const int8_t *row0 = in + p->rows[3 * y];
            const int8_t *row1 = in + p->rows[3 * y + 1];
            const int32_t wy = p->rows[3 * y + 2];
            for (int32_t x = 0; x < p->out_width; ++x) {
                const int32_t c0 = p->cols[3 * x], c1 = p->cols[3 * x + 1], wx = p->cols[3 * x + 2];
                const int32_t w00 = (1024 - wy) * (1024 - wx), w10 = wy * (1024 - wx);
                const int32_t w01 = (1024 - wy) * wx, w11 = wy * wx;
                for (int32_t c = 0; c < p->depth; ++c) {
                    const int32_t v = row0[c0 + c] * w00 + row1[c0 + c] * w10 + row0[c1 + c] * w01 +
                                      row1[c1 + c] * w11;
                    const int32_t round = v > 0 ? (1 << 19) : -(1 << 19);
                    *output++ = (int8_t)((v + round) / (1 << 20));
                }
            }
        }
    }
}

#include "ek_mean.h"

#include "ek_common.h"

/* Elements of `size` bytes (1: int8, 2: int16); strides in elements. */
EK_INLINE int32_t reduce_sum(const ek_mean_params *p, const void *input, int32_t base, int32_t size)
{
    const int32_t *d = p->reduced_dims;
    const int32_t *s = p->reduced_strides;
    uint32_t sum = 0; /* TFLM's int32 sum wraps */
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                const int32_t row = base + i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    sum += (uint32_t)ek_load(input, row + i3 * s[3], size);
                }
            }
        }
    }
    return (int32_t)sum;
}

EK_INLINE void mean(const ek_mean_params *p, const void *input, void *output, int32_t size, int32_t lo, int32_t hi)
{
    const int32_t *d = p->kept_dims;
    const int32_t *s = p->kept_strides;
    int32_t o = 0;
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    const int32_t in = i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    const int32_t sum = (int32_t)((uint32_t)reduce_sum(p, input, in, size) + (uint32_t)p->bias);
                    const int32_t y = ek_requantize(sum, p->multiplier, p->shift) + p->output_offset;
                    ek_store(output, o++, ek_clamp_i32(y, lo, hi), size);
                }
            }
        }
    }
}

void ek_mean_s8(const ek_mean_params *p, const int8_t *input, int8_t *output)
{
    mean(p, input, output, 1, INT8_MIN, INT8_MAX);
}

void ek_mean_s16(const ek_mean_params *p, const int16_t *input, int16_t *output)
{
    mean(p, input, output, 2, INT16_MIN, INT16_MAX);
}

#include "ek_mean.h"

#include "ek_common.h"

static int32_t reduce_sum(const ek_mean_params *p, const int8_t *in)
{
    const int32_t *d = p->reduced_dims;
    const int32_t *s = p->reduced_strides;
    uint32_t sum = 0; /* TFLM's int32 sum wraps */
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                const int8_t *row = in + i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    sum += (uint32_t)(int32_t)row[i3 * s[3]];
                }
            }
        }
    }
    return (int32_t)sum;
}

void ek_mean_s8(const ek_mean_params *p, const int8_t *input, int8_t *output)
{
    const int32_t *d = p->kept_dims;
    const int32_t *s = p->kept_strides;
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    const int8_t *in = input + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    const int32_t sum = (int32_t)((uint32_t)reduce_sum(p, in) + (uint32_t)p->bias);
                    const int32_t y = ek_requantize(sum, p->multiplier, p->shift) + p->output_offset;
                    *output++ = (int8_t)ek_clamp_i32(y, -128, 127);
                }
            }
        }
    }
}

#include "ek_minmax.h"

#include "ek_common.h"

/* The larger (want_max) or smaller of every pair of `size`-byte elements (1: int8, 2: int16),
 * walking the broadcast shape. */
EK_INLINE void minmax(const ek_minmax_params *p, const void *a, const void *b, void *out, int32_t want_max,
                      int32_t size)
{
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            const int32_t x = ek_load(a, i, size), y = ek_load(b, i, size);
            ek_store(out, i, (x > y) == (want_max != 0) ? x : y, size);
        }
        return;
    }
    const int32_t *d = p->dims, *s1 = p->in1_strides, *s2 = p->in2_strides;
    int32_t o = 0;
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < d[4]; ++i4) {
                        const int32_t o1 = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];
                        const int32_t o2 = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];
                        for (int32_t i5 = 0; i5 < d[5]; ++i5) {
                            const int32_t x = ek_load(a, o1 + i5 * s1[5], size), y = ek_load(b, o2 + i5 * s2[5], size);
                            ek_store(out, o++, (x > y) == (want_max != 0) ? x : y, size);
                        }
                    }
                }
            }
        }
    }
}

void ek_maximum_s8(const ek_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    minmax(p, input1, input2, output, 1, 1);
}

void ek_minimum_s8(const ek_minmax_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    minmax(p, input1, input2, output, 0, 1);
}

void ek_maximum_s16(const ek_minmax_params *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    minmax(p, input1, input2, output, 1, 2);
}

void ek_minimum_s16(const ek_minmax_params *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    minmax(p, input1, input2, output, 0, 2);
}

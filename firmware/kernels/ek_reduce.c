#include "ek_reduce.h"

/* The largest (want_max) or smallest element of one reduced set starting at in. */
static int8_t extreme(const ek_reduce_params *p, const int8_t *in, int32_t want_max)
{
    const int32_t *d = p->reduced_dims;
    const int32_t *s = p->reduced_strides;
    int8_t best = want_max ? INT8_MIN : INT8_MAX;
    for (int32_t i0 = 0; i0 < d[0]; ++i0) {
        for (int32_t i1 = 0; i1 < d[1]; ++i1) {
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                const int8_t *row = in + i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (int32_t i3 = 0; i3 < d[3]; ++i3) {
                    const int8_t v = row[i3 * s[3]];
                    if (want_max ? v > best : v < best) {
                        best = v;
                    }
                }
            }
        }
    }
    return best;
}

/* Every output in order: the kept dimensions, outermost first. */
static void reduce(const ek_reduce_params *p, const int8_t *input, int8_t *output, int32_t want_max)
{
    const int32_t *d = p->kept_dims;
    const int32_t *s = p->kept_strides;
    for (int32_t k0 = 0; k0 < d[0]; ++k0) {
        for (int32_t k1 = 0; k1 < d[1]; ++k1) {
            for (int32_t k2 = 0; k2 < d[2]; ++k2) {
                const int8_t *plane = input + k0 * s[0] + k1 * s[1] + k2 * s[2];
                for (int32_t k3 = 0; k3 < d[3]; ++k3) {
                    *output++ = extreme(p, plane + k3 * s[3], want_max);
                }
            }
        }
    }
}

void ek_reduce_max_s8(const ek_reduce_params *p, const int8_t *input, int8_t *output)
{
    reduce(p, input, output, 1);
}

void ek_reduce_min_s8(const ek_reduce_params *p, const int8_t *input, int8_t *output)
{
    reduce(p, input, output, 0);
}

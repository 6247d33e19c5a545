/* The broadcast walk shared by the two-input elementwise kernels (ek_binary.c, ek_prelu.c,
 * ek_squared_difference.c).
 *
 * The output is a collapsed shape of EK_BINARY_MAX_DIMS dimensions, outermost first, written in
 * order; each input advances by its own element stride per dimension, 0 where it is broadcast.
 * The innermost dimension is handed to a row function as one run of n elements; elements are
 * `size` bytes (int8 and int16 kernels share the walk). */
#ifndef EK_BROADCAST_H
#define EK_BROADCAST_H

#include <stdint.h>

#include "ek_binary.h"
#include "ek_common.h"

/* One run of n output elements; a and b advance by sa and sb elements. */
typedef void (*ek_binary_row_fn)(const void *params, const void *a, int32_t sa,
                                 const void *b, int32_t sb, void *out, int32_t n);

/* The walk over elements of `size` bytes (1: int8, 2: int16). */
EK_INLINE void ek_broadcast_walk(const int32_t *dims, const int32_t *s1, const int32_t *s2,
                                 const void *a, const void *b, void *out, int32_t size,
                                 ek_binary_row_fn row, const void *params)
{
    const int32_t inner = dims[EK_BINARY_MAX_DIMS - 1];
    const int32_t is1 = s1[EK_BINARY_MAX_DIMS - 1];
    const int32_t is2 = s2[EK_BINARY_MAX_DIMS - 1];
    const char *ca = (const char *)a, *cb = (const char *)b;
    char *co = (char *)out;
    for (int32_t i0 = 0; i0 < dims[0]; ++i0) {
        const char *a0 = ca + i0 * s1[0] * size;
        const char *b0 = cb + i0 * s2[0] * size;
        for (int32_t i1 = 0; i1 < dims[1]; ++i1) {
            const char *a1 = a0 + i1 * s1[1] * size;
            const char *b1 = b0 + i1 * s2[1] * size;
            for (int32_t i2 = 0; i2 < dims[2]; ++i2) {
                const char *a2 = a1 + i2 * s1[2] * size;
                const char *b2 = b1 + i2 * s2[2] * size;
                for (int32_t i3 = 0; i3 < dims[3]; ++i3) {
                    const char *a3 = a2 + i3 * s1[3] * size;
                    const char *b3 = b2 + i3 * s2[3] * size;
                    for (int32_t i4 = 0; i4 < dims[4]; ++i4) {
                        row(params, a3 + i4 * s1[4] * size, is1, b3 + i4 * s2[4] * size, is2, co, inner);
                        co += inner * size;
                    }
                }
            }
        }
    }
}

#endif /* EK_BROADCAST_H */

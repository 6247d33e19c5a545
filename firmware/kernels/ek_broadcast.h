/* The broadcast walk shared by the two-input elementwise kernels (ek_binary.c, ek_prelu.c,
 * ek_squared_difference.c).
 *
 * The output is a collapsed shape of EK_BINARY_MAX_DIMS dimensions, outermost first, written in
 * order; each input advances by its own element stride per dimension, 0 where it is broadcast.
 * The innermost dimension is handed to a row function as one run of n elements. */
#ifndef EK_BROADCAST_H
#define EK_BROADCAST_H

#include <stdint.h>

#include "ek_binary.h"
#include "ek_common.h"

/* One run of n output elements; a and b advance by sa and sb elements. */
typedef void (*ek_binary_row_fn)(const void *params, const int8_t *a, int32_t sa,
                                 const int8_t *b, int32_t sb, int8_t *out, int32_t n);

EK_INLINE void ek_broadcast_walk(const int32_t *dims, const int32_t *s1, const int32_t *s2,
                                 const int8_t *a, const int8_t *b, int8_t *out,
                                 ek_binary_row_fn row, const void *params)
{
    const int32_t inner = dims[EK_BINARY_MAX_DIMS - 1];
    const int32_t is1 = s1[EK_BINARY_MAX_DIMS - 1];
    const int32_t is2 = s2[EK_BINARY_MAX_DIMS - 1];
    for (int32_t i0 = 0; i0 < dims[0]; ++i0) {
        const int8_t *a0 = a + i0 * s1[0];
        const int8_t *b0 = b + i0 * s2[0];
        for (int32_t i1 = 0; i1 < dims[1]; ++i1) {
            const int8_t *a1 = a0 + i1 * s1[1];
            const int8_t *b1 = b0 + i1 * s2[1];
            for (int32_t i2 = 0; i2 < dims[2]; ++i2) {
                const int8_t *a2 = a1 + i2 * s1[2];
                const int8_t *b2 = b1 + i2 * s2[2];
                for (int32_t i3 = 0; i3 < dims[3]; ++i3) {
                    const int8_t *a3 = a2 + i3 * s1[3];
                    const int8_t *b3 = b2 + i3 * s2[3];
                    for (int32_t i4 = 0; i4 < dims[4]; ++i4) {
                        row(params, a3 + i4 * s1[4], is1, b3 + i4 * s2[4], is2, out, inner);
                        out += inner;
                    }
                }
            }
        }
    }
}

#endif /* EK_BROADCAST_H */

#include "ek_strided_slice.h"

#include <string.h>

void ek_strided_slice_s8(const ek_strided_slice_params *p, const int8_t *input, int8_t *output)
{
    const int32_t last = p->rank - 1;
    const int32_t row = p->count[last];
    const int32_t inner_step = p->step[last];
    int32_t rows = 1;
    int32_t idx[EK_STRIDED_SLICE_MAX_DIMS];

    for (int32_t d = 0; d < last; ++d) {
        rows *= p->count[d];
        idx[d] = 0;
    }
    if (row == 0) {
        return;
    }
    int32_t src = p->start;
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *s = input + src;
        if (inner_step == 1) {
            memcpy(output, s, (size_t)row);
        } else {
            for (int32_t i = 0; i < row; ++i) {
                output[i] = s[i * inner_step];
            }
        }
        output += row;
        for (int32_t d = last - 1; d >= 0; --d) {  /* odometer over the outer dimensions */
            src += p->step[d];
            if (++idx[d] < p->count[d]) {
                break;
            }
            src -= p->step[d] * p->count[d];
            idx[d] = 0;
        }
    }
}

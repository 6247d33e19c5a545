#include "ek_pad.h"

#include <string.h>

void ek_pad_s8(const ek_pad_params *p, const int8_t *input, int8_t *output)
{
    const int32_t last = p->rank - 1;
    const int32_t row = p->count[last];
    int32_t rows = 1;
    int32_t idx[EK_PAD_MAX_DIMS];

    memset(output, (int8_t)p->pad_value, (size_t)p->output_size);
    for (int32_t d = 0; d < last; ++d) {
        rows *= p->count[d];
        idx[d] = 0;
    }
    if (row == 0) {
        return;
    }
    int32_t dst = p->offset;
    for (int32_t r = 0; r < rows; ++r) {
        memcpy(output + dst, input, (size_t)row);
        input += row;
        for (int32_t d = last - 1; d >= 0; --d) {  /* odometer over the outer dimensions */
            dst += p->step[d];
            if (++idx[d] < p->count[d]) {
                break;
            }
            dst -= p->step[d] * p->count[d];
            idx[d] = 0;
        }
    }
}

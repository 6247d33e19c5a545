#include "ek_pad.h"

#include <string.h>

#include "ek_common.h"

/* Elements of `size` bytes (1: int8, 2: int16); counts, steps and offsets in elements. */
EK_INLINE void pad(const ek_pad_params *p, const char *input, char *output, int32_t size)
{
    const int32_t last = p->rank - 1;
    const int32_t row = p->count[last];
    int32_t rows = 1;
    int32_t idx[EK_PAD_MAX_DIMS];

    if (size == 1) {
        memset(output, (int8_t)p->pad_value, (size_t)p->output_size);
    } else {
        for (int32_t i = 0; i < p->output_size; ++i) {
            ek_store(output, i, p->pad_value, size);
        }
    }
    for (int32_t d = 0; d < last; ++d) {
        rows *= p->count[d];
        idx[d] = 0;
    }
    if (row == 0) {
        return;
    }
    int32_t dst = p->offset;
    for (int32_t r = 0; r < rows; ++r) {
        memcpy(output + dst * size, input, (size_t)(row * size));
        input += row * size;
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

void ek_pad_s8(const ek_pad_params *p, const int8_t *input, int8_t *output)
{
    pad(p, (const char *)input, (char *)output, 1);
}

void ek_pad_s16(const ek_pad_params *p, const int16_t *input, int16_t *output)
{
    pad(p, (const char *)input, (char *)output, 2);
}

#include "ek_gather.h"

#include <string.h>

void ek_gather_s8(const ek_gather_params *p, const int8_t *input, const int32_t *indices, int8_t *output)
{
    const size_t n = (size_t)p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *block = input + (size_t)o * (size_t)p->axis_size * n;
        for (int32_t k = 0; k < p->num_indices; ++k) {
            const int32_t i = indices[k];
            if (i >= 0 && i < p->axis_size) {
                memcpy(output, block + (size_t)i * n, n);
            } else {
                memset(output, p->fill, n);
            }
            output += n;
        }
    }
}

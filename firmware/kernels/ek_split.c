#include "ek_split.h"

#include <string.h>

void ek_split_s8(const ek_split_params *p, const int8_t *input)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->num_outputs; ++i) {
            const int32_t n = p->chunk[i];
            memcpy(p->outputs[i] + o * n, input, (size_t)n);
            input += n;
        }
    }
}

void ek_split_s16(const ek_split_params *p, const int16_t *input)
{
    ek_split_s8(p, (const int8_t *)input);
}

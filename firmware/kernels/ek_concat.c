#include "ek_concat.h"

#include <string.h>

static void concatenate(const ek_concatenation_params *p, char *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->num_inputs; ++i) {
            const int32_t n = p->chunk[i];
            memcpy(output, (const char *)p->inputs[i] + o * n, (size_t)n);
            output += n;
        }
    }
}

void ek_concatenation_s8(const ek_concatenation_params *p, int8_t *output)
{
    concatenate(p, (char *)output);
}

void ek_concatenation_s16(const ek_concatenation_params *p, int16_t *output)
{
    concatenate(p, (char *)output);
}

static void pack(const ek_pack_params *p, char *output)
{
    const int32_t n = p->chunk;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->num_inputs; ++i) {
            memcpy(output, (const char *)p->inputs[i] + o * n, (size_t)n);
            output += n;
        }
    }
}

void ek_pack_s8(const ek_pack_params *p, int8_t *output)
{
    pack(p, (char *)output);
}

void ek_pack_s16(const ek_pack_params *p, int16_t *output)
{
    pack(p, (char *)output);
}

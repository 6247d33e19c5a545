#include "ek_lut.h"

void ek_lut_s8(const ek_lut_params *p, const int8_t *input, int8_t *output)
{
    const int8_t *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = table[(uint8_t)input[i]];
    }
}

void ek_lut_u8s8(const ek_lut_params *p, const uint8_t *input, int8_t *output)
{
    const int8_t *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = table[input[i]];
    }
}

void ek_lut_s8u8(const ek_lut_params *p, const int8_t *input, uint8_t *output)
{
    const int8_t *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = (uint8_t)table[(uint8_t)input[i]];
    }
}

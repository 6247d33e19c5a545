#include "ek_transpose.h"

#include "ek_common.h"

void ek_transpose_s8(const ek_transpose_params *p, const int8_t *input, int8_t *output)
{
    ek_walk_copy(p->rank, p->count, p->step, 0, (const char *)input, (char *)output, 1);
}

void ek_transpose_s16(const ek_transpose_params *p, const int16_t *input, int16_t *output)
{
    ek_walk_copy(p->rank, p->count, p->step, 0, (const char *)input, (char *)output, 2);
}

#include "ek_strided_slice.h"

#include "ek_common.h"

void ek_strided_slice_s8(const ek_strided_slice_params *p, const int8_t *input, int8_t *output)
{
    ek_walk_copy(p->rank, p->count, p->step, p->start, (const char *)input, (char *)output, 1);
}

void ek_strided_slice_s16(const ek_strided_slice_params *p, const int16_t *input, int16_t *output)
{
    ek_walk_copy(p->rank, p->count, p->step, p->start, (const char *)input, (char *)output, 2);
}

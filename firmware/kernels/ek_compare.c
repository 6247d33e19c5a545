#include "ek_compare.h"

#include "ek_broadcast.h"
#include "ek_common.h"

EK_INLINE int32_t scaled(const ek_compare_params *p, int32_t x, int32_t offset, int32_t multiplier, int32_t shift)
{
    return ek_requantize((x + offset) * (1 << p->left_shift), multiplier, shift);
}

EK_INLINE int8_t holds(int32_t relation, int32_t a, int32_t b)
{
    switch (relation) {
    case EK_EQUAL: return a == b;
    case EK_NOT_EQUAL: return a != b;
    case EK_GREATER: return a > b;
    case EK_GREATER_EQUAL: return a >= b;
    case EK_LESS: return a < b;
    default: return a <= b;
    }
}

/* the output bytes are written through int8_t (a character type may alias the bools), 0 or 1 */
static void compare_row(const void *params, const void *av, int32_t sa, const void *bv, int32_t sb, void *outv,
                        int32_t n)
{
    const ek_compare_params *p = (const ek_compare_params *)params;
    const int8_t *a = (const int8_t *)av, *b = (const int8_t *)bv;
    int8_t *out = (int8_t *)outv;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = scaled(p, a[i * sa], p->input1_offset, p->input1_multiplier, p->input1_shift);
        const int32_t y = scaled(p, b[i * sb], p->input2_offset, p->input2_multiplier, p->input2_shift);
        out[i] = holds(p->relation, x, y);
    }
}

void ek_compare_s8(const ek_compare_params *p, const int8_t *input1, const int8_t *input2, bool *output)
{
    int8_t *out = (int8_t *)(void *)output;
    if (!p->broadcast) {
        compare_row(p, input1, 1, input2, 1, out, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, out, 1, compare_row, p);
    }
}

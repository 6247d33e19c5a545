#include "ek_squared_difference.h"

#include "ek_broadcast.h"
#include "ek_common.h"

EK_INLINE int32_t scaled(const ek_add_params *p, int32_t x, int32_t offset, int32_t multiplier, int32_t shift)
{
    return ek_requantize((x + offset) * (1 << p->left_shift), multiplier, shift);
}

static void squared_difference_row(const void *params, const void *av, int32_t sa, const void *bv, int32_t sb,
                                   void *outv, int32_t n)
{
    const ek_add_params *p = (const ek_add_params *)params;
    const int8_t *a = (const int8_t *)av, *b = (const int8_t *)bv;
    int8_t *out = (int8_t *)outv;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t d = scaled(p, a[i * sa], p->input1_offset, p->input1_multiplier, p->input1_shift) -
                          scaled(p, b[i * sb], p->input2_offset, p->input2_multiplier, p->input2_shift);
        const int32_t y = ek_requantize(d * d, p->output_multiplier, p->output_shift) + p->output_offset;
        out[i] = (int8_t)ek_clamp_i32(y, p->act_min, p->act_max);
    }
}

void ek_squared_difference_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->broadcast) {
        squared_difference_row(p, input1, 1, input2, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, output, 1,
                          squared_difference_row, p);
    }
}

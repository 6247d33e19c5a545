#include "ek_prelu.h"

#include "ek_broadcast.h"
#include "ek_common.h"

static void prelu_row(const void *params, const void *xv, int32_t sx, const void *alphav, int32_t sa,
                      void *outv, int32_t n)
{
    const ek_prelu_params *p = (const ek_prelu_params *)params;
    const int8_t *x = (const int8_t *)xv, *alpha = (const int8_t *)alphav;
    int8_t *out = (int8_t *)outv;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t v = x[i * sx] + p->input_offset;
        const int32_t y = v >= 0 ? ek_requantize(v, p->pos_multiplier, p->pos_shift)
                                 : ek_requantize(v * (alpha[i * sa] + p->alpha_offset), p->neg_multiplier,
                                                 p->neg_shift);
        out[i] = ek_sat_s8(y + p->output_offset);
    }
}

void ek_prelu_s8(const ek_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *output)
{
    if (!p->broadcast) {
        prelu_row(p, input, 1, alpha, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->input_strides, p->alpha_strides, input, alpha, output, 1, prelu_row, p);
    }
}

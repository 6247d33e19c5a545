#include "ek_fully_connected.h"

#include "ek_common.h"

void ek_fully_connected_s8(const ek_fully_connected_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->in_features;
        for (int32_t o = 0; o < p->out_features; ++o) {
            const int8_t *w = p->weights + o * p->in_features;
            int32_t acc = p->bias[o] + ek_dot_s8(x, w, p->in_features);
            acc = ek_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            output[b * p->out_features + o] = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
        }
    }
}

void ek_fully_connected_s16(const ek_fully_connected_s16_params *p, const int16_t *input, int16_t *output)
{
    const ek_fully_connected_params *q = &p->fc;
    for (int32_t b = 0; b < q->batches; ++b) {
        const int16_t *x = input + b * q->in_features;
        for (int32_t o = 0; o < q->out_features; ++o) {
            const int64_t acc = p->bias[o] + ek_dot_s16_s8(x, q->weights + o * q->in_features, q->in_features);
            const int32_t y = ek_requantize_acc(acc, q->multiplier[o], q->shift[o], p->wide) + q->output_offset;
            output[b * q->out_features + o] = (int16_t)ek_clamp_i32(y, q->act_min, q->act_max);
        }
    }
}

#include "ek_fully_connected_pal.h"

#include "ek_common.h"
#include "ek_palette.h"

void ek_fully_connected_pal_s8(const ek_fully_connected_pal_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->in_features;
        for (int32_t o = 0; o < p->out_features; ++o) {
            ek_pal_reader w;
            ek_pal_reader_init(&w, p->encoding, p->bits, p->table_stride, p->codes, p->values,
                               p->row_start, o, p->in_features);
            int32_t acc = p->bias[o];
            for (int32_t i = 0; i < p->in_features; ++i) {
                acc += (int32_t)x[i] * ek_pal_next(&w);
            }
            acc = ek_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            output[b * p->out_features + o] = (int8_t)ek_clamp_i32(acc, p->act_min, p->act_max);
        }
    }
}

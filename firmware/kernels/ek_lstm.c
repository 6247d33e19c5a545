#include "ek_lstm.h"

#include <string.h>

#include "ek_common.h"
#include "ek_sigmoid_s16.h"

int32_t ek_lstm_s8_scratch_bytes(int32_t units)
{
    return (int32_t)(EK_LSTM_GATES * units * (int32_t)sizeof(int16_t));
}

EK_INLINE int16_t sat_s16(int32_t x)
{
    return (int16_t)ek_clamp_i32(x, INT16_MIN, INT16_MAX);
}

/* out[u] = sat16(requantize(bias[u] + sum_k x[k] * w[u][k])): TFLite's int8 x int8 -> int16
 * fully connected layer, the input offset folded into the bias. */
static void fc_s16(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t in, int32_t units,
                   int32_t multiplier, int32_t shift, int16_t *out)
{
    for (int32_t u = 0; u < units; ++u) {
        const int32_t acc = bias[u] + ek_dot_s8(x, w + u * in, in);
        out[u] = sat_s16(ek_requantize(acc, multiplier, shift));
    }
}

/* one gate for one row: fc(x) + fc(h), saturated, then its activation */
static void gate(const ek_lstm_params *p, int32_t g, const int8_t *x, const int8_t *h, int16_t *out,
                 int16_t *tmp, int32_t use_tanh)
{
    const int32_t in = p->input_size, units = p->units;
    fc_s16(x, p->input_weights + g * units * in, p->input_bias + g * units, in, units,
           p->input_multiplier[g], p->input_shift[g], out);
    fc_s16(h, p->recurrent_weights + g * units * units, p->recurrent_bias + g * units, units, units,
           p->recurrent_multiplier[g], p->recurrent_shift[g], tmp);
    for (int32_t u = 0; u < units; ++u) {
        out[u] = sat_s16((int32_t)out[u] + (int32_t)tmp[u]);
    }
    const ek_sigmoid_s16_params act = {units, p->gate_act_multiplier, p->gate_act_shift, p->sigmoid_table};
    if (use_tanh) {
        ek_tanh_s16(&act, out, out);
    } else {
        ek_logistic_s16(&act, out, out);
    }
}

/* one time step of one row: h (int8) and c (int16) updated in place, h copied to out */
static void step(const ek_lstm_params *p, const int8_t *x, int8_t *h, int16_t *c, int8_t *out,
                 int16_t *scratch)
{
    const int32_t units = p->units;
    int16_t *forget = scratch, *in_gate = scratch + units, *cell_gate = scratch + 2 * units;
    int16_t *tmp = scratch + 3 * units;
    gate(p, 1, x, h, forget, tmp, 0);
    gate(p, 0, x, h, in_gate, tmp, 0);
    gate(p, 2, x, h, cell_gate, tmp, p->cell_gate_tanh);
    for (int32_t u = 0; u < units; ++u) {
        const int32_t fc = ek_requantize((int32_t)forget[u] * (int32_t)c[u], p->forget_multiplier, p->forget_shift);
        const int32_t ig = ek_requantize((int32_t)in_gate[u] * (int32_t)cell_gate[u], p->input_gate_multiplier,
                                         p->input_gate_shift);
        int32_t v = (int32_t)sat_s16(fc) + (int32_t)sat_s16(ig);
        v = (int32_t)sat_s16(v);
        if (p->cell_clip > 0) {
            v = ek_clamp_i32(v, -p->cell_clip, p->cell_clip);
        }
        c[u] = (int16_t)v;
    }
    int16_t *out_gate = in_gate, *tanh_c = forget;
    gate(p, 3, x, h, out_gate, tmp, 0);
    const ek_sigmoid_s16_params cell_act = {units, p->cell_act_multiplier, p->cell_act_shift, p->sigmoid_table};
    ek_tanh_s16(&cell_act, c, tanh_c);
    for (int32_t u = 0; u < units; ++u) {
        const int32_t v = ek_requantize((int32_t)tanh_c[u] * (int32_t)out_gate[u], p->hidden_multiplier,
                                        p->hidden_shift) + p->hidden_zero_point;
        h[u] = ek_sat_s8(v);
    }
    memcpy(out, h, (size_t)units);
}

void ek_lstm_s8(const ek_lstm_params *p, const int8_t *input, int8_t *output, int8_t *hidden,
                int16_t *cell, void *scratch)
{
    const int32_t B = p->batches, T = p->time_steps, in = p->input_size, units = p->units;
    /* rows are independent: each batch row is its own sequence with its own state */
    for (int32_t b = 0; b < B; ++b) {
        for (int32_t t = 0; t < T; ++t) {
            const int32_t pos = p->time_major ? t * B + b : b * T + t;
            step(p, input + pos * in, hidden + b * units, cell + b * units, output + pos * units,
                 (int16_t *)scratch);
        }
    }
}

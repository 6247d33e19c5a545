#include "ek_lstm.h"

#include <string.h>

#include "ek_common.h"
#include "ek_sigmoid_s16.h"

int32_t ek_lstm_s8_scratch_bytes(int32_t units)
{
    return (int32_t)(EK_LSTM_GATES * units * (int32_t)sizeof(int16_t));
}

int32_t ek_lstm_s16_scratch_bytes(int32_t units)
{
    return ek_lstm_s8_scratch_bytes(units); /* the same four int16 vectors */
}

EK_INLINE int16_t sat_s16(int32_t x)
{
    return (int16_t)ek_clamp_i32(x, INT16_MIN, INT16_MAX);
}

/* out[u] = sat16(requantize(bias[u] + sum_k x[k] * w[u][k])): TFLite's fully connected layer to
 * int16, the input offset folded into the bias. size 1: int8 x, int32 bias and sum, 32-bit
 * requantization; size 2: int16 x, int64 bias and sum, 64-bit requantization. */
static void fc_s16(const void *x, const int8_t *w, const void *bias, int32_t in, int32_t units,
                   int32_t multiplier, int32_t shift, int16_t *out, int32_t size)
{
    for (int32_t u = 0; u < units; ++u) {
        int32_t v;
        if (size == 1) {
            const int32_t acc = ((const int32_t *)bias)[u] + ek_dot_s8((const int8_t *)x, w + u * in, in);
            v = ek_requantize(acc, multiplier, shift);
        } else {
            const int64_t acc = ((const int64_t *)bias)[u] + ek_dot_s16_s8((const int16_t *)x, w + u * in, in);
            v = ek_requantize_s64(acc, multiplier, shift);
        }
        out[u] = sat_s16(v);
    }
}

/* one gate for one row: fc(x) + fc(h), saturated, then its activation */
static void gate(const ek_lstm_params *p, int32_t g, const void *x, const void *h, int16_t *out,
                 int16_t *tmp, int32_t use_tanh, int32_t size)
{
    const int32_t in = p->input_size, units = p->units;
    const int32_t bias_size = size == 1 ? (int32_t)sizeof(int32_t) : (int32_t)sizeof(int64_t);
    fc_s16(x, p->input_weights + g * units * in, (const char *)p->input_bias + g * units * bias_size, in, units,
           p->input_multiplier[g], p->input_shift[g], out, size);
    fc_s16(h, p->recurrent_weights + g * units * units, (const char *)p->recurrent_bias + g * units * bias_size,
           units, units, p->recurrent_multiplier[g], p->recurrent_shift[g], tmp, size);
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

/* one time step of one row: h (int8 or int16, `size` bytes) and c (int16) updated in place, h
 * copied to out. Not inlined: the two variants share this code (one branch on `size` per
 * element), so the int8 LSTM's code stays its size. */
static void step(const ek_lstm_params *p, const void *x, void *h, int16_t *c, void *out, int16_t *scratch,
                 int32_t size)
{
    const int32_t units = p->units;
    int16_t *forget = scratch, *in_gate = scratch + units, *cell_gate = scratch + 2 * units;
    int16_t *tmp = scratch + 3 * units;
    gate(p, 1, x, h, forget, tmp, 0, size);
    gate(p, 0, x, h, in_gate, tmp, 0, size);
    gate(p, 2, x, h, cell_gate, tmp, p->cell_gate_tanh, size);
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
    gate(p, 3, x, h, out_gate, tmp, 0, size);
    const ek_sigmoid_s16_params cell_act = {units, p->cell_act_multiplier, p->cell_act_shift, p->sigmoid_table};
    ek_tanh_s16(&cell_act, c, tanh_c);
    const int32_t lo = size == 1 ? INT8_MIN : INT16_MIN, hi = size == 1 ? INT8_MAX : INT16_MAX;
    for (int32_t u = 0; u < units; ++u) {
        const int32_t v = ek_requantize((int32_t)tanh_c[u] * (int32_t)out_gate[u], p->hidden_multiplier,
                                        p->hidden_shift) + p->hidden_zero_point;
        ek_store(h, u, ek_clamp_i32(v, lo, hi), size);
    }
    memcpy(out, h, (size_t)(units * size));
}

/* rows are independent: each batch row is its own sequence with its own state */
static void lstm(const ek_lstm_params *p, const void *input, void *output, void *hidden, int16_t *cell,
                 void *scratch, int32_t size)
{
    const int32_t B = p->batches, T = p->time_steps, in = p->input_size, units = p->units;
    for (int32_t b = 0; b < B; ++b) {
        for (int32_t t = 0; t < T; ++t) {
            const int32_t pos = p->time_major ? t * B + b : b * T + t;
            step(p, (const char *)input + pos * in * size, (char *)hidden + b * units * size, cell + b * units,
                 (char *)output + pos * units * size, (int16_t *)scratch, size);
        }
    }
}

void ek_lstm_s8(const ek_lstm_params *p, const int8_t *input, int8_t *output, int8_t *hidden,
                int16_t *cell, void *scratch)
{
    lstm(p, input, output, hidden, cell, scratch, 1);
}

void ek_lstm_s16(const ek_lstm_params *p, const int16_t *input, int16_t *output, int16_t *hidden,
                 int16_t *cell, void *scratch)
{
    lstm(p, input, output, hidden, cell, scratch, 2);
}

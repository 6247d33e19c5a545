#include "ek_lstm.h"

#include <string.h>

#include "ek_common.h"

/* sigmoid(i / 24) in unsigned Q0.16, i = 0..255: the table TFLite's int16 logistic and tanh
 * interpolate in (its sigmoid_table_uint16; tanh(x) = 2 sigmoid(2x) - 1). */
static const uint16_t ek_sigmoid_q16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

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

/* The activations' input, rescaled: (v * multiplier + round) >> shift. */
EK_INLINE int32_t act_input(int16_t v, int32_t multiplier, int32_t shift)
{
    const int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
    return ((int32_t)v * multiplier + round) >> shift;
}

/* The table at |x| / 2^frac, interpolated linearly in the frac low bits; `saturated` beyond it. */
EK_INLINE uint32_t table_at(int32_t x, int32_t frac, uint32_t saturated)
{
    const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
    const uint32_t hi = ax >> frac;
    if (hi >= 255u) {
        return saturated;
    }
    const uint32_t a = ek_sigmoid_q16[hi], b = ek_sigmoid_q16[hi + 1];
    return (a << frac) + (ax & ((1u << frac) - 1u)) * (b - a);
}

/* The int16 logistic, in place: Q0.15 output. */
static void sigmoid_s16(int16_t *v, int32_t n, int32_t multiplier, int32_t shift)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = act_input(v[i], multiplier, shift);
        uint32_t r = table_at(x, 9, 0x7FFFu << 10);
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        v[i] = (int16_t)(r >> 10);
    }
}

/* The int16 tanh (2 sigmoid(2x) - 1 from the same table): Q0.15 output. */
static void tanh_s16(const int16_t *in, int16_t *out, int32_t n, int32_t multiplier, int32_t shift)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = act_input(in[i], multiplier, shift);
        int32_t r = (int32_t)table_at(x, 8, 0xFFFFu << 8);
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
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
    if (use_tanh) {
        tanh_s16(out, out, units, p->gate_act_multiplier, p->gate_act_shift);
    } else {
        sigmoid_s16(out, units, p->gate_act_multiplier, p->gate_act_shift);
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
    tanh_s16(c, tanh_c, units, p->cell_act_multiplier, p->cell_act_shift);
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

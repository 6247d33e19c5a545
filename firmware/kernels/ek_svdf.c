#include "ek_svdf.h"

#include "ek_common.h"

int32_t ek_svdf_s8_scratch_bytes(int32_t filters)
{
    return (int32_t)(filters * (int32_t)sizeof(int32_t));
}

void ek_svdf_s8(const ek_svdf_params *p, const int8_t *input, int8_t *output, int16_t *state, void *scratch)
{
    const int32_t F = p->filters, M = p->memory, in = p->input_size, units = p->filters / p->rank;
    int32_t *time_sums = (int32_t *)scratch;
    /* the whole state one place towards the start (each filter's last place is written below) */
    const int32_t total = p->batches * F * M;
    for (int32_t i = 0; i + 1 < total; ++i) {
        state[i] = state[i + 1];
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * in;
        int16_t *s = state + b * F * M;
        for (int32_t f = 0; f < F; ++f) {
            const int8_t *w = p->feature_weights + f * in;
            int32_t acc = 0;
            for (int32_t k = 0; k < in; ++k) {
                acc += (int32_t)w[k] * ((int32_t)x[k] - p->input_zero_point);
            }
            acc = ek_clamp_i32(ek_requantize(acc, p->feature_multiplier, p->feature_shift), INT16_MIN, INT16_MAX);
            s[f * M + M - 1] = (int16_t)(p->state_zero_point + acc);
        }
        for (int32_t f = 0; f < F; ++f) {
            const int16_t *w = p->time_weights + f * M;
            int32_t acc = 0;
            for (int32_t m = 0; m < M; ++m) {
                acc += (int32_t)w[m] * ((int32_t)s[f * M + m] - p->state_zero_point);
            }
            time_sums[f] = acc;
        }
        for (int32_t u = 0; u < units; ++u) {
            int32_t acc = p->bias[u];
            for (int32_t r = 0; r < p->rank; ++r) {
                acc += time_sums[u * p->rank + r];
            }
            output[b * units + u] =
                ek_sat_s8(ek_requantize(acc, p->output_multiplier, p->output_shift) + p->output_zero_point);
        }
    }
}

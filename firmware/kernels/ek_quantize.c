#include "ek_quantize.h"

#include "ek_common.h"

/* y = clamp(round(x / scale) + zero_point, lo, hi) into elements of `size` bytes; a quotient at
 * or beyond twice the range saturates before the conversion to int (NaN gives lo). */
EK_INLINE void quantize_f32(const ek_quantize_params *p, const float *input, void *output,
                            int32_t size, int32_t lo, int32_t hi)
{
    const float scale = p->scale;
    const float limit = 2.0f * (float)(hi + 1);
    for (int32_t i = 0; i < p->size; ++i) {
        const float r = input[i] / scale;
        int32_t q;
        if (r != r || r <= -limit) {  /* NaN or certainly below lo after the offset */
            q = lo;
        } else if (r >= limit) {
            q = hi;
        } else {
            /* round half away from zero, as roundf does, without libm */
            q = (int32_t)r;  /* truncates toward zero; exact here */
            const float frac = r - (float)q;
            if (frac >= 0.5f) {
                q += 1;
            } else if (frac <= -0.5f) {
                q -= 1;
            }
            q = ek_clamp_i32(q + p->zero_point, lo, hi);
        }
        ek_store(output, i, q, size);
    }
}

void ek_quantize_f32_s8(const ek_quantize_params *p, const float *input, int8_t *output)
{
    quantize_f32(p, input, output, 1, INT8_MIN, INT8_MAX);
}

void ek_quantize_f32_s16(const ek_quantize_params *p, const float *input, int16_t *output)
{
    quantize_f32(p, input, output, 2, INT16_MIN, INT16_MAX);
}

void ek_dequantize_s8_f32(const ek_dequantize_params *p, const int8_t *input, float *output)
{
    const float *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = table[(uint8_t)input[i]];
    }
}

void ek_dequantize_s16_f32(const ek_quantize_params *p, const int16_t *input, float *output)
{
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = scale * (float)((int32_t)input[i] - p->zero_point);
    }
}

EK_INLINE void requant(const ek_requant_params *p, const void *input, int32_t in_size, void *output, int32_t out_size)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = ek_load(input, i, in_size) - p->input_zero_point;
        const int32_t y = v >= 0 ? ek_requantize(v, p->multiplier, p->shift)
                                 : ek_requantize(v, p->negative_multiplier, p->negative_shift);
        ek_store(output, i, ek_clamp_i32(y + p->output_zero_point, p->act_min, p->act_max), out_size);
    }
}

void ek_requant_s16(const ek_requant_params *p, const int16_t *input, int16_t *output)
{
    requant(p, input, 2, output, 2);
}

void ek_requant_s16_s8(const ek_requant_params *p, const int16_t *input, int8_t *output)
{
    requant(p, input, 2, output, 1);
}

void ek_requant_s8_s16(const ek_requant_params *p, const int8_t *input, int16_t *output)
{
    requant(p, input, 1, output, 2);
}

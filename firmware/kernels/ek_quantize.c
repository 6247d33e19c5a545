#include "ek_quantize.h"

#include "ek_common.h"

void ek_quantize_f32_s8(const ek_quantize_params *p, const float *input, int8_t *output)
{
    const float scale = p->scale;
    for (int32_t i = 0; i < p->size; ++i) {
        const float r = input[i] / scale;
        int32_t q;
        if (r != r || r <= -256.0f) {  /* NaN or certainly below -128 after the offset */
            q = -128;
        } else if (r >= 256.0f) {
            q = 127;
        } else {
            /* round half away from zero, as roundf does, without libm */
            q = (int32_t)r;  /* truncates toward zero; exact here */
            const float frac = r - (float)q;
            if (frac >= 0.5f) {
                q += 1;
            } else if (frac <= -0.5f) {
                q -= 1;
            }
            q = ek_clamp_i32(q + p->zero_point, -128, 127);
        }
        output[i] = (int8_t)q;
    }
}

void ek_dequantize_s8_f32(const ek_dequantize_params *p, const int8_t *input, float *output)
{
    const float *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = table[(uint8_t)input[i]];
    }
}

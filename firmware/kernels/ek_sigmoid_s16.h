/* LOGISTIC and TANH, int16 in and out (16x8: zero points 0, output scale 2^-15), as TFLM's
 * reference integer kernels compute them.
 *
 * The input is rescaled to a fixed point where 4096 * 3 is one (so +/-2^17 spans about +/-10.7):
 * x = (q * input_multiplier + round) >> input_shift, round = 2^(input_shift - 1) (0 if no shift).
 * |x| indexes `table` (sigmoid(i / 24) in Q0.16, made at generation time) by its high bits and
 * interpolates linearly by its low bits (9 for LOGISTIC, 8 for TANH, whose 2x reads the table at
 * twice the rate); beyond the table the result saturates. The sign is folded back by symmetry
 * (sigmoid(-x) = 1 - sigmoid(x), tanh(x) = 2 sigmoid(2x) - 1) with TFLM's roundings:
 *   LOGISTIC: r = (x >= 0 ? s + 2^9 : 2^25 - s + 2^9 - 1) >> 10,  s the Q0.25 interpolation
 *   TANH:     r = (x >= 0 ? s - 2^23 + 2^7 : -s + 2^23 + 2^7 - 1) >> 8 (arithmetic), s in Q0.24
 * Element i is read before output i is written; no overlap is declared. */
#ifndef EK_SIGMOID_S16_H
#define EK_SIGMOID_S16_H

#include <stdint.h>

typedef struct {
    int32_t size;              /* elements */
    int32_t input_multiplier;  /* <= 32767 */
    int32_t input_shift;       /* right shift, >= 0 */
    const uint16_t *table;     /* [256] sigmoid(i / 24) in Q0.16 */
} ek_sigmoid_s16_params;

void ek_logistic_s16(const ek_sigmoid_s16_params *p, const int16_t *input, int16_t *output);
void ek_tanh_s16(const ek_sigmoid_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_SIGMOID_S16_H */

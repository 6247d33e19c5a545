/* The 16x8 scheme's CONV_2D and FULLY_CONNECTED (int16 activations, int8 weights, int64
 * accumulator) on the DSP extension: the portable kernels' parameters (ek_conv2d_s16_params,
 * ek_fully_connected_s16_params), their loop order and results, with the dot products done two
 * output channels at a time by dual 16-bit multiplies into 64-bit accumulators (SMLALD):
 *
 *   activations a0..a3 (two words) -> (a0, a2), (a1, a3)       PKHBT, PKHTB
 *   weights w0..w3 of a channel (one word) -> (w0, w2), (w1, w3)  SXTB16, SXTB16 ROR #8
 *   acc += a0 w0 + a2 w2, acc += a1 w1 + a3 w3                   SMLALD (exact in int64)
 *
 * so each activation word is loaded once for the two channels. The sums are TFLM's exactly:
 * the products are exact and an int64 sum of them cannot wrap. Taps in the padding are skipped
 * as the portable kernel skips them. No scratch. Overlap: as the portable kernels (none
 * declared for the convolution; the fully connected output may not overlap its input).
 * ek_conv2d_dsp_s16 takes groups (a channel pair is split where it would straddle two groups).
 */
#ifndef EK_S16_DSP_H
#define EK_S16_DSP_H

#include <stdint.h>

#include "ek_conv2d.h"
#include "ek_fully_connected.h"

void ek_conv2d_dsp_s16(const ek_conv2d_s16_params *p, const int16_t *input, int16_t *output);

void ek_fully_connected_dsp_s16(const ek_fully_connected_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_S16_DSP_H */

/* TRANSPOSE_CONV, int8 (16x8: ek_transpose_conv_s16, below), batch 1, NHWC, per-channel or per-tensor int8 weights.
 *
 * TFLM scatters: every input pixel (iy, ix) adds (x + input_offset) * w[oc][ky][kx][ic] to output
 * pixel (iy*stride_h - pad_top + ky, ix*stride_w - pad_left + kx) of a whole-output int32 buffer,
 * then requantizes it. This kernel gathers the same products instead: for each output pixel it
 * walks the taps that reach it,
 *
 *   ky with (oy + pad_top - ky) a multiple of stride_h, iy = (oy + pad_top - ky) / stride_h in the
 *   input (likewise kx, ix),
 *
 * and sums them in int32. Integer addition does not depend on order, and the generator refuses a
 * layer whose sum could leave int32 (any partial sum is below that bound), so the result is TFLM's
 * bit for bit -- without its int32 buffer of output_h * output_w * output_c * 4 bytes: no scratch.
 *
 *   y[oy][ox][oc] = clamp(requantize(bias[oc] + sum (x + input_offset) * w) + output_offset,
 *                         act_min, act_max)
 *
 * Loop order: output pixels in row-major order, channels in order; the output is not written
 * over its input (no overlap is declared: an output pixel reads input rows up to
 * (oy + pad_top) / stride_h, which for stride 1 is below later output rows only by the padding).
 */
#ifndef EK_TRANSPOSE_CONV_H
#define EK_TRANSPOSE_CONV_H

#include <stdint.h>

#include "ek_common.h"

typedef struct {
    int32_t input_h;
    int32_t input_w;
    int32_t input_c;
    int32_t output_h;
    int32_t output_w;
    int32_t output_c;
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_top;           /* leading padding of the equivalent forward convolution */
    int32_t pad_left;
    int32_t input_offset;      /* -input zero point */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    const int8_t *weights;     /* [output_c][filter_h][filter_w][input_c] */
    const int32_t *bias;       /* [output_c] (zeros when the model has none) */
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c], > 0 shifts left */
} ek_transpose_conv_params;

/* The first tap k of a filter axis that reaches output position o, and the input position it
 * reads: the smallest k >= 0 with (o + pad - k) a multiple of stride and (o + pad - k) / stride
 * inside [0, in_size). Later taps that reach o are k + stride, k + 2*stride, ... (input i - 1, ...).
 * Shared with the DSP kernel (dsp/ek_transpose_conv_dsp.c), which walks the same taps. */
EK_INLINE int32_t ek_transpose_conv_first_tap(int32_t o, int32_t pad, int32_t stride, int32_t in_size, int32_t *i)
{
    const int32_t t = o + pad;  /* = i * stride + k */
    int32_t k = t % stride;
    int32_t at = t / stride;
    if (t < 0) {  /* no input reaches it (C's % and / round toward zero) */
        *i = -1;
        return 1 << 30;
    }
    if (at >= in_size) {  /* skip to the last input row: k grows by stride per row skipped */
        k += (at - (in_size - 1)) * stride;
        at = in_size - 1;
    }
    *i = at;
    return k;
}

/* input: [input_h][input_w][input_c], output: [output_h][output_w][output_c]. */
void ek_transpose_conv_s8(const ek_transpose_conv_params *p, const int8_t *input, int8_t *output);

/* TRANSPOSE_CONV, 16x8: int16 activations (zero points 0, as TFLM requires), int8 weights. TFLM's
 * int16 path always accumulates in int64 (an int16 bias is widened to int64 first) and
 * requantizes with the 64-bit rule, so there is no int32 variant:
 *   acc = bias[oc] + sum over the taps that reach the output pixel of x * w
 *   y   = clamp(ek_requantize_s64(acc, multiplier[oc], shift[oc]), act_min, act_max)
 * `conv` holds the geometry, weights and clamp as for ek_transpose_conv_s8 (its bias unused, NULL;
 * input_offset and output_offset 0), multiplier and shift the reduced multiplier and right shift
 * of ek_requantize_s64. The same gather over the same taps and order as ek_transpose_conv_s8; no
 * scratch (TFLM's is an int64 buffer the size of the output); no output/input overlap declared. */
typedef struct {
    ek_transpose_conv_params conv;
    const int64_t *bias;  /* [output_c] (zeros when the model has none) */
} ek_transpose_conv_s16_params;

void ek_transpose_conv_s16(const ek_transpose_conv_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_TRANSPOSE_CONV_H */

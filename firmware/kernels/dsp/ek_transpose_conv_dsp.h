/* TRANSPOSE_CONV, int8, batch 1, NHWC, on the DSP extension: the same result as
 * ek_transpose_conv_s8 (ek_transpose_conv.h), which says the arithmetic and the taps that reach
 * an output pixel (the gather form, ek_transpose_conv_first_tap); this header says only how the
 * sums are formed.
 *
 * Per output pixel, the accumulators of all output channels (scratch) start at 2 * bias; per tap
 * that reaches the pixel, the input pixel it reads is widened once to int16 pairs, doubled with
 * its offset added (2 * (x + input_offset), |.| <= 510, in the order SXTB16 unpacks four int8
 * channels: c0,c2 then c1,c3), and four output channels at a time take, per pair of input
 * channels, two words of that tap's weights (rows n, n+1 and n+2, n+3, as the fully connected
 * DSP kernel reads them) and four dual MACs (SMLAD: ek_gemm4_dsp.h, the fully connected
 * kernel's loop). The padded input channels have zero weights; the generator proves every
 * channel's doubled sum fits int32, so the sum equals TFLM's.
 * Requantization: ek_requant2 (ek_dsp.h) with the per-channel constants in requant, exact with
 * TFLite's, then the activation clamp.
 *
 * Loop order and overlap: output pixels in row-major order; the output is not written over its
 * input (no overlap is declared, as for the portable kernel).
 */
#ifndef EK_TRANSPOSE_CONV_DSP_H
#define EK_TRANSPOSE_CONV_DSP_H

#include <stdint.h>

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
    int32_t pad_top;
    int32_t pad_left;
    int32_t input_offset;      /* -input zero point */
    int32_t k_pad;             /* input_c rounded up to a multiple of 4 (padding weights 0) */
    int32_t n_pad;             /* output_c rounded up to a multiple of 4 */
    int32_t act_full;          /* act_min == -128 and act_max == 127: saturation clamps */
    int32_t act_min;
    int32_t act_max;
    const int8_t *weights;     /* per tap [filter_h][filter_w]: [n_pad / 4][k_pad / 2][2][4] */
    const int32_t *requant;    /* [n_pad][4]: 2 * bias, multiplier, c, right */
} ek_transpose_conv_dsp_params;

/* The scratch ek_transpose_conv_dsp_s8 needs (the generator calls this at generation time): one
 * widened input pixel and the accumulators of one output pixel. */
int32_t ek_transpose_conv_dsp_s8_scratch_bytes(int32_t k_pad, int32_t n_pad);
void ek_transpose_conv_dsp_s8(const ek_transpose_conv_dsp_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch);

#endif /* EK_TRANSPOSE_CONV_DSP_H */

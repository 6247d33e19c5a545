/* DEPTHWISE_CONV_2D, int8, batch 1, NHWC, depth multiplier 1, channels a multiple of 4, on the
 * DSP extension.
 *
 * Four channels at a time: a word of input (channels c..c+3 of one tap) unpacks with two
 * SXTB16 into the int16 pairs (c, c+2) and (c+1, c+3), which multiply-accumulate against the
 * tap's weights with the halfword MACs SMLABB/SMLATT. The generator stores the weights already
 * unpacked and doubled, per group of four channels, per tap: {(2w[c], 2w[c+2]),
 * (2w[c+1], 2w[c+3])} as int16 pairs, so the accumulator starts at 2 * b' and is requantized
 * by ek_requant2 (ek_dsp.h) exactly like TFLite.
 *
 * A tap outside the image reads the input zero point (a row of it in scratch), which cancels
 * its share of the folded bias: the result equals TFLM's, which skips such taps.
 *
 * A 3x3 filter (dilation 1, any stride) has its own loop (assembly on a DSP core
 * in an optimising build, ek_dsp.h's EK_DSP_ASM): per output pixel a table of its nine taps'
 * pixels (or the zero-point row), then per group of four channels the nine taps unrolled and the
 * four outputs requantized (ek_requant2_clamped: without the sign term where the build's
 * EK_REQUANT_BELOW_ZERO_POINT is 0) and stored. Nothing is widened into scratch, so the cost of a
 * call is its pixels': a band of one output row costs what that row costs in a whole call (the
 * kernel a streamed segment's depthwise stages take, codegen/ops/dsp_depthwise.py).
 *
 * Loop order (what an output/input overlap plan may rely on): output pixels in row-major
 * order; for each, channel groups in order: read the group's taps of the pixel's window, then
 * write the group's four outputs. The output is written strictly in (y, x, c) order, like the
 * portable kernel.
 */
#ifndef EK_DEPTHWISE_DSP_H
#define EK_DEPTHWISE_DSP_H

#include <stdint.h>

typedef struct {
    int16_t input_h;
    int16_t input_w;
    int16_t input_c;           /* == output channels, a multiple of 4 */
    int16_t output_h;
    int16_t output_w;
    int16_t filter_h;
    int16_t filter_w;
    int16_t stride_h;
    int16_t stride_w;
    int16_t dilation_h;
    int16_t dilation_w;
    int16_t pad_top;
    int16_t pad_left;
    int16_t pad_value;         /* input zero point: what an out-of-image tap reads */
    int16_t act_full;          /* act_min == -128 and act_max == 127: saturation clamps */
    int16_t act_min;
    int16_t act_max;
    const int16_t *weights;    /* [input_c / 4][filter_h * filter_w][4], see above */
    const int32_t *requant;    /* [input_c][4]: 2 * folded bias, multiplier, c, right */
} ek_depthwise_dsp_params;

/* The scratch ek_depthwise_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_depthwise_dsp_s8_scratch_bytes(int32_t input_c, int32_t filter_h, int32_t filter_w);
void ek_depthwise_dsp_s8(const ek_depthwise_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch);

#endif /* EK_DEPTHWISE_DSP_H */

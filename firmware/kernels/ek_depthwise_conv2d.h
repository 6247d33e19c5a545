/* DEPTHWISE_CONV_2D, int8, batch 1, NHWC, any depth multiplier.
 *
 *   y[oy][ox][oc] = clamp(requantize(b'[oc] + sum x[iy][ix][oc / depth_multiplier] * w[ky][kx][oc])
 *                         + output_offset, act_min, act_max)
 *   iy = oy*stride_h - pad_top + ky*dilation_h,  ix = ox*stride_w - pad_left + kx*dilation_w
 *
 * b' = bias - input_zero_point * sum over (ky, kx) of w[ky][kx][oc], folded at generation time;
 * a tap outside the image reads input_zero_point, which cancels its share exactly (TFLM skips
 * such taps), so the result equals TFLM's.
 *
 * Loop order (what an output/input overlap plan may rely on):
 *   for oy, for ox (output pixels in row-major order)
 *     for oc = 0 .. output_c-1 (channels in order; oc = ic*depth_multiplier + m)
 *       read input channel oc / depth_multiplier at the window of pixel (oy, ox), then write
 *       y[oy][ox][oc].
 * (With depth multiplier 1, sixteen channels at a time: the taps of channels c..c+15 are read
 * before those channels are written.)
 * The output is written strictly in (y, x, c) order.
 *
 * Overlap (declared once, in conv_overlap() in edgekit/codegen/ops/conv.py, as for
 * ek_conv2d.h): the output may start `lead` bytes or more below the input; the proof in
 * edgekit/codegen/overlap.py relies on the loop order above (tests/test_overlap_measured.py
 * records the kernel's loads and stores and checks the lead).
 */
#ifndef EK_DEPTHWISE_CONV2D_H
#define EK_DEPTHWISE_CONV2D_H

#include <stdint.h>

typedef struct {
    int32_t input_h;
    int32_t input_w;
    int32_t input_c;
    int32_t output_h;
    int32_t output_w;
    int32_t output_c;          /* input_c * depth_multiplier */
    int32_t depth_multiplier;
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_top;
    int32_t pad_left;
    int32_t input_zero_point;  /* the value an out-of-bounds tap reads */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    const int8_t *weights;     /* [filter_h][filter_w][output_c] */
    const int32_t *bias;       /* [output_c], input offset folded in */
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c], > 0 shifts left */
} ek_depthwise_conv2d_params;

/* input: [input_h][input_w][input_c], output: [output_h][output_w][output_c]. */
void ek_depthwise_conv2d_s8(const ek_depthwise_conv2d_params *p, const int8_t *input, int8_t *output);

/* DEPTHWISE_CONV_2D, 16x8: int16 activations (zero points 0), int8 weights, int64 bias and
 * accumulator (TFLM's reference DepthwiseConvPerChannel for int16 input):
 *   acc = bias[oc] + sum over the taps inside the image of x[..][ic] * w[ky][kx][oc]
 *   y   = clamp(ek_requantize_s64(acc, multiplier[oc], shift[oc]), act_min, act_max)
 * `dw` holds the geometry, weights, the reduced multipliers and right shifts of
 * ek_requantize_s64, and the clamp; its bias is unused (NULL), its zero points 0. No output/input
 * overlap is declared. */
typedef struct {
    ek_depthwise_conv2d_params dw;
    const int64_t *bias;  /* [output_c] */
} ek_depthwise_conv2d_s16_params;

void ek_depthwise_conv2d_s16(const ek_depthwise_conv2d_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_DEPTHWISE_CONV2D_H */

/* CONV_2D, int8, batch 1, NHWC, optionally grouped.
 *
 *   y[oy][ox][oc] = clamp(requantize(b'[oc] + sum x[iy][ix][g*filter_c + c] * w[oc][ky][kx][c])
 *                         + output_offset, act_min, act_max)
 *   iy = oy*stride_h - pad_top + ky*dilation_h,  ix = ox*stride_w - pad_left + kx*dilation_w,
 *   g  = oc / (output_c / groups)
 *
 * b' = bias - input_zero_point * sum(w[oc]) over the whole window, folded at generation time.
 * A tap outside the image reads input_zero_point, which cancels its share of that folded term:
 * the result equals TFLM's, which skips such taps and adds the offset to the taps it keeps.
 *
 * Loop order (what an output/input overlap plan may rely on):
 *   for oy, for ox (output pixels in row-major order)
 *     for oc = 0 .. output_c-1 (channels in order)
 *       read the window of pixel (oy, ox): input rows oy*stride_h - pad_top + ky*dilation_h,
 *       columns ox*stride_w - pad_left + kx*dilation_w, the channels of oc's group;
 *       then write y[oy][ox][oc].
 * (A window of at most 256 bytes is read once per pixel and group, into a column on the stack,
 * before any of the group's channels is written: reads only move earlier.)
 * So the output is written strictly in (y, x, c) order. Writing element (oy, ox, oc) follows
 * every read made for earlier output pixels and for channels <= oc of pixel (oy, ox); it
 * precedes the reads for the later channels of (oy, ox) and for all later pixels.
 *
 * Overlap (declared once, in conv_overlap() in edgekit/codegen/ops/conv.py): the output may
 * start `lead` bytes or more below the input, lead = max over output pixels P of
 * (P + 1) * output_c - q_min(P) * input_c, q_min(P) the lowest input pixel read at or after P
 * (proof: edgekit/codegen/overlap.py). It relies on the loop order above: change one, change
 * both; tests/test_overlap_measured.py records this kernel's loads and stores and checks the lead.
 */
#ifndef EK_CONV2D_H
#define EK_CONV2D_H

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
    int32_t filter_c;          /* input channels per filter: input_c / groups */
    int32_t groups;            /* output_c is a multiple of groups */
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_top;           /* leading padding; the trailing side is implied by the sizes */
    int32_t pad_left;
    int32_t input_zero_point;  /* the value an out-of-bounds tap reads */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    const int8_t *weights;     /* [output_c][filter_h][filter_w][filter_c] */
    const int32_t *bias;       /* [output_c], input offset folded in */
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c], > 0 shifts left */
} ek_conv2d_params;

/* input: [input_h][input_w][input_c], output: [output_h][output_w][output_c]. */
void ek_conv2d_s8(const ek_conv2d_params *p, const int8_t *input, int8_t *output);

/* CONV_2D, 16x8: int16 activations (zero points 0, as TFLM requires), int8 weights, the
 * accumulator int64 (TFLM's reference ConvPerChannel for int16 input):
 *   acc = bias[oc] + sum over the taps inside the image of x * w  (taps in the padding skipped)
 *   y   = clamp(ek_requantize_acc(acc, multiplier[oc], shift[oc], wide), act_min, act_max)
 * `conv` holds the geometry, the weights, multiplier, shift and clamp as for ek_conv2d_s8; its
 * bias is unused (NULL), its input_zero_point and output_offset are 0.
 * wide = 1 (int64 bias, what the converter emits): multiplier and shift are the reduced multiplier
 * and right shift of ek_requantize_s64; wide = 0 (int32 bias): TFLM's (multiplier, shift) pair
 * of ek_requantize, the int32 accumulator proved not to overflow at generation time.
 * Output pixels and channels are written in ek_conv2d_s8's order; no output/input overlap is
 * declared (the planner keeps them apart). */
typedef struct {
    ek_conv2d_params conv;
    const int64_t *bias;  /* [output_c] */
    int32_t wide;
} ek_conv2d_s16_params;

void ek_conv2d_s16(const ek_conv2d_s16_params *p, const int16_t *input, int16_t *output);

#endif /* EK_CONV2D_H */

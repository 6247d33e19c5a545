/* DEPTHWISE_CONV_2D, int8, batch 1, NHWC, depth multiplier 1, 3x3 filter, dilation 1,
 * horizontal stride 1 or 2, on the DSP extension.
 *
 * Each input row is widened once into scratch as one int16 row per channel ("planes", the
 * input zero point in the padding columns), in a ring of 3 rows. Along a plane row two
 * neighbouring taps are one 32-bit word, so the dual MACs (SMLAD and the halfword forms
 * SMLABT, SMLATB) take two taps at a time: four outputs of one channel cost 3 * (3 or 5 word loads
 * + 8 MACs). The loops over channels and blocks are assembly on cores with the DSP extension
 * (they need every register) and C elsewhere, the same computation. The generator stores each channel's weights as doubled int16 pairs
 * per filter row: (w0, w1) and (w1, w2), next to the channel's requantization terms; the
 * accumulators start at 2 * b' and ek_requant2
 * (ek_dsp.h) requantizes them exactly like TFLite.
 *
 * A feature map narrow and tall (a few columns) can be walked transposed: the generator swaps
 * the geometry and the filter's axes and sets `transposed`, so that the kernel's "rows" are
 * the image's columns (blocks of 4 then run down the long side). That order is column-major: the
 * generator declares no input/output overlap for it. A transposed walk may also go over the
 * channels in groups (`group` channels per pass over the map), so that the ring of widened rows
 * holds only one group's planes.
 *
 * Loop order, untransposed (what an output/input overlap plan may rely on): output rows in order; before
 * output row oy is written, every input row it reads has been read into scratch (each input
 * row is read once, when first needed); then row oy's outputs are computed into scratch and
 * copied to the output.
 * So every input read for an output pixel happens before any output of that pixel's row, and
 * no input row above the last one read is written back to: the pixel-order guarantee of the
 * portable kernel (ek_depthwise_conv2d.h) holds with reads only moved earlier.
 */
#ifndef EK_DEPTHWISE_ROWS_DSP_H
#define EK_DEPTHWISE_ROWS_DSP_H

#include <stdint.h>

typedef struct {
    int16_t input_h;
    int16_t input_w;
    int16_t channels;          /* input == output channels */
    int16_t output_h;
    int16_t output_w;
    int16_t stride_h;
    int16_t stride_w;          /* 1 or 2 */
    int16_t pad_top;
    int16_t pad_left;
    int16_t row_len;           /* int16 per plane row: covers the padding and four-output blocks, even */
    int16_t transposed;        /* the sizes above are the transposed map's (see above) */
    int16_t group;             /* channels per pass (divides channels; == channels untransposed) */
    int16_t pad_value;         /* input zero point: what an out-of-image tap reads */
    int16_t act_min;           /* -128 and 127: saturation alone clamps */
    int16_t act_max;
    const int32_t *weights;    /* [channels][10]: per filter row the doubled int16 pairs (w0, w1), (w1, w2)
                                * as words, then 2 * folded bias, multiplier, c, right */
} ek_depthwise_rows_params;

/* Scratch bytes: 2 * row_len * (3 * group + 1) + 4 * ceil(output_w / 4) * group (the ring
 * of one group's plane rows, a row of the zero point standing for rows outside the image, and one
 * output row of the group computed in whole blocks of 4, then copied to the output). */
void ek_depthwise_rows_dsp_s8(const ek_depthwise_rows_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch);

#endif /* EK_DEPTHWISE_ROWS_DSP_H */

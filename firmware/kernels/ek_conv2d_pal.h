/* CONV_2D, int8, with compressed weights (palettized or sparse, see ek_palette.h).
 *
 * Same arithmetic, parameters and loop order as ek_conv2d_s8 (ek_conv2d.h): output pixels in
 * row-major order, channels in order, so any input/output overlap that is safe for
 * ek_conv2d_s8 is safe here. The weights of output channel oc are decoded on the fly while
 * its window is read; no scratch memory.
 */
#ifndef EK_CONV2D_PAL_H
#define EK_CONV2D_PAL_H

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
    int32_t groups;
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
    const int32_t *bias;       /* [output_c], input offset folded in */
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c] */
    int32_t encoding;          /* EK_PAL_PALETTE or EK_PAL_SPARSE */
    int32_t bits;              /* palette: bits per index */
    int32_t table_stride;      /* palette: entries per output channel's table, 0 = shared */
    const uint8_t *codes;      /* indices or nonzero bitmap of [output_c][filter_h][filter_w][filter_c] */
    const int8_t *values;      /* palette table(s) or nonzero weights */
    const int32_t *row_start;  /* sparse: first nonzero of each output channel; else NULL */
} ek_conv2d_pal_params;

void ek_conv2d_pal_s8(const ek_conv2d_pal_params *p, const int8_t *input, int8_t *output);

#endif /* EK_CONV2D_PAL_H */

/* RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR: int8 NHWC, height and width resized.
 *
 * Neither rescales: TFLM copies (nearest) or interpolates (bilinear) the stored int8 values.
 * Where each output row and column reads from was computed at generation time, exactly as
 * TFLM computes it (its float index arithmetic for nearest, its 10-bit fixed point for
 * bilinear), and is passed as tables of input element offsets within one batch:
 *   nearest:  rows[y] = in_y * row_elems, cols[x] = in_x * depth, and each output pixel is the
 *             depth bytes at rows[y] + cols[x];
 *   bilinear: rows[3y..3y+2] = (y0 * row_elems, y1 * row_elems, wy), cols[3x..3x+2] =
 *             (x0 * depth, x1 * depth, wx), weights in 1/1024ths (wy = input_y - 1024 * y0, in
 *             [-512, 1024)), and each output is TFLM's ResizeBilinearInteger:
 *             v = p00 (1024 - wy)(1024 - wx) + p10 wy (1024 - wx) + p01 (1024 - wy) wx + p11 wy wx,
 *             output = (v + (v > 0 ? 2^19 : -2^19)) / 2^20, truncated; |v| < 2^29, so int32.
 * The output never overlaps the input (the planner gives it its own bytes). */
#ifndef EK_RESIZE_H
#define EK_RESIZE_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t batch_elems;   /* input elements per batch */
    int32_t out_height;
    int32_t out_width;
    int32_t depth;
    const int32_t *rows;   /* [out_height] */
    const int32_t *cols;   /* [out_width] */
} ek_resize_nearest_params;

typedef struct {
    int32_t batches;
    int32_t batch_elems;
    int32_t out_height;
    int32_t out_width;
    int32_t depth;
    const int32_t *rows;   /* [3 * out_height]: y0 offset, y1 offset, wy */
    const int32_t *cols;   /* [3 * out_width]: x0 offset, x1 offset, wx */
} ek_resize_bilinear_params;

void ek_resize_nearest_s8(const ek_resize_nearest_params *p, const int8_t *input, int8_t *output);
/* nearest on int16 elements (16x8 models): the same tables, in elements */
void ek_resize_nearest_s16(const ek_resize_nearest_params *p, const int16_t *input, int16_t *output);
void ek_resize_bilinear_s8(const ek_resize_bilinear_params *p, const int8_t *input, int8_t *output);

#endif /* EK_RESIZE_H */

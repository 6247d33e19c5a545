/* SELECT_V2 and SELECT: output = condition ? x : y, elementwise, int8 x and y, bool condition,
 * with broadcasting of all three (TFLite's reference_ops::Select and BroadcastSelect5DSlow, as
 * TFLM runs SELECT_V2; SELECT as LiteRT runs it, TFLM having no kernel).
 *
 * The bytes of x or y are copied without requantization, as TFLite does. The output is walked
 * in order over EK_SELECT_MAX_DIMS dimensions (outermost first, padded with 1 at the front);
 * each input advances by its own element stride per dimension, 0 where it is broadcast. No
 * overlap: the lowering gives the output its own bytes. */
#ifndef EK_SELECT_H
#define EK_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#define EK_SELECT_MAX_DIMS 5

typedef struct {
    int32_t size;                                 /* output elements */
    int32_t dims[EK_SELECT_MAX_DIMS];             /* output shape */
    int32_t condition_strides[EK_SELECT_MAX_DIMS]; /* in elements; 0 where broadcast */
    int32_t x_strides[EK_SELECT_MAX_DIMS];
    int32_t y_strides[EK_SELECT_MAX_DIMS];
} ek_select_params;

void ek_select_s8(const ek_select_params *p, const bool *condition, const int8_t *x, const int8_t *y,
                  int8_t *output);

#endif /* EK_SELECT_H */

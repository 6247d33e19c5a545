/* ARG_MAX, ARG_MIN, int8 input, int32 output indices (the only output type TFLM runs).
 *
 * The input viewed as [outer][axis_size][inner]: for each (outer, inner) pair, in that order,
 * the index along the axis of the largest (ARG_MAX) or smallest (ARG_MIN) stored int8 value,
 * comparing strictly from index 0 upwards so that a tie keeps the first index, as TFLite does.
 * The stored values order as the real ones (the scale is positive), so no dequantization.
 * The output never overlaps the input. */
#ifndef EK_ARG_MIN_MAX_H
#define EK_ARG_MIN_MAX_H

#include <stdint.h>

typedef struct {
    int32_t outer;      /* product of the input dims before the axis */
    int32_t axis_size;  /* input extent along the axis, >= 1 */
    int32_t inner;      /* product of the input dims after the axis */
} ek_arg_min_max_params;

void ek_arg_max_s8(const ek_arg_min_max_params *p, const int8_t *input, int32_t *output);
void ek_arg_min_s8(const ek_arg_min_max_params *p, const int8_t *input, int32_t *output);

#endif /* EK_ARG_MIN_MAX_H */

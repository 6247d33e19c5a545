/* SQUARED_DIFFERENCE: int8 (x1 - x2)^2 with broadcasting (TFLM's int8 SQUARED_DIFFERENCE).
 *
 * The parameters are ADD's (ek_add_params, as TFLite's ArithmeticParams serve both): each input,
 * zero-point corrected and shifted left by left_shift (7), is rescaled to twice the larger input
 * scale (multipliers below one); the difference is squared in int32 and rescaled to the output
 * (output_multiplier, output_shift: (2 * max scale)^2 / (2^(2 * left_shift) * output scale)),
 * the output zero point added and the result clamped to [act_min, act_max]. The walk is
 * ek_broadcast.h's; equal shapes take a flat loop. In place: element i of a full-size input is
 * read before output element i is written, in ascending order, so the output may start where
 * such an input starts. */
#ifndef EK_SQUARED_DIFFERENCE_H
#define EK_SQUARED_DIFFERENCE_H

#include <stdint.h>

#include "ek_binary.h"

void ek_squared_difference_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2,
                              int8_t *output);

#endif /* EK_SQUARED_DIFFERENCE_H */

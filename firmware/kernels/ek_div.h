/* DIV: int8 x1 / x2 with broadcasting (TFLite's int8 DIV, reference_ops::DivElementwise and
 * BroadcastDivSlow, as the tflite-micro interpreter runs them).
 *
 * The parameters are MUL's (ek_mul_params, as TFLite's ArithmeticParams serve both): with
 * v1 = x1 - zero point 1 and v2 = x2 - zero point 2 (both signs flipped when v2 < 0), 1 / v2 is
 * gemmlowp's reciprocal (a Q0.31 value in [0.5, 1) and a shift), v1 is shifted left by its
 * headroom (its leading sign bits) and multiplied by the reciprocal, and the quotient is rescaled
 * by output_multiplier at output_shift - reciprocal shift - headroom (output_multiplier, shift:
 * scale 1 / (scale 2 * output scale)); the output zero point is added and the result clamped to
 * [act_min, act_max].
 *
 * That last shift can exceed 31 places (a small v1 over a large v2), where TFLite's C++ shifts a
 * 32-bit value by that count: undefined in C++, and the x86 build of the tflite-micro interpreter
 * shifts by the count's low five bits, the rounding mask being all ones. The kernel does the same
 * explicitly, on every target, so the generated C gives the interpreter's bytes; a zero divisor
 * (v2 == 0, undefined in TFLite) is taken through the same masked steps.
 *
 * The walk is ek_broadcast.h's; equal shapes take a flat loop. In place: element i of a
 * full-size input is read before output element i is written, in ascending order, so the output
 * may start where such an input starts. */
#ifndef EK_DIV_H
#define EK_DIV_H

#include <stdint.h>

#include "ek_binary.h"

void ek_div_s8(const ek_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* EK_DIV_H */

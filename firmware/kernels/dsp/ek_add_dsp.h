/* ADD, int8, equal shapes, with the DSP extension's rounding multiply-accumulate (SMMLAR).
 *
 * TFLite's int8 ADD: each input, offset and shifted left by 20, is rescaled to twice the larger
 * input scale (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT), the two are added,
 * and the sum is rescaled to the output. An input takes 256 values, so the generator tabulates
 * each input's rescaled value (computed with TFLite's arithmetic); the output rescaling is
 * ek_requant2 (ek_dsp.h), exact under bounds the generator checks. Elements are read and
 * written in ascending order, element i read before output i is written, so the output may
 * start where an input starts.
 */
#ifndef EK_ADD_DSP_H
#define EK_ADD_DSP_H

#include <stdint.h>

typedef struct {
    int32_t size;              /* elements */
    const int32_t *table1;     /* [256]: input 1's rescaled value, indexed by value + 128 */
    const int32_t *table2;     /* [256]: input 2's */
    int32_t out_m;             /* output rescaling: multiplier, */
    int32_t out_c;             /* 2^(right-1) + (output offset << right), */
    int32_t out_right;         /* right shift >= 1 */
    int32_t act_full;
    int32_t act_min;
    int32_t act_max;
} ek_add_dsp_params;

void ek_add_dsp_s8(const ek_add_dsp_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* EK_ADD_DSP_H */

/* STRIDED_SLICE, int8 (or int16: ek_strided_slice_s16): begin/end/strides and every mask
 * resolved at generation time.
 *
 * Output element (i[0], ..., i[rank-1]) comes from input index start + sum(i[d] * step[d]);
 * steps are negative for negative strides. Dimensions were merged at generation time: when the
 * innermost step is 1 whole rows are copied. */
#ifndef EK_STRIDED_SLICE_H
#define EK_STRIDED_SLICE_H

#include <stdint.h>

#define EK_STRIDED_SLICE_MAX_DIMS 6

typedef struct {
    int32_t rank;                              /* walk dimensions, 1..EK_STRIDED_SLICE_MAX_DIMS */
    int32_t start;                             /* input index of the first element */
    int32_t count[EK_STRIDED_SLICE_MAX_DIMS];  /* output extent per dimension */
    int32_t step[EK_STRIDED_SLICE_MAX_DIMS];   /* input stride per dimension */
} ek_strided_slice_params;

void ek_strided_slice_s8(const ek_strided_slice_params *p, const int8_t *input, int8_t *output);
/* int16 elements (16x8 models); no overlap declared */
void ek_strided_slice_s16(const ek_strided_slice_params *p, const int16_t *input, int16_t *output);

#endif /* EK_STRIDED_SLICE_H */

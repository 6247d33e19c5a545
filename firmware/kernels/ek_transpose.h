/* TRANSPOSE and TILE, int8 (TRANSPOSE also int16: ek_transpose_s16): the output written in
 * order while the input is read along permuted strides (TILE: a step of 0 for each repetition of
 * an axis).
 *
 * Output element (i[0], ..., i[rank-1]) comes from input index sum(i[d] * step[d]). Dimensions
 * were merged at generation time: when the innermost step is 1 whole rows are copied.
 * EK_TRANSPOSE_MAX_DIMS is 10: a 5-D TILE walks a (multiple, size) pair of dimensions per axis. */
#ifndef EK_TRANSPOSE_H
#define EK_TRANSPOSE_H

#include <stdint.h>

#define EK_TRANSPOSE_MAX_DIMS 10

typedef struct {
    int32_t rank;                          /* walk dimensions, 1..EK_TRANSPOSE_MAX_DIMS */
    int32_t count[EK_TRANSPOSE_MAX_DIMS];  /* output extent per dimension */
    int32_t step[EK_TRANSPOSE_MAX_DIMS];   /* input stride per dimension */
} ek_transpose_params;

void ek_transpose_s8(const ek_transpose_params *p, const int8_t *input, int8_t *output);
/* int16 elements (16x8 models); no overlap declared */
void ek_transpose_s16(const ek_transpose_params *p, const int16_t *input, int16_t *output);

#endif /* EK_TRANSPOSE_H */

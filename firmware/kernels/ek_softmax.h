/* SOFTMAX, int8 in, int8 out (scale 1/256, zero point -128), over the last dimension.
 *
 * TFLM's integer algorithm: exp(beta * scale * (x - row max)) in gemmlowp Q0.31, summed in
 * Q12.19, one fixed-point reciprocal per row, then a rounding shift to the output. The exp
 * depends only on d = max - x (0..255), so it is a table computed at generation time; a
 * difference at or beyond table_len (TFLM's diff_min) contributes nothing and outputs -128. */
#ifndef EK_SOFTMAX_H
#define EK_SOFTMAX_H

#include <stdint.h>

typedef struct {
    int32_t rows;
    int32_t depth;               /* last dimension */
    int32_t table_len;           /* 1..256 */
    const int32_t *exp_table;    /* [table_len], exp of -d in Q0.31 */
} ek_softmax_params;

void ek_softmax_s8(const ek_softmax_params *p, const int8_t *input, int8_t *output);

#endif /* EK_SOFTMAX_H */

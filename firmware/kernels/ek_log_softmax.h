/* LOG_SOFTMAX, int8 in, int8 out (scale 16/256, zero point 127), over the last dimension.
 *
 * TFLM's integer algorithm (reference_ops::LogSoftmax, int8): per row, with d = row max - x,
 * exp(-scale * d) in gemmlowp Q0.31, shifted to Q12.19 and summed; log(sum) in Q5.26 (gemmlowp's
 * log_x_for_x_greater_than_or_equal_to_1); each output is (-scale * d in Q5.26 - log(sum)) shifted
 * down by 22 bits plus 127, saturated, or -128 where -d is at or below adjusted_diff_min (the
 * larger of diff_min - 1 and log(sum) brought back to the input's scale). Both d-dependent values
 * depend only on d (0..255), so they are tables computed at generation time, table_len long (d
 * beyond: exp 0, output -128). The row is read whole before its first output is written, then
 * element i is read before output element i is written, ascending: the output may start at or
 * below the input. */
#ifndef EK_LOG_SOFTMAX_H
#define EK_LOG_SOFTMAX_H

#include <stdint.h>

typedef struct {
    int32_t rows;
    int32_t depth;                    /* last dimension */
    int32_t table_len;                /* 1..256: d < table_len are within TFLM's diff_min */
    int32_t diff_min;                 /* -input radius (TFLM's CalculateInputRadius) */
    int32_t reverse_multiplier;       /* Q5.26 back to the input's scale: multiplier and shift */
    int32_t reverse_shift;
    const int32_t *exp_table;         /* [table_len]: exp(-scale * d), Q12.19 */
    const int32_t *diff_table;        /* [table_len]: -scale * d, Q5.26 */
} ek_log_softmax_params;

void ek_log_softmax_s8(const ek_log_softmax_params *p, const int8_t *input, int8_t *output);

#endif /* EK_LOG_SOFTMAX_H */

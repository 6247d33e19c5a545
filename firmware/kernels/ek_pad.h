/* PAD, PADV2, int8 (or int16: ek_pad_s16): the output filled with the pad value, the input
 * copied into its interior.
 *
 * The input is walked as an N-D loop (count[d], outermost first) and lands in the output at
 * offset + sum(i[d] * step[d]); dimensions were merged at generation time, so the innermost one
 * is one contiguous row. An image (1xHxWxC, the batch not padded) keeps its rows as the outermost
 * dimension (count[0] == in_h, step[0] == out_row), so that a band of output rows is the same
 * walk with fewer input rows (ek_pad_s8_rows, ek_stream.h); otherwise in_h is 0. */
#ifndef EK_PAD_H
#define EK_PAD_H

#include <stdint.h>

#define EK_PAD_MAX_DIMS 6

typedef struct {
    int32_t rank;                    /* walk dimensions, 1..EK_PAD_MAX_DIMS */
    int32_t count[EK_PAD_MAX_DIMS];  /* input extent per dimension */
    int32_t step[EK_PAD_MAX_DIMS];   /* output stride per dimension; step[rank - 1] == 1 */
    int32_t offset;                  /* output index of input element 0 */
    int32_t output_size;
    int32_t pad_value;               /* the output zero point, or PADV2's constant */
    int32_t in_h;                    /* an image's input rows (0: not walked by rows) */
    int32_t pad_top;                 /* its padding rows above the first input row */
    int32_t out_row;                 /* elements of an output row */
} ek_pad_params;

void ek_pad_s8(const ek_pad_params *p, const int8_t *input, int8_t *output);
void ek_pad_s16(const ek_pad_params *p, const int16_t *input, int16_t *output);

#endif /* EK_PAD_H */

/* MAX_POOL_2D and AVERAGE_POOL_2D, int8 NHWC; the _s16 variants the same on int16 (16x8 models).
 *
 * Input and output share one quantization (TFLM requires it), so pooling works on the raw
 * int8 values. The average divides the sum of the taps that fall inside the input (padding
 * taps are not counted) by their count, rounding half away from zero.
 *
 * Loop order: output pixels in (batch, y, x) order; at each pixel the kernel writes only that
 * pixel's channels (max pool keeps its running maximum there, average pool sums in the
 * scratch) and reads only its window clipped to the image. Overlap (declared once, in
 * pool_overlap() in edgekit/codegen/ops/pool.py; proof in edgekit/codegen/overlap.py): the
 * output may start `lead` bytes or more below the input. Change the loop order, change both.
 * The _s16 variants keep that order but declare no overlap (the planner keeps them apart). */
#ifndef EK_POOL_H
#define EK_POOL_H

#include <stdint.h>

#include "ek_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t channels;
    int32_t out_h;
    int32_t out_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_h;      /* top padding */
    int32_t pad_w;      /* left padding */
    int32_t act_min;
    int32_t act_max;
} ek_pool_params;

/* An average pool's output from the sum of its window's count values, as TFLM rounds it:
 * (sum +- count/2) / count with C division, i.e. half away from zero (a zero sum takes the
 * negative branch and stays zero). Every average pool kernel and band wrapper divides here. */
EK_INLINE int32_t ek_pool_average(int32_t sum, int32_t count)
{
    const int32_t half = count / 2;
    return sum > 0 ? (sum + half) / count : (sum - half) / count;
}

void ek_max_pool_s8(const ek_pool_params *p, const int8_t *input, int8_t *output);

/* The scratch ek_avg_pool_s8 needs, 4-byte aligned (the generator calls this at generation time). */
int32_t ek_avg_pool_s8_scratch_bytes(int32_t channels);
void ek_avg_pool_s8(const ek_pool_params *p, const int8_t *input, int8_t *output, void *scratch);

void ek_max_pool_s16(const ek_pool_params *p, const int16_t *input, int16_t *output);
/* scratch: ek_avg_pool_s8_scratch_bytes(channels) */
void ek_avg_pool_s16(const ek_pool_params *p, const int16_t *input, int16_t *output, void *scratch);

#endif /* EK_POOL_H */

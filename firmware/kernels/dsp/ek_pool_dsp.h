/* MAX_POOL_2D and AVERAGE_POOL_2D, int8, on the DSP extension: the parameters, walk, scratch and
 * rounding of ek_max_pool_s8 and ek_avg_pool_s8 (ek_pool.h), four channels a word.
 *
 * Maximum: per word of four channels, the window's words are folded with SSUB8 + SEL (ek_max8), the
 * activation range applied the same way, and the word stored; channels after the last whole word
 * one at a time.
 *
 * Sums: per group of eight channels, each pixel's two words are added into four registers of two
 * halfword lanes (SXTAB16: bytes 0 and 2; SXTAB16 ROR 8: bytes 1 and 3), at most
 * EK_POOL_LANE_PIXELS pixels at a time (256 int8 values sum to [-32768, 32512]: a lane never
 * wraps), then into the int32 sums in the scratch. A last group of four channels takes two
 * registers, the channels after it (channels % 4) one add each.
 *
 * Walk: as the portable kernels (output pixels in (batch, y, x) order; at a pixel only its window
 * read and only its channels written, a word once the window's words for it are read), so the
 * output may overlap the input as far as pool_overlap() in edgekit/codegen/ops/pool.py declares
 * for all four.
 */
#ifndef EK_POOL_DSP_H
#define EK_POOL_DSP_H

#include <stdint.h>

#include "ek_pool.h"

#define EK_POOL_LANE_PIXELS 256

void ek_max_pool_dsp_s8(const ek_pool_params *p, const int8_t *input, int8_t *output);

/* 4 * channels bytes (one int32 sum per channel), as ek_avg_pool_s8. */
int32_t ek_avg_pool_dsp_s8_scratch_bytes(int32_t channels);
void ek_avg_pool_dsp_s8(const ek_pool_params *p, const int8_t *input, int8_t *output, void *scratch);

/* Adds n pixels of `channels` int8 values each, back to back from `in`, to sum[0 .. channels):
 * the summing of ek_avg_pool_dsp_s8, for ek_global_avg_pool_dsp_s8_rows (ek_stream_dsp.h). */
void ek_pool_sum_dsp_s8(int32_t *sum, const int8_t *in, int32_t n, int32_t channels);

#endif /* EK_POOL_DSP_H */

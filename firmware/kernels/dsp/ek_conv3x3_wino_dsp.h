/* CONV_2D 3x3, stride 1, dilation 1, groups 1, int8, batch 1, NHWC, by Winograd's minimal
 * filtering F(2x2, 3x3) in exact integer arithmetic, on the DSP extension (SMLAD).
 *
 * The output is cut into 2x2 tiles; tile (ty, tx) reads the 4x4 input patch d whose top left
 * pixel is (2ty - pad_top, 2tx - pad_left) (out-of-image pixels read the zero point). Per input
 * channel c and output channel n, with the 3x3 filter g[n][c]:
 *
 *   V[c] = B^T d[c] B              B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   U[n][c] = G g[n][c] G^T        G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]  (twice the textbook G)
 *   M[n] = sum_c U[n][c] .* V[c]   (16 dot products over the input channels: SMLAD)
 *   Y[n] = A^T M[n] A              A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * Y is exactly 4 times the 2x2 block of sum_k w * x that the direct convolution computes: the
 * 1/2 of the textbook G is moved into the stored U, so every step is an integer sum and the
 * result is the same integer, not an approximation. Then, as in ek_conv2d_dsp_s8,
 * acc2 = 2 * b'[n] + Y / 2 is requantized by ek_requant2 (exact; the generator checked the
 * bounds): |d| <= 128, so |V| <= 512 (int16); |U| <= 9 * 128 (int16); the generator checks from
 * the actual weights that no sum of M's or Y's can leave int32. Per output 16 multiplications
 * instead of 36: 2.25 times fewer MACs than the direct form.
 *
 * A block computes block_tiles tiles, 2 or 4 (the generator's choice, a parameter), against
 * groups of g = 8 / block_tiles output channels (EK_WINO_ACCUMULATORS: g x block_tiles accumulators
 * per position). The generator stores U (int16, computed at generation time) in the order the
 * channel loop reads it: per group of g output channels n .. n + g - 1, per position p of the 4x4
 * (row-major), per pair of input channels (ca, cb) (the order SXTB16 unpacks a word of four
 * channels into: c0,c2 then c1,c3) g words {U[p][n + i][ca], U[p][n + i][cb]} (a last group of
 * fewer channels padded with channels of zeros, whose outputs are not computed); and per output
 * channel the requantization terms (2 * folded bias, multiplier, c, right).
 *
 * Per block (a last block of fewer tiles repeats its last tile and discards its outputs): the
 * tiles' V (int16 pairs) go to scratch, [position][channel pair][tile], then every group of output
 * channels is computed against them (each word of V loaded once for g channels, each word of U
 * once for the block's tiles: 16 cycles per 16 MACs either way), then the output transform,
 * requantization and stores. Two tiles halve the scratch (64 bytes per input channel, not 128);
 * four read U half as often, which is what costs where U is in flash behind wait states.
 *
 * Loop order (what an output/input overlap plan may rely on): blocks of block_tiles tiles, tiles
 * in row-major order; every input read of a block happens before any output of that block is
 * written, and a block writes only its own tiles' pixels (see winograd_overlap in
 * edgekit/codegen/ops/winograd.py).
 */
#ifndef EK_CONV3X3_WINO_DSP_H
#define EK_CONV3X3_WINO_DSP_H

#include <stdint.h>

#define EK_WINO_MAX_TILES 4    /* a block's tiles (block_tiles): 2 or 4 */
#define EK_WINO_ACCUMULATORS 8 /* tiles x output channels the channel loop computes at once */

typedef struct {
    int16_t input_h;
    int16_t input_w;
    int16_t input_c;           /* a multiple of 8 */
    int16_t output_h;
    int16_t output_w;
    int16_t output_c;          /* even */
    int16_t pad_top;
    int16_t pad_left;
    int16_t tiles_w;           /* ceil(output_w / 2) */
    int16_t tiles_h;           /* ceil(output_h / 2) */
    int16_t block_tiles;       /* 2 or 4: the tiles a block computes at once (see above) */
    int16_t pad_value;         /* input zero point: what an out-of-image pixel reads */
    int16_t act_full;          /* act_min == -128 and act_max == 127: saturation clamps */
    int16_t act_min;
    int16_t act_max;
    const int32_t *weights;    /* [ceil(output_c / g)][16][input_c / 2][g] words of two int16, g = 8 / block_tiles */
    const int32_t *requant;    /* [output_c][4]: 2 * folded bias, multiplier, c, right */
} ek_conv3x3_wino_params;

/* The scratch ek_conv3x3_wino_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_conv3x3_wino_dsp_s8_scratch_bytes(int32_t input_c, int32_t block_tiles);
/* The output channels of a group (the weights' layout) with blocks of block_tiles tiles; -1: none. */
int32_t ek_conv3x3_wino_dsp_s8_group(int32_t block_tiles);
void ek_conv3x3_wino_dsp_s8(const ek_conv3x3_wino_params *p, const int8_t *input, int8_t *output,
                            int8_t *scratch);

#endif /* EK_CONV3X3_WINO_DSP_H */

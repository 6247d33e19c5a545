/* CONV_2D, int8, batch 1, NHWC, horizontal dilation 1: im2col + a GEMM on the DSP extension
 * (SMLAD).
 *
 * Four output pixels at a time: the receptive field of each (its "column", the k = filter_h *
 * filter_w * input_c taps, out-of-image taps reading the input zero point) is widened to int16
 * in scratch, then every pair of output channels is computed against the four columns with
 * dual 16-bit MACs:
 *
 *   acc[n][j] = 2 * b'[n] + sum_k 2 * col_j[k] * w[n][k]   (2 x 4 accumulators)
 *   y[pixel j][n] = clamp(requant(acc[n][j]))                (ek_requant2, exact)
 *
 * (the columns are widened doubled, so the accumulators are the doubled ones ek_requant2 takes).
 * Column order (the generator lays the weights out the same way): each filter row's run of
 * filter_w * input_c taps contributes its whole words, row after row, read straight from the
 * input; the runs' last (run % 4) bytes follow, gathered into words. When they fit one word
 * and a run has a whole word ("quick": c_in 3 with a 3x3 filter, say) they sit at the top of
 * that word (each run's last word is loaded and shifted in), else they start the first word.
 * Four windows inside the image and in one output row are read in one pass (column4); the
 * others pixel by pixel, a window crossing the border first gathered into scratch. A last block
 * of one pixel (every odd square map: 5x5, 7x7; a row of five) runs a channel loop of its own on
 * that column alone (int8 weights; about 0.6 of a block's cycles) instead of computing four pixels
 * and discarding the missing ones' outputs.
 * The generator writes everything the channel loop reads as one stream of words, in the order
 * it reads them: per channel pair, the two doubled folded biases; per pair of k (the order
 * SXTB16 unpacks a word of four columns into: k0,k2 then k1,k3) the four bytes
 * {w[n][ka], w[n+1][ka], w[n][kb], w[n+1][kb]}, so one word load and two SXTB16 give both
 * channels' int16 pairs; then per channel the requantization terms (ek_dsp.h) multiplier, c and
 * right | (output channel << 8) (a register shift uses the low byte alone). Every constant is
 * computed at generation time: the padded sizes, the folded bias, the requantization terms, the
 * activation bounds.
 *
 * Output channels whose weights are all zero ("dead": their accumulator is the bias alone) are
 * not computed: the generator works out their constant output and the kernel copies a row of
 * constants (dead_row) to every pixel, then computes only the live channels (each pair names
 * its output channels; an odd last channel is paired with a copy of itself).
 *
 * ek_conv2d_int4_dsp_s8 takes int4 weights (values -8..7), two per byte, with the same
 * parameters, scratch, columns and loop order. Its stream differs in two places: the biases are
 * 16 times the doubled folded biases, and the weights take one word per two pairs of k (k_pad / 4
 * words): the low nibble of each byte is that byte of the int8 kernel's word for the first pair
 * (pair 2i), the high nibble that of the word for the second (pair 2i + 1). The kernel moves the
 * low nibbles to the high half of their bytes (LSL 4, AND 0xF0F0F0F0) and masks the high ones in
 * place (AND), so each byte is 16 times its weight and the same two SXTB16 give both channels'
 * int16 pairs; the accumulators run at 16 times the doubled sum and are divided by 16 (exact)
 * before the requantization. The generator takes it only where 32 (W x + b') fits int32.
 *
 * ek_conv2d_sparse_dsp_s8 (block-sparse weights, groups 1) takes the int8 kernel's parameters and
 * scratch with k_pad a multiple of 16, and skips the blocks of 16 column positions (eight pairs of
 * k, one iteration of the k loop) where both channels of a pair have only zero weights. Per
 * channel pair its stream holds the two doubled folded biases, then for each block with a nonzero
 * weight the block's byte offset in the columns (block * 128) and its eight words of weights, then
 * the word -1, then the pair's requantization terms. Its cycles fall with the blocks kept: an
 * offset load and a loop test per block more than the dense loop's eight pairs.
 *
 * ek_conv2d_pal_dsp_s8 (palettized weights: at most 2^bits values per output channel, bits 1, 2 or
 * 4; groups 1) stores per channel pair the two doubled folded biases, the pair's two tables of 2^bits
 * int8 values (the first channel's, then the second's, 2^(bits - 1) words), the indices (one
 * `bits`-wide index per byte of the int8 kernel's weight words, in their order, packed LSB first:
 * in each word of the int8 stream the even bytes are the first channel's and the odd bytes the
 * second's; ceil(k_pad * bits / 16) words), then the six requantization terms. It decodes
 * chunk_pairs channel pairs at a time into scratch as the int8 kernel's stream and runs the int8
 * kernel's walk over every output pixel on them, so each weight is decoded once per call and used
 * for every pixel: the decoding's cost per MAC falls with the output's pixels. With more than one
 * chunk, the walk of a later chunk reads input pixels whose outputs an earlier one wrote: its
 * output must not overlap its input then (with one chunk, the int8 kernel's loop order holds).
 * ek_conv2d_pal_dsp_pixel_s8 takes the same parameters and stream (chunk_pairs unused) for a 1x1
 * filter on a 1x1 input whose input_c is a multiple of 4 (k_pad = input_c: the column is the input
 * pixel): one output pixel, where the int8 kernel's blocks of four pixels would compute three for
 * nothing. It decodes each weight in registers and multiplies it with its input byte, a channel
 * pair at a time, with no scratch; it reads the whole input for every pair, so its output must not
 * overlap its input.
 *
 * Grouped convolution (groups > 1): input_c is the channels of one group (the filter's), an input
 * pixel is input_c * groups bytes; the groups are computed one after another, each a walk over
 * every output pixel with columns made of that group's channels, against that group's part of the
 * stream (its output_c / groups channels, every one live: the pairs name their channels in the
 * whole output, and a group's part is ceil(output_c / groups / 2) pairs long). dead_row is NULL.
 * A window row wider than one pixel is then not contiguous in the input, and every window is
 * gathered (filter_w 1, the grouped 1x1 convolutions of ShuffleNet, reads straight).
 *
 * Loop order (what an output/input overlap plan may rely on): output pixels in row-major
 * order, four at a time; the columns of all four pixels are read into scratch before any of
 * their outputs is written, then their outputs are written (the dead channels' constants,
 * then the live channels in pairs). So every read
 * made for a pixel happens before any write of that pixel or of a later one, which is all the
 * portable kernel's order guarantees as well. Grouped, a group reads input pixels that the
 * groups before it have written the outputs of: its output must not overlap its input.
 * Ungrouped, a 1x1 stride-1 convolution with output_c == input_c may therefore run in place
 * (output == input): a block's input pixels are in scratch before the block's outputs, which
 * are those same pixels, are written (ek_conv2d_dsp_s8_pixels in ek_stream_dsp.h relies on it).
 */
#ifndef EK_CONV2D_DSP_H
#define EK_CONV2D_DSP_H

#include <stdint.h>

/* Sizes and offsets are int16_t: parameter structs stay small in flash. */

typedef struct {
    int16_t input_h;
    int16_t input_w;
    int16_t input_c;           /* the channels of one group */
    int16_t groups;            /* input pixels are input_c * groups bytes */
    int16_t output_h;
    int16_t output_w;
    int16_t output_c;
    int16_t filter_h;
    int16_t filter_w;
    int16_t stride_h;
    int16_t stride_w;
    int16_t dilation_h;
    int16_t dilation_w;        /* 1 */
    int16_t pad_top;
    int16_t pad_left;
    int16_t k_pad;             /* the column's length: k plus the bytes padding the runs' last bytes
                                * to a word (see above; their weights are 0), a multiple of 4 */
    int16_t pad_value;         /* input zero point: what an out-of-image tap reads */
    int16_t act_full;          /* act_min == -128 and act_max == 127: saturation clamps */
    int16_t act_min;
    int16_t act_max;
    int16_t live_c;            /* output channels computed (the others are constant) */
    const int32_t *stream;     /* [ceil(live_c / 2)][2 + k_pad / 2 + 6] words, see above;
                                * int4: [ceil(live_c / 2)][2 + k_pad / 4 + 6]; sparse: per pair
                                * 2 + 9 per block kept + 1 + 6; palettized: per pair
                                * 2 + 2^(bits - 1) + ceil(k_pad * bits / 16) + 6 */
    const int8_t *dead_row;    /* [output_c]: the constant channels' outputs; NULL: none */
} ek_conv2d_dsp_params;

/* ek_conv2d_pal_dsp_s8's: conv.stream is the palettized stream (see above). */
typedef struct {
    ek_conv2d_dsp_params conv;
    int16_t bits;              /* 1, 2 or 4 */
    int16_t chunk_pairs;       /* channel pairs decoded at a time (the generator's choice) */
} ek_conv2d_pal_dsp_params;

/* The scratch ek_conv2d_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_conv2d_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c);
void ek_conv2d_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch);
/* Output pixels first .. end - 1 of the same convolution (row-major indices of the whole output;
 * `input` the whole input): pixel q at output + (q - first) * output_c, or, from pixel `split` on,
 * at spill + (q - split) * output_c. The walk is the whole call's from pixel `first`: blocks of
 * four pixels across output rows, a last block of one pixel on its own. (A streamed segment's
 * first convolution makes its band's rows this way, the next row's first pixels into its state:
 * ek_conv2d_dsp_s8_ahead, ek_stream_dsp.h.) */
void ek_conv2d_dsp_s8_span(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch,
                           int32_t first, int32_t end, int8_t *spill, int32_t split);
int32_t ek_conv2d_int4_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c);
void ek_conv2d_int4_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch);
int32_t ek_conv2d_sparse_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c);
void ek_conv2d_sparse_dsp_s8(const ek_conv2d_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch);
int32_t ek_conv2d_pal_dsp_s8_scratch_bytes(int32_t k_pad, int32_t output_c, int32_t chunk_pairs);
void ek_conv2d_pal_dsp_s8(const ek_conv2d_pal_dsp_params *p, const int8_t *input, int8_t *output, int8_t *scratch);
void ek_conv2d_pal_dsp_pixel_s8(const ek_conv2d_pal_dsp_params *p, const int8_t *input, int8_t *output);

#endif /* EK_CONV2D_DSP_H */

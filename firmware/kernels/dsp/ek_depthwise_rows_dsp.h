/* DEPTHWISE_CONV_2D, int8, batch 1, NHWC, depth multiplier 1, 3x3 filter, dilation 1,
 * horizontal stride 1 or 2, on the DSP extension.
 *
 * Input rows are widened into scratch as one int16 row per channel ("planes", the input zero
 * point in the padding columns). Along a plane row two neighbouring taps are one 32-bit word,
 * so the dual MACs (SMLAD and the halfword forms SMLABT, SMLATB) take two taps at a time: four
 * outputs of one channel cost 3 * (3 or 5 word loads + 8 MACs). The generator stores each
 * channel's weights as doubled int16 pairs per filter row: (w0, w1) and (w1, w2), next to the
 * channel's requantization terms; the accumulators start at 2 * b' and ek_requant2 (ek_dsp.h)
 * requantizes them exactly like TFLite. The loops over channels and blocks are assembly on
 * cores with the DSP extension (they need every register) and C elsewhere, the same computation.
 *
 * A row of outputs is `blocks` (at least 1) blocks of four and then `tail` outputs: 0, 1 (one
 * output, two words of each plane row) or 2 (a block of two); the generator picks them from output_w,
 * so a row of 4 or more computes nothing beyond it but where 3 outputs remain (a block of four).
 * The planes are laid out [channel][slot][row_len]. (A block of six for rows of 5 or 6 outputs
 * saved 3 % of kws's cycles but took 1.3 KB of code, one copy of its loop per rotation of the
 * ring: over the code budget, so it is not here.)
 *
 * Channels go in groups of `group`. With one group (group == channels) the three plane rows an
 * output row needs are a ring of three slots: each input row is widened once, when first needed,
 * into slot (row mod 3); a row outside the image is the zero point written into its slot. With
 * several groups (a smaller scratch, chosen by the generator when the ring would be large) the
 * group's three rows are widened again for every output row (slots 0..2).
 *
 * Loop order (what an output/input overlap plan may rely on; the generator derives its lead from
 * exactly this order, `rows_overlap` in edgekit/codegen/ops/dsp.py): output rows oy in order;
 * for each, channel groups in order: first read input rows oy * stride_h - pad_top + 0..2 (inside
 * the image; ring: only those not read before) for the group's channels, then, when `direct`,
 * write the group's outputs of row oy; without `direct` the row is computed into scratch and
 * copied to the output after its last group. An activation range narrower than int8 then
 * rewrites (clamps) output row oy. Nothing else of the input is read, nothing else of the
 * output is written. The input and output pointers are not restrict.
 */
#ifndef EK_DEPTHWISE_ROWS_DSP_H
#define EK_DEPTHWISE_ROWS_DSP_H

#include <stdint.h>

typedef struct {
    int16_t input_h;
    int16_t input_w;
    int16_t channels;          /* input == output channels */
    int16_t output_h;
    int16_t output_w;
    int16_t stride_h;
    int16_t stride_w;          /* 1 or 2 */
    int16_t pad_top;
    int16_t pad_left;
    int16_t row_len;           /* int16 per plane row: the padding and every tap a block reads, even */
    int16_t group;             /* channels per group (divides channels; == channels: the ring) */
    int16_t blocks;            /* blocks of four outputs per row and channel, >= 1 */
    int16_t tail;              /* outputs after the blocks of four: 0, 1 or 2 */
    int16_t direct;            /* 1: 4 * blocks + tail == output_w, outputs go straight to the output */
    int16_t pad_value;         /* input zero point: what an out-of-image tap reads */
    int16_t act_min;           /* -128 and 127: saturation alone clamps */
    int16_t act_max;
    const int32_t *weights;    /* [channels][EK_DWR_WORDS]: one record per channel, below */
} ek_depthwise_rows_params;

/* One channel's record in `weights`, in int32 words: filter row k's doubled int16 pairs (w0, w1)
 * at EK_DWR_PAIRS + 2k and (w1, w2) at EK_DWR_PAIRS + 2k + 1 (low half first); from
 * EK_DWR_REQUANT the four terms of ek_requant2_clamped: 2 * folded bias, multiplier, c (rounding
 * + offset), right shift. The C and assembly loops read the record through these names; the
 * generator lays it out from them (ek_depthwise_rows_dsp_s8_record, called at generation time). */
#define EK_DWR_PAIRS 0
#define EK_DWR_REQUANT 6
#define EK_DWR_WORDS 10

/* The record's layout for the generator: field 0, 1, 2 = EK_DWR_PAIRS, EK_DWR_REQUANT,
 * EK_DWR_WORDS; -1 for any other field. */
#define EK_DWR_RECORD_FIELDS 3
int32_t ek_depthwise_rows_dsp_s8_record(int32_t field);

/* The scratch ek_depthwise_rows_dsp_s8 needs (the generator calls this at generation time). */
int32_t ek_depthwise_rows_dsp_s8_scratch_bytes(int32_t row_len, int32_t group, int32_t channels, int32_t blocks,
                                               int32_t tail, int32_t direct);
void ek_depthwise_rows_dsp_s8(const ek_depthwise_rows_params *p, const int8_t *input, int8_t *output,
                              int8_t *scratch);

#endif /* EK_DEPTHWISE_ROWS_DSP_H */

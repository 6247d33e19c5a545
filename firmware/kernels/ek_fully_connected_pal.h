/* FULLY_CONNECTED, int8, with compressed weights (palettized or sparse, see ek_palette.h).
 * Same arithmetic, parameters and loop order as ek_fully_connected_s8; weights of each output
 * row are decoded on the fly, no scratch memory. */
#ifndef EK_FULLY_CONNECTED_PAL_H
#define EK_FULLY_CONNECTED_PAL_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t in_features;
    int32_t out_features;
    const int32_t *bias;        /* [out_features], input offset folded in */
    const int32_t *multiplier;  /* [out_features] */
    const int32_t *shift;       /* [out_features] */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t encoding;           /* EK_PAL_PALETTE or EK_PAL_SPARSE */
    int32_t bits;               /* palette: bits per index */
    int32_t table_stride;       /* palette: entries per row's table, 0 = shared */
    const uint8_t *codes;       /* indices or nonzero bitmap of [out_features][in_features] */
    const int8_t *values;       /* palette table(s) or nonzero weights */
    const int32_t *row_start;   /* sparse: first nonzero of each row; else NULL */
} ek_fully_connected_pal_params;

void ek_fully_connected_pal_s8(const ek_fully_connected_pal_params *p, const int8_t *input, int8_t *output);

#endif /* EK_FULLY_CONNECTED_PAL_H */

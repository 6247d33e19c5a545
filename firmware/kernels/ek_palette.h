/* Compressed weight storage shared by the *_pal kernels (see edgekit/codegen/ops/palette.py).
 *
 * A weight tensor is `rows` output channels of K weights in the dense layout, numbered flat
 * (element i of row r is number r*K + i). Two encodings:
 *   EK_PAL_PALETTE  codes: `bits`-wide indices (1, 2 or 4), packed LSB first, flat;
 *                   values: one int8 table shared by the tensor (table_stride 0) or one
 *                   table of table_stride entries per row.
 *   EK_PAL_SPARSE   codes: one bit per weight, set for nonzeros, packed LSB first, flat;
 *                   values: the nonzero weights in order; row_start[r]: position in values of
 *                   row r's first nonzero.
 * Both decode to exactly the int8 weights of the model, so every kernel stays bit-exact.
 */
#ifndef EK_PALETTE_H
#define EK_PALETTE_H

#include <stdint.h>

#include "ek_common.h"

#define EK_PAL_PALETTE 1
#define EK_PAL_SPARSE 2

/* index number n of a packed `bits`-wide index stream */
EK_INLINE int32_t ek_pal_index(const uint8_t *codes, int32_t bits, int32_t n)
{
    const int32_t bit = n * bits;
    return (codes[bit >> 3] >> (bit & 7)) & ((1 << bits) - 1);
}

/* bit number n of a packed bitmap */
EK_INLINE int32_t ek_pal_bit(const uint8_t *bitmap, int32_t n)
{
    return (bitmap[n >> 3] >> (n & 7)) & 1;
}

/* Reads the weights of one row in order, whatever the encoding. */
typedef struct {
    int32_t encoding;
    int32_t bits;
    const uint8_t *codes;
    const int8_t *table;   /* palette: this row's table */
    const int8_t *nonzero; /* sparse: the next nonzero of this row */
    int32_t n;             /* flat number of the next weight */
} ek_pal_reader;

EK_INLINE void ek_pal_reader_init(ek_pal_reader *r, int32_t encoding, int32_t bits, int32_t table_stride,
                                  const uint8_t *codes, const int8_t *values, const int32_t *row_start,
                                  int32_t row, int32_t k)
{
    r->encoding = encoding;
    r->bits = bits;
    r->codes = codes;
    r->table = values + row * table_stride;
    r->nonzero = encoding == EK_PAL_SPARSE ? values + row_start[row] : values;
    r->n = row * k;
}

/* the next weight of the row */
EK_INLINE int32_t ek_pal_next(ek_pal_reader *r)
{
    const int32_t n = r->n++;
    if (r->encoding == EK_PAL_PALETTE) {
        return r->table[ek_pal_index(r->codes, r->bits, n)];
    }
    return ek_pal_bit(r->codes, n) ? *r->nonzero++ : 0;
}

#endif /* EK_PALETTE_H */

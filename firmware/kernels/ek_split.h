/* SPLIT, SPLIT_V, UNPACK, int8 (or int16, 16x8: ek_split_s16): the input cut into up to EK_SPLIT_MAX_OUTPUTS outputs along one
 * axis (the inverse of CONCATENATION).
 *
 * The input is read once, in order: for each of the `outer` index combinations before the axis,
 * output i in turn receives the next chunk[i] contiguous bytes, at offset o * chunk[i]. UNPACK
 * is the case where every chunk is one slice of the axis. No requantization: TFLM copies the
 * bytes. The output pointers live in the (constant) parameter struct, so the call stays one
 * line. Outputs never overlap the input. ek_split_s16 is the same byte walk over int16 elements:
 * chunk[] counts bytes (two per element) and the output pointers are the int16 outputs' bytes. */
#ifndef EK_SPLIT_H
#define EK_SPLIT_H

#include <stdint.h>

#define EK_SPLIT_MAX_OUTPUTS 32

typedef struct {
    int32_t num_outputs;
    int32_t outer;                           /* product of the input dims before the axis */
    int32_t chunk[EK_SPLIT_MAX_OUTPUTS];     /* bytes per output per outer step */
    int8_t *outputs[EK_SPLIT_MAX_OUTPUTS];
} ek_split_params;

void ek_split_s8(const ek_split_params *p, const int8_t *input);
void ek_split_s16(const ek_split_params *p, const int16_t *input);

#endif /* EK_SPLIT_H */

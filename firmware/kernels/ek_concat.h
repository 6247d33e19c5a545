/* CONCATENATION, int8 (or int16: ek_concatenation_s16), up to EK_CONCAT_MAX_INPUTS inputs along
 * any axis (PACK of that many runs it too); and PACK of more inputs than that (up to
 * EK_PACK_MAX_INPUTS, all of one size: TFLM's PACK has no limit, Keras's TimeDistributed stacks
 * one input per time step), int8 or int16 (ek_pack_s16: the same byte copy, chunk in bytes).
 *
 * For each of the `outer` index combinations before the axis, each input in turn contributes
 * chunk[i] contiguous bytes. No requantization: as in TFLM, every input is quantized like the
 * output. The input pointers live in the (constant) parameter struct, so the call stays one
 * line. */
#ifndef EK_CONCAT_H
#define EK_CONCAT_H

#include <stdint.h>

#define EK_CONCAT_MAX_INPUTS 10

typedef struct {
    int32_t num_inputs;
    int32_t outer;                              /* product of the output dims before the axis */
    int32_t chunk[EK_CONCAT_MAX_INPUTS];        /* bytes per input per outer step */
    const void *inputs[EK_CONCAT_MAX_INPUTS];
} ek_concatenation_params;

void ek_concatenation_s8(const ek_concatenation_params *p, int8_t *output);
/* the same copy of chunk[i] bytes, for int16 tensors */
void ek_concatenation_s16(const ek_concatenation_params *p, int16_t *output);

#define EK_PACK_MAX_INPUTS 64

typedef struct {
    int32_t num_inputs;
    int32_t outer;                              /* product of the output dims before the axis */
    int32_t chunk;                              /* bytes per input per outer step */
    const void *inputs[EK_PACK_MAX_INPUTS];
} ek_pack_params;

void ek_pack_s8(const ek_pack_params *p, int8_t *output);
void ek_pack_s16(const ek_pack_params *p, int16_t *output);

#endif /* EK_CONCAT_H */

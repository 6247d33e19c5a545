/* SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, int8, 3-D or 4-D (a 3-D tensor is [N, H, 1, C]).
 *
 * Both walk the batch tensor [block_h * block_w * batch][blocks_h][blocks_w][depth] in order:
 * batch index b holds space image n = b % batch at block offset (sh, sw) = ((b / batch) /
 * block_w, (b / batch) % block_w), and its position (h', w') is space position
 * (h' * block_h + sh - top, w' * block_w + sw - left), whose `depth` contiguous bytes are copied
 * (space -> batch, or batch -> space). A position outside the space tensor's height x width is
 * padding: SPACE_TO_BATCH_ND writes `pad_value` there, BATCH_TO_SPACE_ND skips it (cropped).
 * `top`/`left` are the paddings or the crops. The output never overlaps the input. */
#ifndef EK_SPACE_BATCH_H
#define EK_SPACE_BATCH_H

#include <stdint.h>

typedef struct {
    int32_t batch;              /* batch of the space tensor */
    int32_t height, width;      /* spatial extent of the space tensor */
    int32_t depth;              /* bytes per spatial position */
    int32_t block_h, block_w;
    int32_t blocks_h, blocks_w; /* spatial extent of the batch tensor */
    int32_t top, left;          /* paddings (SPACE_TO_BATCH_ND) or crops (BATCH_TO_SPACE_ND) */
    int32_t pad_value;          /* SPACE_TO_BATCH_ND's padding */
} ek_space_batch_params;

void ek_space_to_batch_s8(const ek_space_batch_params *p, const int8_t *input, int8_t *output);
void ek_batch_to_space_s8(const ek_space_batch_params *p, const int8_t *input, int8_t *output);

#endif /* EK_SPACE_BATCH_H */

#include "ek_space_batch.h"

#include <stddef.h>
#include <string.h>

/* to_batch: copy space -> batch (padding filled); else batch -> space (padding skipped) */
static void walk(const ek_space_batch_params *p, const int8_t *space_in, int8_t *space_out,
                 const int8_t *batch_in, int8_t *batch_out, int to_batch)
{
    const size_t depth = (size_t)p->depth;
    const int32_t batches = p->block_h * p->block_w * p->batch;
    size_t at = 0; /* byte offset in the batch tensor */
    for (int32_t b = 0; b < batches; ++b) {
        const int32_t n = b % p->batch;
        const int32_t sh = (b / p->batch) / p->block_w;
        const int32_t sw = (b / p->batch) % p->block_w;
        for (int32_t i = 0; i < p->blocks_h; ++i) {
            const int32_t y = i * p->block_h + sh - p->top;
            for (int32_t j = 0; j < p->blocks_w; ++j, at += depth) {
                const int32_t x = j * p->block_w + sw - p->left;
                if (y < 0 || y >= p->height || x < 0 || x >= p->width) {
                    if (to_batch) {
                        memset(batch_out + at, p->pad_value, depth);
                    }
                    continue;
                }
                const size_t s = (((size_t)n * (size_t)p->height + (size_t)y) * (size_t)p->width + (size_t)x) * depth;
                if (to_batch) {
                    memcpy(batch_out + at, space_in + s, depth);
                } else {
                    memcpy(space_out + s, batch_in + at, depth);
                }
            }
        }
    }
}

void ek_space_to_batch_s8(const ek_space_batch_params *p, const int8_t *input, int8_t *output)
{
    walk(p, input, NULL, NULL, output, 1);
}

void ek_batch_to_space_s8(const ek_space_batch_params *p, const int8_t *input, int8_t *output)
{
    walk(p, NULL, output, input, NULL, 0);
}

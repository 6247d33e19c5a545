#include "ek_arg_min_max.h"

/* sign +1: arg max; sign -1: arg min (comparing negated values, which fit int32) */
static void arg_extreme(const ek_arg_min_max_params *p, const int8_t *input, int32_t *output, int32_t sign)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *block = input + o * p->axis_size * p->inner;
        for (int32_t j = 0; j < p->inner; ++j) {
            int32_t best = sign * block[j];
            int32_t best_index = 0;
            for (int32_t i = 1; i < p->axis_size; ++i) {
                const int32_t v = sign * block[i * p->inner + j];
                if (v > best) {
                    best = v;
                    best_index = i;
                }
            }
            *output++ = best_index;
        }
    }
}

void ek_arg_max_s8(const ek_arg_min_max_params *p, const int8_t *input, int32_t *output)
{
    arg_extreme(p, input, output, 1);
}

void ek_arg_min_s8(const ek_arg_min_max_params *p, const int8_t *input, int32_t *output)
{
    arg_extreme(p, input, output, -1);
}

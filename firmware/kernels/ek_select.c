#include "ek_select.h"

void ek_select_s8(const ek_select_params *p, const bool *condition, const int8_t *x, const int8_t *y,
                  int8_t *output)
{
    int32_t index[EK_SELECT_MAX_DIMS] = {0};
    int32_t c = 0, a = 0, b = 0;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = condition[c] ? x[a] : y[b];
        for (int32_t d = EK_SELECT_MAX_DIMS - 1; d >= 0; --d) { /* the next output index */
            if (++index[d] < p->dims[d]) {
                c += p->condition_strides[d];
                a += p->x_strides[d];
                b += p->y_strides[d];
                break;
            }
            index[d] = 0;
            c -= p->condition_strides[d] * (p->dims[d] - 1);
            a -= p->x_strides[d] * (p->dims[d] - 1);
            b -= p->y_strides[d] * (p->dims[d] - 1);
        }
    }
}

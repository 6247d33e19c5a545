/* ek_op_hook.h -- forced include (-include ek_op_hook.h) for the generated model.c: routes the
 * model's EK_OP_HOOK(i) to the harness's per-operator timer. */
#ifndef EK_OP_HOOK_H
#define EK_OP_HOOK_H

#include <stdint.h>

void ek_harness_op_hook(uint32_t op_index);

#define EK_OP_HOOK(op_index) ek_harness_op_hook((uint32_t)(op_index))

#endif /* EK_OP_HOOK_H */

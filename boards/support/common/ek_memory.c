/* ek_memory.c -- stack painting and static RAM size from the linker script's symbols. */
#include <stdint.h>

#include "ek_harness.h"

#define EK_STACK_PAINT 0xDEADBEEFu
#define EK_PAINT_MARGIN_WORDS 16u /* leave the words just below the current SP alone */

extern uint32_t __ramcode_start__[];
extern uint32_t __ramcode_end__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern uint32_t __stack_limit__[];
extern uint32_t __stack_top__[];

static uint32_t *current_sp(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

void ek_stack_paint(void)
{
    uint32_t *const end = current_sp() - EK_PAINT_MARGIN_WORDS;
    for (volatile uint32_t *p = __stack_limit__; p < end; p++) {
        *p = EK_STACK_PAINT;
    }
}

uint32_t ek_stack_peak_bytes(void)
{
    const uint32_t *p = __stack_limit__;
    while (p < __stack_top__ && *p == EK_STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)p);
}

/* .data + .bss, and the kernels' code copied to RAM (.ramcode: Target.ram_kernels) */
uint32_t ek_static_ram_bytes(void)
{
    return (uint32_t)(((uintptr_t)__data_end__ - (uintptr_t)__data_start__) +
                      ((uintptr_t)__bss_end__ - (uintptr_t)__bss_start__) +
                      ((uintptr_t)__ramcode_end__ - (uintptr_t)__ramcode_start__));
}

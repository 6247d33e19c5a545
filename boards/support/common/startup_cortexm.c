/* startup_cortexm.c -- vector table and reset handler for every Cortex-M board.
 *
 * Reset: enable the FPU (if the build uses one), point VTOR at this table, copy the kernels' code
 * that runs from RAM (.ramcode, empty unless the build asks for it) and .data from flash, zero .bss,
 * call main(). No C library start-up (no constructors, no heap, no stdio).
 * Symbols come from the linker script rendered from boards/support/common/link.ld.j2.
 */
#include <stdint.h>

#ifndef EK_BOARD_IRQ_COUNT
#error "EK_BOARD_IRQ_COUNT comes from the board file (irq_count)"
#endif

extern uint32_t __ramcode_load__[];
extern uint32_t __ramcode_start__[];
extern uint32_t __ramcode_end__[];
extern uint32_t __data_load__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern uint32_t __stack_top__[];

int main(void);
void Reset_Handler(void);
void ek_default_handler(void);

void ek_default_handler(void)
{
    for (;;) {
    }
}

/* Boards that use an exception define the handler; all others land in the default loop. */
void NMI_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void HardFault_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void MemManage_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void BusFault_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void SVC_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void PendSV_Handler(void) __attribute__((weak, alias("ek_default_handler")));
void SysTick_Handler(void) __attribute__((weak, alias("ek_default_handler")));

typedef void (*ek_vector)(void);

#define EK_VECTORS (16 + EK_BOARD_IRQ_COUNT)

__attribute__((section(".vectors"), used)) const ek_vector ek_vector_table[EK_VECTORS] = {
    [0] = (ek_vector)(uintptr_t)__stack_top__,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... EK_VECTORS - 1] = ek_default_handler,
};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20; /* CP10, CP11: full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    SCB_VTOR = (uint32_t)(uintptr_t)ek_vector_table;

    const uint32_t *code = __ramcode_load__;
    for (uint32_t *dst = __ramcode_start__; dst < __ramcode_end__;) {
        *dst++ = *code++;
    }
    __asm__ volatile("dsb\n\tisb" ::: "memory"); /* the copied code is fetched only after it is written */
    const uint32_t *src = __data_load__;
    for (uint32_t *dst = __data_start__; dst < __data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

/* ek_cortexm.h -- Cortex-M core registers the board support code shares (ARMv7-M / ARMv6-M
 * architecture reference manuals). */
#ifndef EK_CORTEXM_H
#define EK_CORTEXM_H

#include <stdint.h>

#define EK_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* DWT cycle counter (ARMv7-M only: M3, M4, M7) */
#define EK_DEMCR EK_REG(0xE000EDFCu)     /* Debug Exception and Monitor Control */
#define EK_DEMCR_TRCENA (1u << 24)
#define EK_DWT_CTRL EK_REG(0xE0001000u)
#define EK_DWT_CTRL_CYCCNTENA (1u << 0)
#define EK_DWT_CYCCNT EK_REG(0xE0001004u)
#define EK_DWT_LAR EK_REG(0xE0001FB0u)   /* lock access (Cortex-M7 needs the unlock key) */
#define EK_DWT_LAR_KEY 0xC5ACCE55u

/* NVIC and System Control Block */
#define EK_NVIC_ISER(n) EK_REG(0xE000E100u + 4u * (n))
#define EK_NVIC_ICPR(n) EK_REG(0xE000E280u + 4u * (n))
#define EK_SCB_ICSR EK_REG(0xE000ED04u)
#define EK_SCB_ICSR_PENDSTSET (1u << 26)
#define EK_SCB_CCR EK_REG(0xE000ED14u)
#define EK_SCB_CCR_DC (1u << 16)
#define EK_SCB_CCR_IC (1u << 17)

/* SysTick */
#define EK_SYST_CSR EK_REG(0xE000E010u)
#define EK_SYST_RVR EK_REG(0xE000E014u)
#define EK_SYST_CVR EK_REG(0xE000E018u)

static inline void ek_dsb_isb(void)
{
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

static inline void ek_disable_irq(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
}

static inline void ek_wfi(void)
{
    __asm__ volatile("wfi" ::: "memory");
}

/* Start the DWT cycle counter; unlock_key: write the M7's lock access key first. */
static inline void ek_dwt_start(int unlock_key)
{
    EK_DEMCR |= EK_DEMCR_TRCENA;
    if (unlock_key) {
        EK_DWT_LAR = EK_DWT_LAR_KEY;
    }
    EK_DWT_CYCCNT = 0;
    EK_DWT_CTRL |= EK_DWT_CTRL_CYCCNTENA;
}

#endif /* EK_CORTEXM_H */

/* board_cmsdk.c -- Arm MPS2 FPGA images with CMSDK peripherals, as QEMU emulates them
 * (mps2-an386, mps2-an500): APB UART for the host link, APB TIMER0 as the tick counter.
 *
 * Register layout: Arm Cortex-M System Design Kit TRM (CMSDK APB UART, APB timer). Base
 * addresses come from the board file (EK_CMSDK_*). QEMU's SysTick does not tick on these
 * machines; TIMER0 runs at the 25 MHz SYSCLK in virtual time (-icount: instructions = ticks x
 * 1e9 / 2^shift / 25e6).
 */
#include <stdint.h>

#include "ek_board.h"
#include "ek_cortexm.h"

#if !defined(EK_CMSDK_UART_BASE) || !defined(EK_CMSDK_TIMER_BASE) || !defined(EK_CMSDK_UART_CLOCK_HZ)
#error "EK_CMSDK_UART_BASE, EK_CMSDK_UART_CLOCK_HZ and EK_CMSDK_TIMER_BASE come from the board file"
#endif

#define UART_DATA EK_REG(EK_CMSDK_UART_BASE + 0x00u)
#define UART_STATE EK_REG(EK_CMSDK_UART_BASE + 0x04u)
#define UART_CTRL EK_REG(EK_CMSDK_UART_BASE + 0x08u)
#define UART_INTSTATUS EK_REG(EK_CMSDK_UART_BASE + 0x0Cu) /* write 1 to clear */
#define UART_BAUDDIV EK_REG(EK_CMSDK_UART_BASE + 0x10u)

#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_STATE_OVERRUNS (3u << 2)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_INT_EN (1u << 3)
#define UART_INT_RX (1u << 1)

#define TIMER_CTRL EK_REG(EK_CMSDK_TIMER_BASE + 0x00u)
#define TIMER_VALUE EK_REG(EK_CMSDK_TIMER_BASE + 0x04u)
#define TIMER_RELOAD EK_REG(EK_CMSDK_TIMER_BASE + 0x08u)
#define TIMER_CTRL_EN (1u << 0)

#define BAUD_DIVIDER ((uint32_t)(EK_CMSDK_UART_CLOCK_HZ) / EK_BOARD_UART_BAUD)

void ek_board_init(void)
{
    /* No interrupt handler runs: the UART RX interrupt only wakes the core from WFI (a pending
     * interrupt ends WFI even while PRIMASK masks it). */
    ek_disable_irq();

    UART_CTRL = 0;
    UART_BAUDDIV = BAUD_DIVIDER < 16u ? 16u : BAUD_DIVIDER;
    UART_STATE = UART_STATE_OVERRUNS;
    UART_INTSTATUS = 0xFu;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
    EK_NVIC_ISER((uint32_t)(EK_CMSDK_UART_RX_IRQ) / 32u) = 1u << ((uint32_t)(EK_CMSDK_UART_RX_IRQ) % 32u);

    /* TIMER0 counts down from 2^32 - 1 and reloads there: ticks = ~VALUE counts up and wraps. */
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = TIMER_CTRL_EN;
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    if (!(UART_STATE & UART_STATE_RX_FULL)) {
        return 0;
    }
    *out = (uint8_t)UART_DATA;
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    return ~TIMER_VALUE;
}

void ek_board_idle(void)
{
    /* Clear the RX interrupt at the UART and the NVIC, then look once more: a byte that arrives
     * after this check pends the interrupt again and ends the WFI. */
    UART_INTSTATUS = UART_INT_RX;
    EK_NVIC_ICPR((uint32_t)(EK_CMSDK_UART_RX_IRQ) / 32u) = 1u << ((uint32_t)(EK_CMSDK_UART_RX_IRQ) % 32u);
    if (!(UART_STATE & UART_STATE_RX_FULL)) {
        ek_wfi();
    }
}

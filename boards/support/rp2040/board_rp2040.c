/* board_rp2040.c -- RP2040 (RP2040 datasheet) on the Raspberry Pi Pico.
 *
 * Runs on core 0 from flash (execute in place, set up by boot2_generic_03h.S); core 1 stays in
 * the boot ROM. Clock: XOSC (EK_RP2040_XOSC_HZ) -> clk_ref; PLL_SYS: VCO = XOSC * FBDIV,
 * clk_sys = VCO / POSTDIV1 / POSTDIV2 (board file: 12 MHz * 125 / 6 / 2 = 125 MHz); clk_peri =
 * clk_sys. UART: UART0 (ARM PL011) on the GPIOs the board file names (Pico: GP0 TX, GP1 RX).
 * Timer: the M0+ has no DWT cycle counter, so SysTick counts processor clocks (24 bits, down)
 * and its wrap interrupt extends the count to 32 bits.
 */
#include <stdint.h>

#include "ek_board.h"
#include "ek_cortexm.h"

#if !defined(EK_RP2040_XOSC_HZ) || !defined(EK_RP2040_PLL_FBDIV) || !defined(EK_RP2040_PLL_POSTDIV1) || \
    !defined(EK_RP2040_PLL_POSTDIV2) || !defined(EK_RP2040_UART_TX_GPIO) || !defined(EK_RP2040_UART_RX_GPIO)
#error "EK_RP2040_* clock and UART settings come from the board file"
#endif
#if (EK_RP2040_XOSC_HZ) * (EK_RP2040_PLL_FBDIV) / (EK_RP2040_PLL_POSTDIV1) / (EK_RP2040_PLL_POSTDIV2) != EK_BOARD_CLOCK_HZ
#error "PLL settings do not give the board file's clock_hz"
#endif

/* Atomic register aliases (datasheet 2.1.2) */
#define ALIAS_SET 0x2000u
#define ALIAS_CLR 0x3000u

/* Resets (2.14) */
#define RESETS_BASE 0x4000C000u
#define RESETS_RESET EK_REG(RESETS_BASE + 0x0u)
#define RESETS_RESET_DONE EK_REG(RESETS_BASE + 0x8u)
#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_PLL_SYS (1u << 12)
#define RESET_UART0 (1u << 22)

/* Crystal oscillator (2.16) */
#define XOSC_BASE 0x40024000u
#define XOSC_CTRL EK_REG(XOSC_BASE + 0x00u)
#define XOSC_STATUS EK_REG(XOSC_BASE + 0x04u)
#define XOSC_STARTUP EK_REG(XOSC_BASE + 0x0Cu)
#define XOSC_CTRL_FREQ_1_15MHZ 0xAA0u
#define XOSC_CTRL_ENABLE (0xFABu << 12)
#define XOSC_STATUS_STABLE (1u << 31)
/* startup delay in units of 256 XOSC cycles: about 1 ms */
#define XOSC_STARTUP_DELAY (((uint32_t)(EK_RP2040_XOSC_HZ) / 1000u + 128u) / 256u)

/* Clocks (2.15) */
#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL EK_REG(CLOCKS_BASE + 0x30u)
#define CLK_REF_SELECTED EK_REG(CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL EK_REG(CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_SELECTED EK_REG(CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL EK_REG(CLOCKS_BASE + 0x48u)
#define CLK_REF_SRC_XOSC 0x2u
#define CLK_SYS_SRC_AUX 0x1u
#define CLK_SYS_AUXSRC_MASK (0x7u << 5) /* 0: clksrc_pll_sys */
#define CLK_PERI_ENABLE (1u << 11)      /* AUXSRC 0: clk_sys */

/* PLL_SYS (2.18) */
#define PLL_SYS_BASE 0x40028000u
#define PLL_CS EK_REG(PLL_SYS_BASE + 0x0u)
#define PLL_PWR EK_REG(PLL_SYS_BASE + 0x4u)
#define PLL_FBDIV_INT EK_REG(PLL_SYS_BASE + 0x8u)
#define PLL_PRIM EK_REG(PLL_SYS_BASE + 0xCu)
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)

/* IO and pads (2.19) */
#define IO_BANK0_GPIO_CTRL(n) EK_REG(0x40014000u + 8u * (n) + 4u)
#define GPIO_FUNC_UART 2u

/* UART0, PL011 (4.2) */
#define UART0_BASE 0x40034000u
#define UART_DR EK_REG(UART0_BASE + 0x00u)
#define UART_FR EK_REG(UART0_BASE + 0x18u)
#define UART_IBRD EK_REG(UART0_BASE + 0x24u)
#define UART_FBRD EK_REG(UART0_BASE + 0x28u)
#define UART_LCR_H EK_REG(UART0_BASE + 0x2Cu)
#define UART_CR EK_REG(UART0_BASE + 0x30u)
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFF (1u << 5)
#define UART_LCR_H_8N1_FIFO ((3u << 5) | (1u << 4)) /* WLEN 8 bits, FIFOs on */
#define UART_CR_ENABLE ((1u << 0) | (1u << 8) | (1u << 9)) /* UARTEN, TXE, RXE */

/* Baud divisor in 1/64ths: clk_peri / (16 * baud) */
#define BAUD_DIV_X128 (8ull * (EK_BOARD_CLOCK_HZ) / (EK_BOARD_UART_BAUD))
#define BAUD_IBRD ((uint32_t)(BAUD_DIV_X128 >> 7))
#define BAUD_FBRD ((uint32_t)(((BAUD_DIV_X128 & 0x7Fu) + 1u) / 2u))
#if (8ull * (EK_BOARD_CLOCK_HZ) / (EK_BOARD_UART_BAUD)) >> 7 == 0 || (8ull * (EK_BOARD_CLOCK_HZ) / (EK_BOARD_UART_BAUD)) >> 7 > 0xFFFF
#error "uart_baud out of the PL011's range at this clock"
#endif

static void unreset(uint32_t bits)
{
    EK_REG(RESETS_BASE + ALIAS_CLR) = bits;
    while ((RESETS_RESET_DONE & bits) != bits) {
    }
}

static void clock_init(void)
{
    XOSC_CTRL = XOSC_CTRL_FREQ_1_15MHZ;
    XOSC_STARTUP = XOSC_STARTUP_DELAY;
    XOSC_CTRL = XOSC_CTRL_FREQ_1_15MHZ | XOSC_CTRL_ENABLE;
    while (!(XOSC_STATUS & XOSC_STATUS_STABLE)) {
    }

    /* clk_ref from the crystal, clk_sys from clk_ref while the PLL is set up (glitchless muxes:
     * wait for the SELECTED one-hot bit). */
    CLK_REF_CTRL = CLK_REF_SRC_XOSC;
    while (!(CLK_REF_SELECTED & (1u << CLK_REF_SRC_XOSC))) {
    }
    CLK_SYS_CTRL &= ~CLK_SYS_SRC_AUX;
    while (!(CLK_SYS_SELECTED & 1u)) {
    }

    EK_REG(RESETS_BASE + ALIAS_SET) = RESET_PLL_SYS;
    unreset(RESET_PLL_SYS);
    PLL_CS = 1; /* REFDIV */
    PLL_FBDIV_INT = (uint32_t)(EK_RP2040_PLL_FBDIV);
    EK_REG(PLL_SYS_BASE + 0x4u + ALIAS_CLR) = PLL_PWR_PD | PLL_PWR_VCOPD;
    while (!(PLL_CS & PLL_CS_LOCK)) {
    }
    PLL_PRIM = ((uint32_t)(EK_RP2040_PLL_POSTDIV1) << 16) | ((uint32_t)(EK_RP2040_PLL_POSTDIV2) << 12);
    EK_REG(PLL_SYS_BASE + 0x4u + ALIAS_CLR) = PLL_PWR_POSTDIVPD;

    CLK_SYS_CTRL &= ~CLK_SYS_AUXSRC_MASK; /* aux source: PLL_SYS */
    CLK_SYS_CTRL |= CLK_SYS_SRC_AUX;
    while (!(CLK_SYS_SELECTED & 2u)) {
    }
    CLK_PERI_CTRL = CLK_PERI_ENABLE;
}

static void uart_init(void)
{
    unreset(RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0);
    IO_BANK0_GPIO_CTRL((uint32_t)(EK_RP2040_UART_TX_GPIO)) = GPIO_FUNC_UART;
    IO_BANK0_GPIO_CTRL((uint32_t)(EK_RP2040_UART_RX_GPIO)) = GPIO_FUNC_UART;
    UART_CR = 0;
    UART_IBRD = BAUD_IBRD;
    UART_FBRD = BAUD_FBRD;
    UART_LCR_H = UART_LCR_H_8N1_FIFO; /* also latches the divisors */
    UART_CR = UART_CR_ENABLE;
}

/* SysTick counts processor clocks down from 2^24 - 1; each wrap adds 2^24. */
#define SYSTICK_PERIOD (1u << 24)
static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

static void timer_init(void)
{
    EK_SYST_CSR = 0;
    EK_SYST_RVR = SYSTICK_PERIOD - 1u;
    EK_SYST_CVR = 0;
    EK_SYST_CSR = 0x7u; /* ENABLE, TICKINT, CLKSOURCE = processor clock */
}

void ek_board_init(void)
{
    clock_init();
    uart_init();
    timer_init();
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (UART_FR & UART_FR_TXFF) {
        }
        UART_DR = data[i];
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    if (UART_FR & UART_FR_RXFE) {
        return 0;
    }
    *out = (uint8_t)UART_DR; /* error flags in bits 11:8 are dropped: the CRC check catches them */
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    uint32_t wraps, value, pending;
    do {
        wraps = systick_wraps;
        value = EK_SYST_CVR;
        pending = EK_SCB_ICSR & EK_SCB_ICSR_PENDSTSET;
    } while (wraps != systick_wraps);
    /* Wrapped but the interrupt has not run yet: the count just restarted from the top. */
    if (pending && value > SYSTICK_PERIOD / 2u) {
        wraps++;
    }
    return wraps * SYSTICK_PERIOD + (SYSTICK_PERIOD - 1u - value);
}

void ek_board_idle(void)
{
}

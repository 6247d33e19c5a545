/* board_stm32l4.c -- STM32L4+ (STM32L4R5/L4S5, RM0432) on the NUCLEO-L4R5ZI.
 *
 * Clock: HSI16 -> PLL -> SYSCLK = 16 MHz / PLLM * PLLN / PLLR (board file: 4, 60, 2 -> 120 MHz;
 * VCO input 4 MHz, VCO 240 MHz).
 * Above 80 MHz the core regulator must be in Range 1 boost mode (PWR_CR5.R1MODE = 0), and the
 * switch to the PLL goes through an AHB prescaler of 2 for at least 1 us (RM0432 5.1.8).
 * APB1 = APB2 = SYSCLK. Flash: EK_STM32_FLASH_WAIT_STATES, prefetch, I- and D-cache.
 * UART: LPUART1 (kernel clock PCLK1) on PG7 TX / PG8 RX, alternate function 8, the ST-LINK
 * virtual COM port. Port G pins 2..15 are powered by VDDIO2, valid only after PWR_CR2.IOSV = 1.
 * Timer: DWT CYCCNT, one tick per core cycle.
 */
#include <stdint.h>

#include "ek_board.h"
#include "ek_cortexm.h"

#if !defined(EK_STM32_PLLM) || !defined(EK_STM32_PLLN) || !defined(EK_STM32_PLLR) || \
    !defined(EK_STM32_FLASH_WAIT_STATES)
#error "EK_STM32_PLLM, _PLLN, _PLLR and _FLASH_WAIT_STATES come from the board file"
#endif

#define HSI16_HZ 16000000u
#define SYSCLK_HZ (HSI16_HZ / (EK_STM32_PLLM) * (EK_STM32_PLLN) / (EK_STM32_PLLR))
#if SYSCLK_HZ != EK_BOARD_CLOCK_HZ
#error "PLL settings do not give the board file's clock_hz"
#endif
#if (EK_STM32_PLLR) != 2 && (EK_STM32_PLLR) != 4 && (EK_STM32_PLLR) != 6 && (EK_STM32_PLLR) != 8
#error "PLLR must be 2, 4, 6 or 8"
#endif

/* Reset and clock control (RM0432 6.4) */
#define RCC_BASE 0x40021000u
#define RCC_CR EK_REG(RCC_BASE + 0x00u)
#define RCC_CFGR EK_REG(RCC_BASE + 0x08u)
#define RCC_PLLCFGR EK_REG(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR EK_REG(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 EK_REG(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 EK_REG(RCC_BASE + 0x5Cu)
#define RCC_CCIPR EK_REG(RCC_BASE + 0x88u)

#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 0x3u
#define RCC_CFGR_SW_PLL 0x3u
#define RCC_CFGR_SWS_MASK (0x3u << 2)
#define RCC_CFGR_SWS_PLL (0x3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (0x8u << 4)
#define RCC_CFGR_PPRE_MASK (0x3Fu << 8) /* PPRE1 bits 10:8, PPRE2 bits 13:11; 0 = /1 */
#define RCC_PLLCFGR_SRC_HSI16 0x2u
#define RCC_PLLCFGR_M_POS 4u           /* PLLM - 1, bits 7:4 on the L4+ */
#define RCC_PLLCFGR_N_POS 8u           /* bits 14:8 */
#define RCC_PLLCFGR_REN (1u << 24)
#define RCC_PLLCFGR_R_POS 25u          /* bits 26:25: 0 -> /2, 1 -> /4, 2 -> /6, 3 -> /8 */
#define RCC_AHB2ENR_GPIOGEN (1u << 6)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR_LPUART1SEL_MASK (0x3u << 10) /* 00: PCLK1 */

/* Power control (RM0432 5.4) */
#define PWR_BASE 0x40007000u
#define PWR_CR1 EK_REG(PWR_BASE + 0x00u)
#define PWR_CR2 EK_REG(PWR_BASE + 0x04u)
#define PWR_SR2 EK_REG(PWR_BASE + 0x14u)
#define PWR_CR5 EK_REG(PWR_BASE + 0x80u)
#define PWR_CR1_VOS_MASK (0x3u << 9)
#define PWR_CR1_VOS_RANGE1 (0x1u << 9)
#define PWR_CR2_IOSV (1u << 9)
#define PWR_SR2_VOSF (1u << 10)
#define PWR_CR5_R1MODE (1u << 8) /* 0: Range 1 boost mode */

/* Flash interface (RM0432 3.7) */
#define FLASH_ACR EK_REG(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

/* GPIO port G (RM0432 8.5) */
#define GPIOG_BASE 0x48001800u
#define GPIOG_MODER EK_REG(GPIOG_BASE + 0x00u)
#define GPIOG_OSPEEDR EK_REG(GPIOG_BASE + 0x08u)
#define GPIOG_PUPDR EK_REG(GPIOG_BASE + 0x0Cu)
#define GPIOG_AFRL EK_REG(GPIOG_BASE + 0x20u)
#define GPIOG_AFRH EK_REG(GPIOG_BASE + 0x24u)
#define TX_PIN 7u
#define RX_PIN 8u
#define LPUART1_AF 8u

/* LPUART1 (RM0432 51.7) */
#define LPUART1_BASE 0x40008000u
#define LPUART_CR1 EK_REG(LPUART1_BASE + 0x00u)
#define LPUART_BRR EK_REG(LPUART1_BASE + 0x0Cu)
#define LPUART_ISR EK_REG(LPUART1_BASE + 0x1Cu)
#define LPUART_ICR EK_REG(LPUART1_BASE + 0x20u)
#define LPUART_RDR EK_REG(LPUART1_BASE + 0x24u)
#define LPUART_TDR EK_REG(LPUART1_BASE + 0x28u)
#define LPUART_PRESC EK_REG(LPUART1_BASE + 0x2Cu)
#define LPUART_CR1_UE (1u << 0)
#define LPUART_CR1_RE (1u << 2)
#define LPUART_CR1_TE (1u << 3)
#define LPUART_ISR_ORE (1u << 3)
#define LPUART_ISR_RXNE (1u << 5)
#define LPUART_ISR_TXE (1u << 7)
#define LPUART_ICR_ORECF (1u << 3)
#define LPUART_ICR_ALL 0x0012115Fu /* PE FE NE ORE IDLE TC CTS CM WUC clear flags */

/* LPUARTDIV = 256 * f_ck / baud, rounded; valid range 0x300 .. 0xFFFFF. */
#define LPUART_DIV ((256ull * (EK_BOARD_CLOCK_HZ) + (EK_BOARD_UART_BAUD) / 2u) / (EK_BOARD_UART_BAUD))
#if LPUART_DIV < 0x300 || LPUART_DIV > 0xFFFFF
#error "uart_baud out of LPUART1's range at this clock"
#endif

static void short_delay(uint32_t loops)
{
    for (volatile uint32_t i = 0; i < loops; i++) {
    }
}

static void clock_init(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_RANGE1; /* the reset value */
    while (PWR_SR2 & PWR_SR2_VOSF) {
    }

    RCC_CR |= RCC_CR_HSION;
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
    RCC_CR &= ~RCC_CR_PLLON;
    while (RCC_CR & RCC_CR_PLLRDY) {
    }
    RCC_PLLCFGR = RCC_PLLCFGR_SRC_HSI16 | (((uint32_t)(EK_STM32_PLLM) - 1u) << RCC_PLLCFGR_M_POS) |
                  ((uint32_t)(EK_STM32_PLLN) << RCC_PLLCFGR_N_POS) |
                  ((((uint32_t)(EK_STM32_PLLR) / 2u) - 1u) << RCC_PLLCFGR_R_POS) | RCC_PLLCFGR_REN;
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }

    /* Range 1 normal -> boost (RM0432 5.1.8): AHB /2, clear R1MODE, wait states for the new
     * clock, switch, wait at least 1 us, AHB /1. APB1 = APB2 = HCLK throughout. */
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE_MASK)) | RCC_CFGR_HPRE_DIV2;
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | (uint32_t)(EK_STM32_FLASH_WAIT_STATES) |
                FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != (uint32_t)(EK_STM32_FLASH_WAIT_STATES)) {
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
    short_delay(200); /* > 1 us at 60 MHz HCLK */
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK;
}

static void uart_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOGEN;
    (void)RCC_AHB2ENR;
    PWR_CR2 |= PWR_CR2_IOSV; /* VDDIO2 valid: port G pins 2..15 usable */

    GPIOG_MODER = (GPIOG_MODER & ~((3u << (2u * TX_PIN)) | (3u << (2u * RX_PIN)))) |
                  (2u << (2u * TX_PIN)) | (2u << (2u * RX_PIN));
    GPIOG_OSPEEDR |= (2u << (2u * TX_PIN)) | (2u << (2u * RX_PIN));
    GPIOG_PUPDR = (GPIOG_PUPDR & ~(3u << (2u * RX_PIN))) | (1u << (2u * RX_PIN)); /* pull-up on RX */
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << (4u * TX_PIN))) | (LPUART1_AF << (4u * TX_PIN));
    GPIOG_AFRH = (GPIOG_AFRH & ~(0xFu << (4u * (RX_PIN - 8u)))) | (LPUART1_AF << (4u * (RX_PIN - 8u)));

    RCC_CCIPR &= ~RCC_CCIPR_LPUART1SEL_MASK;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;

    LPUART_CR1 = 0;
    LPUART_PRESC = 0; /* kernel clock / 1 */
    LPUART_BRR = (uint32_t)LPUART_DIV;
    LPUART_ICR = LPUART_ICR_ALL;
    LPUART_CR1 = LPUART_CR1_TE | LPUART_CR1_RE | LPUART_CR1_UE; /* 8N1 */
}

void ek_board_init(void)
{
    clock_init();
    uart_init();
    ek_dwt_start(0);
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (!(LPUART_ISR & LPUART_ISR_TXE)) {
        }
        LPUART_TDR = data[i];
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    const uint32_t isr = LPUART_ISR;
    if (isr & LPUART_ISR_ORE) {
        LPUART_ICR = LPUART_ICR_ORECF; /* a byte was lost; the host's CRC check will notice */
    }
    if (!(isr & LPUART_ISR_RXNE)) {
        return 0;
    }
    *out = (uint8_t)LPUART_RDR;
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    return EK_DWT_CYCCNT;
}

void ek_board_idle(void)
{
}

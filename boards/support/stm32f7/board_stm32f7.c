/* board_stm32f7.c -- STM32F74x/F75x (RM0385) on the 32F746GDISCOVERY.
 *
 * Clock: HSI16 -> PLL: VCO = 16 MHz / PLLM * PLLN, SYSCLK = VCO / PLLP (board file: 8, 216, 2
 * -> 216 MHz), PLLQ for the 48 MHz domain. 216 MHz needs voltage scale 1 with over-drive
 * (RM0385 4.1.4: enable the PLL, then ODEN/ODRDY, then ODSWEN/ODSWRDY, then switch) and
 * EK_STM32_FLASH_WAIT_STATES wait states (7 at 2.7-3.6 V). AHB /1, APB1 /4 (54 MHz), APB2 /2
 * (108 MHz, EK_STM32_APB2_HZ). ART accelerator and prefetch on; the M7's I- and D-cache on.
 * UART: USART1 (kernel clock PCLK2) on PA9 TX / PB7 RX, alternate function 7, the ST-LINK
 * virtual COM port. Timer: DWT CYCCNT, unlocked through DWT_LAR on the M7.
 */
#include <stdint.h>

#include "ek_board.h"
#include "ek_cortexm.h"

#if !defined(EK_STM32_PLLM) || !defined(EK_STM32_PLLN) || !defined(EK_STM32_PLLP) || \
    !defined(EK_STM32_PLLQ) || !defined(EK_STM32_FLASH_WAIT_STATES) || !defined(EK_STM32_APB2_HZ)
#error "EK_STM32_PLL{M,N,P,Q}, _FLASH_WAIT_STATES and _APB2_HZ come from the board file"
#endif

#define HSI_HZ 16000000u
#if HSI_HZ / (EK_STM32_PLLM) * (EK_STM32_PLLN) / (EK_STM32_PLLP) != EK_BOARD_CLOCK_HZ
#error "PLL settings do not give the board file's clock_hz"
#endif
#if (EK_BOARD_CLOCK_HZ) / 2 != (EK_STM32_APB2_HZ)
#error "APB2 runs at SYSCLK / 2 here"
#endif

/* Reset and clock control (RM0385 5.3) */
#define RCC_BASE 0x40023800u
#define RCC_CR EK_REG(RCC_BASE + 0x00u)
#define RCC_PLLCFGR EK_REG(RCC_BASE + 0x04u)
#define RCC_CFGR EK_REG(RCC_BASE + 0x08u)
#define RCC_AHB1ENR EK_REG(RCC_BASE + 0x30u)
#define RCC_APB1ENR EK_REG(RCC_BASE + 0x40u)
#define RCC_APB2ENR EK_REG(RCC_BASE + 0x44u)
#define RCC_DCKCFGR2 EK_REG(RCC_BASE + 0x90u)

#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 1)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_FIELDS 0x0F437FFFu /* PLLM 5:0, PLLN 14:6, PLLP 17:16, PLLSRC 22, PLLQ 27:24 */
#define RCC_PLLCFGR_N_POS 6u
#define RCC_PLLCFGR_P_POS 16u          /* 0 -> /2, 1 -> /4, 2 -> /6, 3 -> /8 */
#define RCC_PLLCFGR_Q_POS 24u
#define RCC_CFGR_SW_MASK 0x3u
#define RCC_CFGR_SW_PLL 0x2u
#define RCC_CFGR_SWS_MASK (0x3u << 2)
#define RCC_CFGR_SWS_PLL (0x2u << 2)
#define RCC_CFGR_PRESC_MASK 0xFCF0u    /* HPRE 7:4, PPRE1 12:10, PPRE2 15:13 */
#define RCC_CFGR_PPRE1_DIV4 (0x5u << 10)
#define RCC_CFGR_PPRE2_DIV2 (0x4u << 13)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_AHB1ENR_GPIOBEN (1u << 1)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2_USART1SEL_MASK 0x3u /* 00: PCLK2 */

/* Power control (RM0385 4.4) */
#define PWR_CR1 EK_REG(0x40007000u)
#define PWR_CSR1 EK_REG(0x40007004u)
#define PWR_CR1_VOS_SCALE1 (0x3u << 14)
#define PWR_CR1_ODEN (1u << 16)
#define PWR_CR1_ODSWEN (1u << 17)
#define PWR_CSR1_ODRDY (1u << 16)
#define PWR_CSR1_ODSWRDY (1u << 17)

/* Flash interface (RM0385 3.7) */
#define FLASH_ACR EK_REG(0x40023C00u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ARTEN (1u << 9)

/* GPIO (RM0385 6.4) */
#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIO_MODER(b) EK_REG((b) + 0x00u)
#define GPIO_OSPEEDR(b) EK_REG((b) + 0x08u)
#define GPIO_PUPDR(b) EK_REG((b) + 0x0Cu)
#define GPIO_AFR(b, pin) EK_REG((b) + 0x20u + 4u * ((pin) / 8u))
#define TX_PORT GPIOA_BASE
#define TX_PIN 9u
#define RX_PORT GPIOB_BASE
#define RX_PIN 7u
#define USART1_AF 7u

/* USART1 (RM0385 31.8) */
#define USART1_BASE 0x40011000u
#define USART_CR1 EK_REG(USART1_BASE + 0x00u)
#define USART_BRR EK_REG(USART1_BASE + 0x0Cu)
#define USART_ISR EK_REG(USART1_BASE + 0x1Cu)
#define USART_ICR EK_REG(USART1_BASE + 0x20u)
#define USART_RDR EK_REG(USART1_BASE + 0x24u)
#define USART_TDR EK_REG(USART1_BASE + 0x28u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE (1u << 7)
#define USART_ICR_ORECF (1u << 3)

/* Oversampling by 16: USARTDIV = f_ck / baud, rounded. */
#define USART_DIV (((EK_STM32_APB2_HZ) + (EK_BOARD_UART_BAUD) / 2u) / (EK_BOARD_UART_BAUD))
#if USART_DIV < 16 || USART_DIV > 0xFFFF
#error "uart_baud out of USART1's range at this clock"
#endif

/* Cortex-M7 cache maintenance (ARMv7-M B2.2.7) */
#define SCB_CCSIDR EK_REG(0xE000ED80u)
#define SCB_CSSELR EK_REG(0xE000ED84u)
#define SCB_ICIALLU EK_REG(0xE000EF50u)
#define SCB_DCISW EK_REG(0xE000EF60u)

static void clock_init(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;
    PWR_CR1 |= PWR_CR1_VOS_SCALE1; /* takes effect once the PLL runs */

    RCC_CR |= RCC_CR_HSION;
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
    RCC_CR &= ~RCC_CR_PLLON;
    while (RCC_CR & RCC_CR_PLLRDY) {
    }
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_FIELDS) | (uint32_t)(EK_STM32_PLLM) |
                  ((uint32_t)(EK_STM32_PLLN) << RCC_PLLCFGR_N_POS) |
                  ((((uint32_t)(EK_STM32_PLLP) / 2u) - 1u) << RCC_PLLCFGR_P_POS) |
                  ((uint32_t)(EK_STM32_PLLQ) << RCC_PLLCFGR_Q_POS); /* PLLSRC = 0: HSI */
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }

    PWR_CR1 |= PWR_CR1_ODEN;
    while (!(PWR_CSR1 & PWR_CSR1_ODRDY)) {
    }
    PWR_CR1 |= PWR_CR1_ODSWEN;
    while (!(PWR_CSR1 & PWR_CSR1_ODSWRDY)) {
    }

    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | (uint32_t)(EK_STM32_FLASH_WAIT_STATES) |
                FLASH_ACR_PRFTEN | FLASH_ACR_ARTEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != (uint32_t)(EK_STM32_FLASH_WAIT_STATES)) {
    }

    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PRESC_MASK) | RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}

static void caches_init(void)
{
    ek_dsb_isb();
    SCB_ICIALLU = 0;
    ek_dsb_isb();
    EK_SCB_CCR |= EK_SCB_CCR_IC;
    ek_dsb_isb();

    SCB_CSSELR = 0; /* level 1 data cache */
    ek_dsb_isb();
    const uint32_t ccsidr = SCB_CCSIDR;
    const uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    const uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    const uint32_t set_shift = (ccsidr & 0x7u) + 4u; /* log2(line bytes) */
    const uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t s = 0; s < sets; s++) {
        for (uint32_t w = 0; w < ways; w++) {
            SCB_DCISW = (s << set_shift) | (w << way_shift);
        }
    }
    ek_dsb_isb();
    EK_SCB_CCR |= EK_SCB_CCR_DC;
    ek_dsb_isb();
}

static void pin_af(uint32_t port, uint32_t pin)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    GPIO_OSPEEDR(port) |= 2u << (2u * pin);
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << (4u * (pin % 8u)))) |
                          (USART1_AF << (4u * (pin % 8u)));
}

static void uart_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN | RCC_AHB1ENR_GPIOBEN;
    (void)RCC_AHB1ENR;
    pin_af(TX_PORT, TX_PIN);
    pin_af(RX_PORT, RX_PIN);
    GPIO_PUPDR(RX_PORT) = (GPIO_PUPDR(RX_PORT) & ~(3u << (2u * RX_PIN))) | (1u << (2u * RX_PIN));

    RCC_DCKCFGR2 &= ~RCC_DCKCFGR2_USART1SEL_MASK;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR;
    USART_CR1 = 0;
    USART_BRR = USART_DIV;
    USART_CR1 = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE; /* 8N1, oversampling 16 */
}

void ek_board_init(void)
{
    clock_init();
    caches_init();
    uart_init();
    ek_dwt_start(1);
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (!(USART_ISR & USART_ISR_TXE)) {
        }
        USART_TDR = data[i];
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    const uint32_t isr = USART_ISR;
    if (isr & USART_ISR_ORE) {
        USART_ICR = USART_ICR_ORECF;
    }
    if (!(isr & USART_ISR_RXNE)) {
        return 0;
    }
    *out = (uint8_t)USART_RDR;
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    return EK_DWT_CYCCNT;
}

void ek_board_idle(void)
{
}

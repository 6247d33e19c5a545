/* board_nrf52.c -- nRF52840 (Product Specification v1.x) on the nRF52840 DK.
 *
 * Clock: the CPU runs at 64 MHz on any HFCLK source; the 32 MHz crystal (HFXO) is started so
 * the UART's baud rate is accurate. The flash instruction cache (NVMC ICACHECNF) is enabled.
 * UART: UARTE0 with EasyDMA on the pins the board file names (DK: P0.06 TX, P0.08 RX, the
 * J-Link OB virtual COM port). EasyDMA reads and writes RAM only, so transmit goes through a
 * RAM staging buffer and receive uses a one-byte RAM buffer restarted after each byte (bytes
 * arriving meanwhile wait in the UARTE's receive FIFO). Timer: DWT CYCCNT at 64 MHz.
 */
#include <stdint.h>

#include "ek_board.h"
#include "ek_cortexm.h"

#if !defined(EK_NRF_UART_TX_PIN) || !defined(EK_NRF_UART_RX_PIN)
#error "EK_NRF_UART_TX_PIN and EK_NRF_UART_RX_PIN come from the board file (port 0 pins)"
#endif
#if EK_BOARD_CLOCK_HZ != 64000000
#error "the nRF52840 CPU runs at 64 MHz"
#endif

/* UARTE BAUDRATE register values (PS, UARTE BAUDRATE) */
#if EK_BOARD_UART_BAUD == 115200
#define UARTE_BAUD_VALUE 0x01D7E000u
#elif EK_BOARD_UART_BAUD == 1000000
#define UARTE_BAUD_VALUE 0x10000000u
#else
#error "uart_baud: 115200 or 1000000 on the nRF52840"
#endif

/* Access port protection (PS 4.8, nRF52840 rev. 3 and later): the debug port locks at every
 * reset unless the firmware copies UICR.APPROTECT (0x5A = HwDisabled) into APPROTECT.DISABLE,
 * as Nordic's start-up code does; without it the board cannot be flashed again without a full
 * erase (nrfjprog --recover). Harmless on older silicon. */
#define UICR_APPROTECT EK_REG(0x10001208u)
#define APPROTECT_DISABLE EK_REG(0x40000558u)

/* CLOCK (PS 5.4) */
#define CLOCK_TASKS_HFCLKSTART EK_REG(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED EK_REG(0x40000100u)

/* NVMC (PS 4.3) */
#define NVMC_ICACHECNF EK_REG(0x4001E540u)
#define NVMC_ICACHECNF_CACHEEN (1u << 0)

/* GPIO P0 (PS 6.9) */
#define P0_BASE 0x50000000u
#define P0_OUTSET EK_REG(P0_BASE + 0x508u)
#define P0_DIRSET EK_REG(P0_BASE + 0x518u)
#define P0_PIN_CNF(n) EK_REG(P0_BASE + 0x700u + 4u * (n))
#define PIN_CNF_OUTPUT_NO_INPUT 0x3u /* DIR output, input buffer disconnected */
#define PIN_CNF_INPUT_PULLUP 0xCu    /* DIR input, input connected, pull-up */

/* UARTE0 (PS 6.34) */
#define UARTE_BASE 0x40002000u
#define UARTE_TASKS_STARTRX EK_REG(UARTE_BASE + 0x000u)
#define UARTE_TASKS_STARTTX EK_REG(UARTE_BASE + 0x008u)
#define UARTE_EVENTS_ENDRX EK_REG(UARTE_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX EK_REG(UARTE_BASE + 0x120u)
#define UARTE_EVENTS_ERROR EK_REG(UARTE_BASE + 0x124u)
#define UARTE_ERRORSRC EK_REG(UARTE_BASE + 0x480u)
#define UARTE_ENABLE EK_REG(UARTE_BASE + 0x500u)
#define UARTE_PSEL_RTS EK_REG(UARTE_BASE + 0x508u)
#define UARTE_PSEL_TXD EK_REG(UARTE_BASE + 0x50Cu)
#define UARTE_PSEL_CTS EK_REG(UARTE_BASE + 0x510u)
#define UARTE_PSEL_RXD EK_REG(UARTE_BASE + 0x514u)
#define UARTE_BAUDRATE EK_REG(UARTE_BASE + 0x524u)
#define UARTE_RXD_PTR EK_REG(UARTE_BASE + 0x534u)
#define UARTE_RXD_MAXCNT EK_REG(UARTE_BASE + 0x538u)
#define UARTE_TXD_PTR EK_REG(UARTE_BASE + 0x544u)
#define UARTE_TXD_MAXCNT EK_REG(UARTE_BASE + 0x548u)
#define UARTE_CONFIG EK_REG(UARTE_BASE + 0x56Cu)
#define UARTE_ENABLE_ON 8u
#define PSEL_DISCONNECTED 0xFFFFFFFFu

#define TX_STAGE_BYTES 256u

static volatile uint8_t rx_byte;
static uint8_t tx_stage[TX_STAGE_BYTES];

static void start_rx(void)
{
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT = 1;
    UARTE_TASKS_STARTRX = 1;
}

void ek_board_init(void)
{
    APPROTECT_DISABLE = UICR_APPROTECT;

    CLOCK_EVENTS_HFCLKSTARTED = 0;
    CLOCK_TASKS_HFCLKSTART = 1;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
    NVMC_ICACHECNF |= NVMC_ICACHECNF_CACHEEN;

    P0_OUTSET = 1u << (uint32_t)(EK_NRF_UART_TX_PIN); /* idle high before the UARTE drives it */
    P0_DIRSET = 1u << (uint32_t)(EK_NRF_UART_TX_PIN);
    P0_PIN_CNF((uint32_t)(EK_NRF_UART_TX_PIN)) = PIN_CNF_OUTPUT_NO_INPUT;
    P0_PIN_CNF((uint32_t)(EK_NRF_UART_RX_PIN)) = PIN_CNF_INPUT_PULLUP;

    UARTE_ENABLE = 0;
    UARTE_PSEL_TXD = (uint32_t)(EK_NRF_UART_TX_PIN);
    UARTE_PSEL_RXD = (uint32_t)(EK_NRF_UART_RX_PIN);
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = UARTE_BAUD_VALUE;
    UARTE_CONFIG = 0; /* 8N1, no flow control */
    UARTE_ENABLE = UARTE_ENABLE_ON;
    UARTE_EVENTS_ENDRX = 0;
    start_rx();

    ek_dwt_start(0);
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    while (n > 0) {
        const uint32_t k = n < TX_STAGE_BYTES ? n : TX_STAGE_BYTES;
        for (uint32_t i = 0; i < k; i++) {
            tx_stage[i] = data[i];
        }
        UARTE_EVENTS_ENDTX = 0;
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)tx_stage;
        UARTE_TXD_MAXCNT = k;
        UARTE_TASKS_STARTTX = 1;
        while (!UARTE_EVENTS_ENDTX) {
        }
        data += k;
        n -= k;
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    if (UARTE_EVENTS_ERROR) {
        UARTE_EVENTS_ERROR = 0;
        UARTE_ERRORSRC = UARTE_ERRORSRC; /* write 1s to clear; the CRC check catches the damage */
    }
    if (!UARTE_EVENTS_ENDRX) {
        return 0;
    }
    UARTE_EVENTS_ENDRX = 0;
    *out = rx_byte;
    start_rx();
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    return EK_DWT_CYCCNT;
}

void ek_board_idle(void)
{
}

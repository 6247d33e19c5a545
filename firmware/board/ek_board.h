/* ek_board.h -- what the firmware harness needs from a board (firmware/harness/PROTOCOL.md).
 *
 * One implementation per board family in boards/support/<family>/. The harness calls nothing
 * else on the hardware. Board facts (clock, UART, memory) come from boards/<board>.yaml through
 * the EK_BOARD_* macros the build passes on the command line; the support code knows only the
 * chip's register map.
 */
#ifndef EK_BOARD_H
#define EK_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, UART, cycle timer. Called once, first thing in main(). */
void ek_board_init(void);

/* Send n bytes; returns when the last byte is handed to the UART (blocking). */
void ek_uart_write(const uint8_t *data, uint32_t n);

/* Non-blocking: 1 and *out set if a byte was waiting, 0 otherwise. */
int ek_uart_read_byte(uint8_t *out);

/* Free-running tick counter: counts up, wraps at 2^32, EK_BOARD_TIMER_HZ ticks per second. */
uint32_t ek_timer_ticks(void);

/* edgekit extension beyond PROTOCOL.md: called when no byte is waiting. A board may sleep until
 * the UART has input (WFI); returning at once is always correct. */
void ek_board_idle(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_BOARD_H */

/* board_host.c -- the harness on a PC, for tests: the "UART" is stdin/stdout, the timer a
 * counter that advances by one per read (deterministic). End of input ends the program. */
#include <stdio.h>
#include <stdlib.h>

#include "ek_board.h"

static uint32_t ticks;

void ek_board_init(void)
{
}

void ek_uart_write(const uint8_t *data, uint32_t n)
{
    if (fwrite(data, 1, n, stdout) != n) {
        exit(2);
    }
}

int ek_uart_read_byte(uint8_t *out)
{
    const int c = getchar();
    if (c == EOF) {
        fflush(stdout);
        exit(0);
    }
    *out = (uint8_t)c;
    return 1;
}

uint32_t ek_timer_ticks(void)
{
    return ticks++;
}

void ek_board_idle(void)
{
}

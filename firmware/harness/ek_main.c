/* ek_main.c -- firmware entry: bring the board up, then serve the host forever. */
#include "ek_board.h"
#include "ek_harness.h"

int main(void)
{
    ek_board_init();
    ek_harness_run();
    return 0;
}

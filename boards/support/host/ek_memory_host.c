/* ek_memory_host.c -- no linker-script symbols on a PC: no stack painting, sizes unknown (0). */
#include "ek_harness.h"

void ek_stack_paint(void)
{
}

uint32_t ek_stack_peak_bytes(void)
{
    return 0;
}

uint32_t ek_static_ram_bytes(void)
{
    return 0;
}

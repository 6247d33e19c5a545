/* ek_thumb_tool.c -- decode Thumb instructions from stdin, one per line as hex halfwords
 * ("b510" or "f8d1 3004"), and print what ek_thumb_decode() makes of them:
 *     class size transfers flags dst src addr
 * For testing the decoder against a disassembler (tests/test_cycle_model.py). */
#include <stdio.h>
#include <stdlib.h>

#include "ek_thumb.h"

int main(void)
{
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        char *end = NULL;
        const unsigned long hw1 = strtoul(line, &end, 16);
        const unsigned long hw2 = strtoul(end, NULL, 16);
        ek_insn d;
        ek_thumb_decode((uint16_t)hw1, (uint16_t)hw2, &d);
        printf("%s %u %u 0x%x 0x%x 0x%x 0x%x\n", ek_class_name(d.cls), d.size, d.transfers, d.flags,
               d.dst, d.src, d.addr);
    }
    return 0;
}

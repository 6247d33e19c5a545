/* boot2_generic_03h.S -- edgekit's second-stage boot for the RP2040.
 *
 * The boot ROM copies the first 256 bytes of flash to SRAM at 0x20041F00, checks the CRC-32 in
 * the last 4 bytes and branches here with lr = 0. This code sets the XIP SSI (the flash
 * interface) to turn every bus read of the 0x10000000 window into a serial 03h READ command:
 * 8 instruction clocks, 24 address clocks, 32 data clocks. Any SPI NOR flash answers 03h, so it
 * boots whatever chip a board carries; quad-I/O XIP would be ~3x faster on cache misses.
 * Then it points VTOR at the image's vector table (0x10000100), loads the stack pointer and
 * jumps to the reset handler. Called as a function (lr != 0), it returns instead.
 *
 * Position independent (literal-pool loads only), stack use: one push. At most 252 bytes; the
 * build appends the checksum (boards/rpi-pico.yaml: boot_stage).
 *
 * Register facts: RP2040 datasheet, section 4.10 (SSI) and 2.8.1 (boot sequence).
 */
#ifndef EK_BOOT2_CLKDIV
#define EK_BOOT2_CLKDIV 4            /* SCK = clk_sys / EK_BOOT2_CLKDIV, even, >= 2 */
#endif

#define XIP_SSI_BASE     0x18000000
#define SSI_CTRLR0       0x00        /* frame format, frame size, transfer mode */
#define SSI_CTRLR1       0x04        /* number of data frames - 1 */
#define SSI_SSIENR       0x08        /* enable */
#define SSI_BAUDR        0x14        /* clock divider */
#define SSI_SPI_CTRLR0   0xF4        /* XIP command, instruction and address lengths */

/* CTRLR0: SPI_FRF (bits 22:21) = 0 standard 1-bit SPI, DFS_32 (bits 20:16) = 31 -> 32-bit
 * frames, TMOD (bits 9:8) = 3 EEPROM read: send instruction + address, then receive. */
#define CTRLR0_VALUE     ((31 << 16) | (3 << 8))
/* SPI_CTRLR0: XIP_CMD (bits 31:24) = 0x03, INST_L (bits 9:8) = 2 -> 8-bit instruction,
 * ADDR_L (bits 5:2) = 6 -> 24 address bits, TRANS_TYPE (bits 1:0) = 0 all serial. */
#define SPI_CTRLR0_VALUE ((0x03 << 24) | (2 << 8) | (6 << 2))

#define IMAGE_VECTORS    0x10000100  /* the application's vector table, right after boot2 */
#define M0PLUS_VTOR      0xE000ED08

    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .section .text.ek_boot2, "ax"
    .global ek_boot2_entry
    .type ek_boot2_entry, %function
    .thumb_func
ek_boot2_entry:
    push    {lr}
    ldr     r3, =XIP_SSI_BASE
    movs    r1, #0
    str     r1, [r3, #SSI_SSIENR]       /* SSI off while it is reconfigured */
    movs    r1, #EK_BOOT2_CLKDIV
    str     r1, [r3, #SSI_BAUDR]
    ldr     r1, =CTRLR0_VALUE
    str     r1, [r3, #SSI_CTRLR0]
    ldr     r0, =(XIP_SSI_BASE + SSI_SPI_CTRLR0)
    ldr     r1, =SPI_CTRLR0_VALUE
    str     r1, [r0]
    movs    r1, #0
    str     r1, [r3, #SSI_CTRLR1]       /* one 32-bit frame per read */
    movs    r1, #1
    str     r1, [r3, #SSI_SSIENR]       /* flash reads now go through XIP */

    pop     {r0}
    cmp     r0, #0
    beq     enter_image
    bx      r0                          /* called from code: return */
enter_image:
    ldr     r0, =IMAGE_VECTORS
    ldr     r1, =M0PLUS_VTOR
    str     r0, [r1]
    ldr     r1, [r0]                    /* initial stack pointer */
    ldr     r2, [r0, #4]                /* reset handler */
    msr     msp, r1
    bx      r2

    .ltorg
    .size ek_boot2_entry, . - ek_boot2_entry

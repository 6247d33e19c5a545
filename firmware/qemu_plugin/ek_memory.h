/* ek_memory.h -- the memory system of a board for the edgekit cycle plugin: which addresses are
 * the board's flash, its wait states, and the flash accelerator's caches and prefetch.
 *
 * The emulated machine (QEMU mps2-an386) places code elsewhere than the real chip, so regions
 * are given by the image, not by the chip's memory map: the Python side lists the address
 * ranges of what the linker placed in flash (the ELF's read-only loadable segments: .text,
 * .rodata, ...) as `flash START END` lines; every other address is RAM.
 *
 * Memory file (key value lines, '#' starts a comment), written by edgekit/target/memory_model.py
 * from a board file's memory_system:
 *   flash_wait_states N     wait states of one flash read at the board's clock
 *   flash_read_bytes N      bytes one flash read delivers (the flash's width)
 *   prefetch 0|1            sequential instruction reads fetched ahead
 *   icache_lines N, icache_line_bytes N   instruction cache of the flash accelerator (0: none)
 *   dcache_lines N, dcache_line_bytes N   data (literal, constant) cache (0: none)
 *   sram_wait_states N      wait states of a RAM access
 *   flash START END         one range [START, END) of flash addresses (any number of lines)
 *
 * Costs (cycles beyond the zero wait-state timing of cortex-m4.cycles):
 *   - a data load from flash whose flash read is not in the data cache: flash_wait_states;
 *   - an instruction fetch from flash whose read is not in the instruction cache: after a jump,
 *     flash_wait_states; on the sequential path with prefetch, only what the previous read's
 *     instructions did not cover (the next read started when the previous one was delivered);
 *   - a RAM load or store: sram_wait_states.
 * Caches: lines of line_bytes, each filled one flash read at a time (a valid bit per read),
 * fully associative, least recently used line replaced.
 */
#ifndef EK_MEMORY_H
#define EK_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define EK_MEM_MAX_REGIONS 16
#define EK_MEM_MAX_LINES 1024

typedef struct {
    uint32_t lines;       /* 0: no cache */
    uint32_t line_bytes;
    uint32_t reads_per_line;
    uint64_t *tag;        /* line address (address / line_bytes) + 1; 0 = empty */
    uint32_t *valid;      /* bit i: the line's i-th flash read is present */
    uint64_t *used;       /* last use, for LRU */
    uint64_t clock;
    uint64_t hits, misses;
} ek_cache;

typedef struct {
    int active;
    int flash_wait_states;
    int flash_read_bytes;
    int prefetch;
    int sram_wait_states;
    size_t n_regions;
    uint64_t region_start[EK_MEM_MAX_REGIONS];
    uint64_t region_end[EK_MEM_MAX_REGIONS];
    ek_cache icache, dcache;
    uint64_t last_fetch_read;  /* flash read index (address / flash_read_bytes) of the last fetch */
    int have_last_fetch;
    uint64_t flash_data_reads; /* loads from flash, and those that went to the flash array */
    uint64_t flash_data_misses;
    uint64_t fetch_misses;
    uint64_t stall_cycles;     /* every cycle the memory system added */
} ek_memory;

/* Read a memory file; 0 on success, else -1 with a message in err. */
int ek_memory_load(const char *path, ek_memory *m, char *err, size_t errn);

int ek_memory_is_flash(const ek_memory *m, uint64_t addr);

/* Cycles a data load at addr adds (flash: data cache; RAM: wait states). */
uint32_t ek_memory_load_cost(ek_memory *m, uint64_t addr);

/* Cycles a store adds (RAM wait states; stores to flash do not happen in a running image). */
uint32_t ek_memory_store_cost(ek_memory *m, uint64_t addr);

/* Cycles fetching one flash read's worth of instructions adds. `read` is the read's index
 * (address / flash_read_bytes); `covered` the cycles the core spent on the previous read's
 * instructions (what prefetch could hide). RAM fetches cost sram_wait_states per read. */
uint32_t ek_memory_fetch_cost(ek_memory *m, uint64_t read, uint32_t covered);

#endif /* EK_MEMORY_H */

/* ek_memory.c -- a board's memory system for the edgekit cycle plugin (see ek_memory.h). */
#include "ek_memory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cache_init(ek_cache *c, int read_bytes, char *err, size_t errn, const char *name)
{
    if (c->lines == 0) {
        return 0;
    }
    if (c->lines > EK_MEM_MAX_LINES || c->line_bytes == 0 || read_bytes <= 0 ||
        c->line_bytes % (uint32_t)read_bytes != 0 || c->line_bytes / (uint32_t)read_bytes > 32) {
        snprintf(err, errn, "%s: lines must be 1..%d, line_bytes a multiple of flash_read_bytes (at most 32 reads)",
                 name, EK_MEM_MAX_LINES);
        return -1;
    }
    c->reads_per_line = c->line_bytes / (uint32_t)read_bytes;
    c->tag = calloc(c->lines, sizeof *c->tag);
    c->valid = calloc(c->lines, sizeof *c->valid);
    c->used = calloc(c->lines, sizeof *c->used);
    if (c->tag == NULL || c->valid == NULL || c->used == NULL) {
        snprintf(err, errn, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

/* Whether flash read `read` is in the cache; on a miss it is filled (a line replaced if its
 * line is absent). */
static int cache_access(ek_cache *c, uint64_t read)
{
    const uint64_t line = read / c->reads_per_line;
    const uint32_t bit = 1u << (read % c->reads_per_line);
    uint32_t victim = 0;
    ++c->clock;
    for (uint32_t i = 0; i < c->lines; ++i) {
        if (c->tag[i] == line + 1) {
            c->used[i] = c->clock;
            if (c->valid[i] & bit) {
                ++c->hits;
                return 1;
            }
            c->valid[i] |= bit;
            ++c->misses;
            return 0;
        }
        if (c->used[i] < c->used[victim]) {
            victim = i;
        }
    }
    c->tag[victim] = line + 1;
    c->valid[victim] = bit;
    c->used[victim] = c->clock;
    ++c->misses;
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end = NULL;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return (end == s || *end != '\0' || errno) ? -1 : 0;
}

int ek_memory_load(const char *path, ek_memory *m, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int n = 0;
    memset(m, 0, sizeof *m);
    m->flash_read_bytes = 8;
    if (f == NULL) {
        snprintf(err, errn, "cannot open memory file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char key[64], a[64], b[64];
        char *hash = strchr(line, '#');
        uint64_t va = 0, vb = 0;
        ++n;
        if (hash) {
            *hash = '\0';
        }
        const int got = sscanf(line, "%63s %63s %63s", key, a, b);
        if (got <= 0) {
            continue;
        }
        int bad = got < 2 || parse_u64(a, &va) != 0 || va > 0xffffffffu;
        if (!bad && strcmp(key, "flash") == 0) {
            bad = got != 3 || parse_u64(b, &vb) != 0 || vb <= va || m->n_regions == EK_MEM_MAX_REGIONS;
            if (!bad) {
                m->region_start[m->n_regions] = va;
                m->region_end[m->n_regions] = vb;
                ++m->n_regions;
            }
        } else if (!bad && got == 2) {
            struct { const char *name; uint32_t *u; int *i; } keys[] = {
                {"flash_wait_states", NULL, &m->flash_wait_states}, {"flash_read_bytes", NULL, &m->flash_read_bytes},
                {"prefetch", NULL, &m->prefetch}, {"sram_wait_states", NULL, &m->sram_wait_states},
                {"icache_lines", &m->icache.lines, NULL}, {"icache_line_bytes", &m->icache.line_bytes, NULL},
                {"dcache_lines", &m->dcache.lines, NULL}, {"dcache_line_bytes", &m->dcache.line_bytes, NULL},
            };
            bad = 1;
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; ++k) {
                if (strcmp(key, keys[k].name) == 0 && va <= 100000) {
                    if (keys[k].u) {
                        *keys[k].u = (uint32_t)va;
                    } else {
                        *keys[k].i = (int)va;
                    }
                    bad = 0;
                }
            }
        } else {
            bad = 1;
        }
        if (bad) {
            snprintf(err, errn, "%s:%d: bad line", path, n);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    if (m->flash_read_bytes <= 0 || (m->flash_read_bytes & (m->flash_read_bytes - 1))) {
        snprintf(err, errn, "%s: flash_read_bytes must be a power of two", path);
        return -1;
    }
    if (cache_init(&m->icache, m->flash_read_bytes, err, errn, "icache") != 0 ||
        cache_init(&m->dcache, m->flash_read_bytes, err, errn, "dcache") != 0) {
        return -1;
    }
    m->active = 1;
    return 0;
}

int ek_memory_is_flash(const ek_memory *m, uint64_t addr)
{
    for (size_t i = 0; i < m->n_regions; ++i) {
        if (addr >= m->region_start[i] && addr < m->region_end[i]) {
            return 1;
        }
    }
    return 0;
}

uint32_t ek_memory_load_cost(ek_memory *m, uint64_t addr)
{
    uint32_t c;
    if (!ek_memory_is_flash(m, addr)) {
        c = (uint32_t)m->sram_wait_states;
    } else {
        const uint64_t read = addr / (uint64_t)m->flash_read_bytes;
        ++m->flash_data_reads;
        if (m->dcache.lines && cache_access(&m->dcache, read)) {
            c = 0;
        } else {
            ++m->flash_data_misses;
            c = (uint32_t)m->flash_wait_states;
        }
    }
    m->stall_cycles += c;
    return c;
}

uint32_t ek_memory_store_cost(ek_memory *m, uint64_t addr)
{
    const uint32_t c = ek_memory_is_flash(m, addr) ? 0u : (uint32_t)m->sram_wait_states;
    m->stall_cycles += c;
    return c;
}

uint32_t ek_memory_fetch_cost(ek_memory *m, uint64_t read, uint32_t covered)
{
    const uint64_t addr = read * (uint64_t)m->flash_read_bytes;
    const int sequential = m->have_last_fetch && read == m->last_fetch_read + 1;
    const int same = m->have_last_fetch && read == m->last_fetch_read;
    uint32_t c = 0;
    m->last_fetch_read = read;
    m->have_last_fetch = 1;
    if (same) {
        return 0; /* still the read the core is executing from */
    }
    if (!ek_memory_is_flash(m, addr)) {
        c = (uint32_t)m->sram_wait_states;
    } else if (m->icache.lines && cache_access(&m->icache, read)) {
        c = 0;
    } else {
        ++m->fetch_misses;
        c = (uint32_t)m->flash_wait_states;
        if (sequential && m->prefetch) {
            /* the read was started when the previous one was delivered; the core spent
             * `covered` cycles on that one's instructions (a zero-wait fetch takes 1 of them) */
            const uint32_t latency = (uint32_t)m->flash_wait_states + 1u;
            c = covered >= latency ? 0u : latency - covered;
            if (c > (uint32_t)m->flash_wait_states) {
                c = (uint32_t)m->flash_wait_states;
            }
        }
    }
    m->stall_cycles += c;
    return c;
}

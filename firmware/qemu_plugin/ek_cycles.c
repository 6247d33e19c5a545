/* ek_cycles.c -- a QEMU TCG plugin that estimates Cortex-M cycles from executed instructions.
 *
 * Every translated block is decoded once (ek_thumb.c) into instruction classes and a static
 * cycle cost under a core model read from a timing file (cortex-m4.cycles, cortex-m7.cycles).
 * At run time one callback per executed block adds the block's instructions, cycles and class
 * counts, and settles what only execution shows: whether the conditional branch that ended the
 * previous block was taken (the next block does not start at its fall-through address).
 *
 * Per operator: the generated model calls EK_OP_HOOK(i) before operator i and EK_OP_HOOK(n) at
 * the end; the harness implements it as a function whose address is passed as hook=ADDR. Every
 * time a block starting at that address runs, the counts since the previous hook are closed as
 * one operator; after the (ops+1)-th hook of an invoke one JSON line per invoke is written to
 * out=FILE. Without hook=, only the totals are written at exit.
 *
 * With hook= and ops=0 (an image that marks its own stretches, e.g. one whole inference), every
 * hook closes one segment: one JSON line per hook with the counts since the previous one.
 *
 * Arguments: model=FILE (timing file, required), out=FILE (required), hook=ADDR (hex or
 * decimal, Thumb bit ignored), ops=N (operators per invoke), blocks=FILE (optional: at exit,
 * every executed block's address, instructions, static cycles, executions and taken exits,
 * for finding where the cycles go), mem=FILE (optional: the board's memory system, ek_memory.h;
 * without it memory has no wait states).
 *
 * Cycle model of a block, single-issue cores (Cortex-M4, timings from ARM's Cortex-M4 TRM,
 * "Instruction set summary" and "Load/store timings"):
 *   - each instruction costs its class's cycles (LDM/STM: base + registers; LDRD/STRD: fixed);
 *   - a single load or store directly after a single load is pipelined (one cycle less, not
 *     below one) unless its address uses the register the first load loaded; whether a base
 *     the first load wrote back counts is the switch wb_base_pipelined (1: it does not count;
 *     the TRM names only "the destination of the first LDR");
 *   - a load or store whose address uses the result of the directly preceding data-processing
 *     instruction stalls (agu_stall cycles);
 *   - a store with a register offset costs store_reg_offset;
 *   - a taken branch adds the pipeline refill P (branch_refill): unconditional branches at
 *     translation, conditional ones when the next block shows they were taken; into a block whose
 *     first instruction is 32-bit at a halfword address, refill_wide_unaligned more;
 *   - a single load to the PC blocks: never pipelined, its load plus load_pc_refill (per the
 *     TRM, two cycles of load and three of pipeline reload at least).
 * Dual-issue cores (Cortex-M7, issue dual): an instruction issues in the same cycle as the
 * previous one when both are single-cycle, independent (no read or write of the first one's
 * destination), not both memory or both multiply, at most one with a shifted operand, the second
 * is no DSP instruction and the first is no branch; a load's result is ready load_latency cycles
 * after it issues; a conditional branch is predicted by a 2-bit counter per branch and costs
 * branch_mispredict when wrong, branch_refill when taken and predicted.
 * Memory: with mem=FILE, every instruction fetch and data access is charged by region (flash
 * wait states behind the accelerator's caches and prefetch, RAM wait states; ek_memory.c), on
 * top of the static cost; without it memory is taken to have no wait states.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_memory.h"
#include "ek_qemu_plugin_api.h"
#include "ek_thumb.h"

EK_QEMU_PLUGIN_EXPORT int qemu_plugin_version = EK_QEMU_PLUGIN_API_VERSION;

/* ---------------------------------------------------------------------------- timing model */

typedef struct {
    char core[64];
    int dual_issue;
    int cls[EK_CLS_COUNT];   /* cycles of one instruction of each class */
    int store_reg_offset;    /* STR with a register offset */
    int load_pipelined;      /* M4: LDR/STR directly after an LDR */
    int agu_stall;           /* M4: address from the previous data-processing result */
    int literal_extra;       /* PC-relative load */
    int multi_base;          /* LDM/STM/PUSH/POP: base + ceil(N / regs_per_cycle) */
    int multi_regs_per_cycle;
    int fp_multi_base;       /* VLDM/VSTM: base + ceil(words / regs_per_cycle) */
    int table_branch;        /* TBB/TBH before the refill */
    int branch_refill;       /* P: pipeline refill of a taken branch */
    int load_pc_refill;      /* M4: the refill after LDR PC (blocking, never pipelined); -1: P */
    int branch_mispredict;   /* dual-issue model: a wrongly predicted conditional branch */
    int branch_uncond;       /* dual-issue model: extra cycles of an unconditional branch */
    int load_latency;        /* dual-issue model: cycles until a loaded register can be read */
    int wb_base_pipelined;   /* M4: a load after a load that wrote back its base is pipelined */
    int unaligned_penalty;   /* M4: extra cycles of unaligned halfword/word accesses (1: the TRM's) */
    int refill_wide_unaligned; /* M4: P's extra cycles when the branch target is a 32-bit instruction
                                  at an address that is not word-aligned (two fetches) */
} ek_model;

static const char *const class_keys[EK_CLS_COUNT] = {
    "alu", "mac", "simd", "div", "load", "store", "ldrd", "strd", "ldm", "stm",
    "branch", "it", "fp", "fp_load", "fp_store", "system",
};

static int set_key(ek_model *m, const char *key, const char *val)
{
    char *end = NULL;
    const long v = strtol(val, &end, 0);
    struct { const char *name; int *field; } ints[] = {
        {"store_reg_offset", &m->store_reg_offset}, {"load_pipelined", &m->load_pipelined},
        {"agu_stall", &m->agu_stall}, {"literal_extra", &m->literal_extra},
        {"multi_base", &m->multi_base}, {"multi_regs_per_cycle", &m->multi_regs_per_cycle},
        {"fp_multi_base", &m->fp_multi_base}, {"table_branch", &m->table_branch},
        {"branch_refill", &m->branch_refill}, {"load_pc_refill", &m->load_pc_refill},
        {"branch_mispredict", &m->branch_mispredict},
        {"branch_uncond", &m->branch_uncond}, {"load_latency", &m->load_latency},
        {"dual_issue", &m->dual_issue}, {"wb_base_pipelined", &m->wb_base_pipelined},
        {"unaligned_penalty", &m->unaligned_penalty}, {"refill_wide_unaligned", &m->refill_wide_unaligned},
    };
    if (strcmp(key, "core") == 0) {
        snprintf(m->core, sizeof m->core, "%s", val);
        return 0;
    }
    if (end == val || *end != '\0' || v < 0 || v > 1000) {
        return -1;
    }
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        if (strcmp(key, class_keys[c]) == 0) {
            m->cls[c] = (int)v;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; ++i) {
        if (strcmp(key, ints[i].name) == 0) {
            *ints[i].field = (int)v;
            return 0;
        }
    }
    return -1;
}

static int load_model(const char *path, ek_model *m, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int n = 0;
    memset(m, 0, sizeof *m);
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        m->cls[c] = -1;
    }
    m->multi_regs_per_cycle = 1;
    m->load_pc_refill = -1;
    m->wb_base_pipelined = 1;
    if (f == NULL) {
        snprintf(err, errn, "cannot open timing file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char key[64], val[64];
        char *hash = strchr(line, '#');
        ++n;
        if (hash) {
            *hash = '\0';
        }
        const int got = sscanf(line, "%63s %63s", key, val);
        if (got <= 0) {
            continue;
        }
        if (got != 2 || set_key(m, key, val) != 0) {
            snprintf(err, errn, "%s:%d: bad line", path, n);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        if (m->cls[c] < 0) {
            snprintf(err, errn, "%s: no cycles for class %s", path, class_keys[c]);
            return -1;
        }
    }
    if (m->multi_regs_per_cycle < 1) {
        m->multi_regs_per_cycle = 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------- blocks */

enum { END_NONE, END_COND, END_UNCOND };

typedef struct ek_block_s {
    uint64_t vaddr;
    uint64_t fallthrough;    /* address after the last instruction */
    uint32_t n_insns;
    uint32_t cycles;         /* static cost of the whole block */
    uint32_t taken_static;   /* unconditional branches (always taken) in the block */
    uint16_t classes[EK_CLS_COUNT];
    uint8_t end;             /* END_*: how the last instruction changes the flow */
    uint8_t is_hook;
    uint8_t counter;         /* dual-issue model: 2-bit predictor of the ending branch */
    uint8_t wide_unaligned;  /* its first instruction is 32-bit at a halfword (not word) address */
    uint32_t n_reads;        /* memory model: the flash reads (address / read bytes) the block's */
    uint64_t *reads;         /* instructions come from, in order, and the static cycles of the */
    uint32_t *read_cycles;   /* instructions that start in each */
    uint64_t executions;     /* for blocks=FILE */
    uint64_t taken_exits;
    struct ek_block_s *next; /* every block, for blocks=FILE */
} ek_block;

typedef struct {
    uint64_t insns;
    uint64_t cycles;
    uint64_t taken;          /* taken branches */
    uint64_t mispredicts;
    uint64_t memory;         /* cycles the memory system added (included in cycles) */
    uint64_t classes[EK_CLS_COUNT];
} ek_counts;

static ek_model model;
static ek_memory memsys;
static uint32_t last_read_cycles; /* static cycles spent in the last fetched flash read */
static FILE *out;
static char *blocks_path;
static ek_block *all_blocks;
static uint64_t hook_addr;
static int have_hook;
static uint32_t num_ops;

static const ek_block *prev_block;
static ek_counts cur;        /* since the last hook (or since the start) */
static ek_counts total;      /* whole run */
static ek_counts *op_counts; /* [num_ops] of the invoke in progress */
static uint64_t hooks_seen;
static uint64_t invokes;

static int is_memory(int cls)
{
    return cls == EK_CLS_LOAD || cls == EK_CLS_STORE || cls == EK_CLS_LDRD || cls == EK_CLS_STRD ||
           cls == EK_CLS_LDM || cls == EK_CLS_STM || cls == EK_CLS_FP_LOAD || cls == EK_CLS_FP_STORE;
}

static int is_data_processing(int cls)
{
    return cls == EK_CLS_ALU || cls == EK_CLS_MAC || cls == EK_CLS_SIMD;
}

static int multiple_cost(int base, int n)
{
    const int per = model.multi_regs_per_cycle;
    return base + (n + per - 1) / per;
}

/* Cycles of one instruction on its own, before interactions with its neighbours. */
static int base_cost(const ek_insn *d, int conditional)
{
    int c = model.cls[d->cls];
    switch (d->cls) {
    case EK_CLS_STORE:
        if (d->flags & EK_F_REG_OFFSET) {
            c = model.store_reg_offset;
        }
        break;
    case EK_CLS_LOAD:
        if (d->flags & EK_F_LITERAL) {
            c += model.literal_extra;
        }
        break;
    case EK_CLS_LDM:
    case EK_CLS_STM:
        c = multiple_cost(model.multi_base, d->transfers);
        break;
    case EK_CLS_FP_LOAD:
    case EK_CLS_FP_STORE:
        if (d->flags & EK_F_MULTI) {
            c = multiple_cost(model.fp_multi_base, d->transfers);
        }
        break;
    case EK_CLS_BRANCH:
        if (d->flags & EK_F_TABLE) {
            c = model.table_branch;
        }
        break;
    default:
        break;
    }
    /* an unconditional write of the PC always refills the pipeline; a single load to the PC
     * blocks (the M4 TRM: two cycles for the load, three for the reload) */
    if ((d->flags & EK_F_PC_WRITE) && !conditional && !model.dual_issue) {
        c += d->cls == EK_CLS_LOAD && model.load_pc_refill >= 0 ? model.load_pc_refill : model.branch_refill;
    }
    if ((d->flags & EK_F_PC_WRITE) && !conditional && model.dual_issue) {
        c += model.branch_uncond;
    }
    return c < 1 ? 1 : c;
}

/* Static cycles of a decoded block: single-issue (M4) rules. */
static uint32_t block_cycles_single(const ek_insn *ins, const uint8_t *cond, size_t n, uint32_t *each)
{
    uint32_t cycles = 0;
    for (size_t i = 0; i < n; ++i) {
        const ek_insn *d = &ins[i];
        int c = base_cost(d, cond[i]);
        if (i > 0) {
            const ek_insn *p = &ins[i - 1];
            const int single = (d->cls == EK_CLS_LOAD || d->cls == EK_CLS_STORE) && !(d->flags & EK_F_PC_WRITE);
            /* the first load's destination (its data; its written-back base unless
             * wb_base_pipelined is 0) */
            const uint32_t blocking = model.wb_base_pipelined ? (p->dst & ~p->wb) : p->dst;
            if (single && p->cls == EK_CLS_LOAD && !(blocking & d->addr) && c > 1) {
                c -= model.load_pipelined;
            }
            if (is_memory(d->cls) && is_data_processing(p->cls) && (p->dst & d->addr)) {
                c += model.agu_stall;
            }
        }
        each[i] = (uint32_t)(c < 1 ? 1 : c);
        cycles += each[i];
    }
    return cycles;
}

static int can_pair(const ek_insn *a, const ek_insn *b, int cost_a, int cost_b)
{
    if (cost_a != 1 || cost_b != 1) {
        return 0;
    }
    if (a->flags & EK_F_PC_WRITE) {
        return 0;
    }
    if (a->cls == EK_CLS_IT || b->cls == EK_CLS_IT || a->cls == EK_CLS_SYSTEM || b->cls == EK_CLS_SYSTEM ||
        a->cls == EK_CLS_DIV || b->cls == EK_CLS_DIV) {
        return 0;
    }
    if (is_memory(a->cls) && is_memory(b->cls)) {
        return 0;
    }
    if (a->cls == EK_CLS_MAC && b->cls == EK_CLS_MAC) {
        return 0;
    }
    if ((a->flags & EK_F_SHIFTED) && (b->flags & EK_F_SHIFTED)) {
        return 0;
    }
    if (b->flags & EK_F_DSP) {
        return 0;
    }
    if ((b->src & a->dst) || (b->dst & a->dst)) {
        return 0;
    }
    return 1;
}

/* Static cycles of a decoded block: dual-issue (M7) rules with a register scoreboard. */
static uint32_t block_cycles_dual(const ek_insn *ins, const uint8_t *cond, size_t n, uint32_t *each)
{
    uint32_t ready[16] = {0}; /* cycle at which each register can be read */
    uint32_t now = 0;         /* cycle the next instruction could issue in */
    uint32_t end = 0;         /* cycles used so far */
    int open = 0;             /* the previous instruction left the second slot of its cycle free */
    int prev_cost = 0;
    for (size_t i = 0; i < n; ++i) {
        const ek_insn *d = &ins[i];
        const int c = base_cost(d, cond[i]);
        uint32_t earliest = 0;
        for (int r = 0; r < 16; ++r) {
            if ((d->src & (1u << r)) && ready[r] > earliest) {
                earliest = ready[r];
            }
        }
        uint32_t issue;
        if (open && i > 0 && can_pair(&ins[i - 1], d, prev_cost, c) && earliest <= now - 1) {
            issue = now - 1; /* second slot of the previous instruction's cycle */
            open = 0;
        } else {
            issue = now > earliest ? now : earliest;
            now = issue + (uint32_t)c;
            open = c == 1;
        }
        const uint32_t lat = (d->cls == EK_CLS_LOAD || d->cls == EK_CLS_LDRD || d->cls == EK_CLS_LDM)
                                 ? (uint32_t)model.load_latency : 1u;
        for (int r = 0; r < 16; ++r) {
            if (d->dst & (1u << r)) { /* a written-back base is ready a cycle after issue */
                ready[r] = issue + ((d->wb & (1u << r)) ? 1u : lat);
            }
        }
        each[i] = now > end ? now - end : 0; /* cycles this instruction added */
        if (now > end) {
            end = now;
        }
        prev_cost = c;
    }
    return end;
}

static void on_block_exec(unsigned int vcpu, void *userdata);

static void on_memory(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    const uint64_t size = 1u << qemu_plugin_mem_size_shift(info);
    const int store = qemu_plugin_mem_is_store(info);
    uint32_t c = 0;
    if (model.unaligned_penalty && (vaddr & (size - 1))) {
        /* the M4 splits it: a byte-aligned halfword into two bytes, a halfword-aligned word
         * into two halfwords, a byte-aligned word into byte, halfword, byte */
        cur.cycles += (uint64_t)((size == 4 && (vaddr & 1)) ? 2 : 1);
    }
    if (memsys.active) {
        c = store ? ek_memory_store_cost(&memsys, vaddr) : ek_memory_load_cost(&memsys, vaddr);
        const uint64_t last = vaddr + size - 1;
        if (!store && last / (uint64_t)memsys.flash_read_bytes != vaddr / (uint64_t)memsys.flash_read_bytes) {
            c += ek_memory_load_cost(&memsys, last); /* it spans two flash reads */
        }
    }
    cur.cycles += c;
    cur.memory += c;
}

static int reads_memory(const ek_insn *d)
{
    return d->cls == EK_CLS_LOAD || d->cls == EK_CLS_LDRD || d->cls == EK_CLS_LDM || d->cls == EK_CLS_FP_LOAD ||
           (d->cls == EK_CLS_BRANCH && (d->flags & EK_F_TABLE));
}

/* The flash reads a block's instructions come from, and the cycles spent in each. */
static void block_reads(ek_block *b, struct qemu_plugin_tb *tb, size_t n, const uint32_t *each)
{
    const uint64_t rb = (uint64_t)memsys.flash_read_bytes;
    const uint64_t first = b->vaddr / rb;
    const uint64_t last = (b->fallthrough - 1) / rb;
    b->n_reads = (uint32_t)(last - first + 1);
    b->reads = calloc(b->n_reads, sizeof *b->reads);
    b->read_cycles = calloc(b->n_reads, sizeof *b->read_cycles);
    if (b->reads == NULL || b->read_cycles == NULL) {
        b->n_reads = 0;
        return;
    }
    for (uint32_t r = 0; r < b->n_reads; ++r) {
        b->reads[r] = first + r;
    }
    for (size_t i = 0; i < n; ++i) {
        const uint64_t r = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i)) / rb - first;
        b->read_cycles[r] += each[i];
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    ek_block *b = calloc(1, sizeof *b);
    ek_insn *ins = calloc(n, sizeof *ins);
    uint8_t *cond = calloc(n, 1);
    uint32_t *each = calloc(n, sizeof *each);
    if (b == NULL || ins == NULL || cond == NULL || each == NULL) {
        free(b);
        free(ins);
        free(cond);
        free(each);
        return;
    }
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->n_insns = (uint32_t)n;
    b->counter = 2; /* weakly taken */
    int it_left = 0;
    for (size_t i = 0; i < n; ++i) {
        const struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *bytes = qemu_plugin_insn_data(qi);
        const size_t size = qemu_plugin_insn_size(qi);
        const uint16_t hw1 = (uint16_t)(bytes[0] | (bytes[1] << 8));
        const uint16_t hw2 = size >= 4 ? (uint16_t)(bytes[2] | (bytes[3] << 8)) : 0;
        ek_thumb_decode(hw1, hw2, &ins[i]);
        cond[i] = (uint8_t)(((ins[i].flags & EK_F_COND) != 0) || it_left > 0);
        if (it_left > 0) {
            --it_left;
        }
        if (ins[i].cls == EK_CLS_IT) {
            it_left = ins[i].it_count;
        }
        const int stores = ins[i].cls == EK_CLS_STORE || ins[i].cls == EK_CLS_STRD || ins[i].cls == EK_CLS_STM ||
                           ins[i].cls == EK_CLS_FP_STORE;
        if ((memsys.active && (reads_memory(&ins[i]) || (stores && memsys.sram_wait_states > 0))) ||
            (model.unaligned_penalty && (ins[i].cls == EK_CLS_LOAD || ins[i].cls == EK_CLS_STORE))) {
            qemu_plugin_register_vcpu_mem_cb((struct qemu_plugin_insn *)qi, on_memory, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, NULL);
        }
        b->classes[ins[i].cls]++;
        if ((ins[i].flags & EK_F_PC_WRITE) && !cond[i]) {
            b->taken_static++;
        }
        if (i == 0) {
            b->wide_unaligned = (uint8_t)(size == 4 && (b->vaddr & 2u) != 0);
        }
        if (i == n - 1) {
            b->fallthrough = qemu_plugin_insn_vaddr(qi) + size;
            if (ins[i].flags & EK_F_PC_WRITE) {
                b->end = cond[i] ? END_COND : END_UNCOND;
            }
        }
    }
    b->cycles = model.dual_issue ? block_cycles_dual(ins, cond, n, each) : block_cycles_single(ins, cond, n, each);
    if (memsys.active) {
        block_reads(b, tb, n, each);
    }
    b->is_hook = have_hook && (b->vaddr & ~(uint64_t)1) == hook_addr;
    b->next = all_blocks;
    all_blocks = b;
    free(ins);
    free(cond);
    free(each);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block_exec, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void add_counts(ek_counts *to, const ek_counts *from)
{
    to->insns += from->insns;
    to->cycles += from->cycles;
    to->taken += from->taken;
    to->mispredicts += from->mispredicts;
    to->memory += from->memory;
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        to->classes[c] += from->classes[c];
    }
}

static void write_counts(const ek_counts *c)
{
    fprintf(out, "{\"insns\": %" PRIu64 ", \"cycles\": %" PRIu64 ", \"taken\": %" PRIu64
                 ", \"mispredicts\": %" PRIu64 ", \"memory_cycles\": %" PRIu64 ", \"classes\": [",
            c->insns, c->cycles, c->taken, c->mispredicts, c->memory);
    for (int k = 0; k < EK_CLS_COUNT; ++k) {
        fprintf(out, "%s%" PRIu64, k ? ", " : "", c->classes[k]);
    }
    fputs("]}", out);
}

static void write_invoke(void)
{
    ek_counts sum;
    memset(&sum, 0, sizeof sum);
    for (uint32_t i = 0; i < num_ops; ++i) {
        add_counts(&sum, &op_counts[i]);
    }
    fprintf(out, "{\"invoke\": %" PRIu64 ", \"total\": ", invokes);
    write_counts(&sum);
    fputs(", \"ops\": [", out);
    for (uint32_t i = 0; i < num_ops; ++i) {
        fputs(i ? ", " : "", out);
        write_counts(&op_counts[i]);
    }
    fputs("]}\n", out);
    fflush(out);
    ++invokes;
}

/* The hook ran in segment mode (ops=0): what was counted since the previous hook is one segment. */
static void hook_segment(void)
{
    fprintf(out, "{\"segment\": %" PRIu64 ", \"counts\": ", hooks_seen);
    write_counts(&cur);
    fputs("}\n", out);
    fflush(out);
    memset(&cur, 0, sizeof cur);
    ++hooks_seen;
}

/* The hook ran: what was counted since the previous hook belongs to one operator. */
static void hook_boundary(void)
{
    const uint64_t per_invoke = (uint64_t)num_ops + 1;
    const uint64_t pos = hooks_seen % per_invoke; /* the operator that starts now */
    if (pos > 0) {
        op_counts[pos - 1] = cur;
    }
    if (pos == num_ops) {
        write_invoke();
    }
    memset(&cur, 0, sizeof cur);
    ++hooks_seen;
}

static void on_block_exec(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    ek_block *b = userdata;
    ek_block *p = (ek_block *)prev_block;
    /* a taken branch into a 32-bit instruction that straddles two fetch words refills later */
    if (p != NULL && b->wide_unaligned && !model.dual_issue &&
        (p->end == END_UNCOND || (p->end == END_COND && b->vaddr != p->fallthrough))) {
        cur.cycles += (uint64_t)model.refill_wide_unaligned;
    }
    if (p != NULL && p->end == END_COND) {
        const int taken = b->vaddr != p->fallthrough;
        if (model.dual_issue) {
            const int predicted = p->counter >= 2;
            if (predicted != taken) {
                cur.cycles += (uint64_t)model.branch_mispredict;
                cur.mispredicts++;
            } else if (taken) {
                cur.cycles += (uint64_t)model.branch_uncond;
            }
            if (taken && p->counter < 3) {
                p->counter++;
            } else if (!taken && p->counter > 0) {
                p->counter--;
            }
        } else if (taken) {
            cur.cycles += (uint64_t)model.branch_refill;
        }
        cur.taken += (uint64_t)taken;
        p->taken_exits += (uint64_t)taken;
    }
    b->executions++;
    if (b->is_hook) {
        if (num_ops > 0) {
            hook_boundary();
        } else {
            hook_segment();
        }
    }
    if (memsys.active) {
        uint32_t covered = last_read_cycles;
        uint32_t c = 0;
        for (uint32_t r = 0; r < b->n_reads; ++r) {
            c += ek_memory_fetch_cost(&memsys, b->reads[r], covered);
            covered = b->read_cycles[r];
        }
        if (b->n_reads) {
            last_read_cycles = b->read_cycles[b->n_reads - 1];
        }
        cur.cycles += c;
        cur.memory += c;
    }
    cur.insns += b->n_insns;
    cur.cycles += b->cycles;
    cur.taken += b->taken_static;
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        cur.classes[c] += b->classes[c];
    }
    total.insns += b->n_insns; /* the whole run, for the summary at exit */
    prev_block = b;
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    if (out == NULL) {
        return;
    }
    fprintf(out, "{\"exit\": true, \"invokes\": %" PRIu64 ", \"hooks\": %" PRIu64
                 ", \"run_insns\": %" PRIu64 ", \"since_last_hook\": ",
            invokes, hooks_seen, total.insns);
    write_counts(&cur);
    if (memsys.active) {
        fprintf(out, ", \"memory\": {\"flash_data_reads\": %" PRIu64 ", \"flash_data_misses\": %" PRIu64
                     ", \"fetch_misses\": %" PRIu64 ", \"icache_hits\": %" PRIu64 ", \"dcache_hits\": %" PRIu64
                     ", \"stall_cycles\": %" PRIu64 "}",
                memsys.flash_data_reads, memsys.flash_data_misses, memsys.fetch_misses, memsys.icache.hits,
                memsys.dcache.hits, memsys.stall_cycles);
    }
    fputs("}\n", out);
    fclose(out);
    out = NULL;
    if (blocks_path != NULL) {
        FILE *f = fopen(blocks_path, "w");
        if (f != NULL) {
            for (const ek_block *b = all_blocks; b != NULL; b = b->next) {
                if (b->executions) {
                    fprintf(f, "0x%08" PRIx64 " %u %u %" PRIu64 " %" PRIu64 "\n", b->vaddr, b->n_insns, b->cycles,
                            b->executions, b->taken_exits);
                }
            }
            fclose(f);
        }
    }
}

EK_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                              char **argv)
{
    const char *model_path = NULL, *out_path = NULL, *mem_path = NULL;
    char err[512];
    (void)info;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (strncmp(a, "model=", 6) == 0) {
            model_path = a + 6;
        } else if (strncmp(a, "out=", 4) == 0) {
            out_path = a + 4;
        } else if (strncmp(a, "hook=", 5) == 0) {
            hook_addr = strtoull(a + 5, NULL, 0) & ~(uint64_t)1;
            have_hook = 1;
        } else if (strncmp(a, "blocks=", 7) == 0) {
            const size_t len = strlen(a + 7) + 1;
            blocks_path = malloc(len);
            if (blocks_path == NULL) {
                return -1;
            }
            memcpy(blocks_path, a + 7, len);
        } else if (strncmp(a, "mem=", 4) == 0) {
            mem_path = a + 4;
        } else if (strncmp(a, "ops=", 4) == 0) {
            num_ops = (uint32_t)strtoul(a + 4, NULL, 0);
        } else {
            snprintf(err, sizeof err, "edgekit cycles plugin: unknown argument %s\n", a);
            qemu_plugin_outs(err);
            return -1;
        }
    }
    if (model_path == NULL || out_path == NULL) {
        qemu_plugin_outs("edgekit cycles plugin: needs model=FILE and out=FILE\n");
        return -1;
    }
    if (load_model(model_path, &model, err, sizeof err) != 0) {
        qemu_plugin_outs("edgekit cycles plugin: ");
        qemu_plugin_outs(err);
        qemu_plugin_outs("\n");
        return -1;
    }
    if (mem_path != NULL && ek_memory_load(mem_path, &memsys, err, sizeof err) != 0) {
        qemu_plugin_outs("edgekit cycles plugin: ");
        qemu_plugin_outs(err);
        qemu_plugin_outs("\n");
        return -1;
    }
    if (have_hook && num_ops > 0) {
        op_counts = calloc(num_ops, sizeof *op_counts);
        if (op_counts == NULL) {
            return -1;
        }
    }
    out = fopen(out_path, "w");
    if (out == NULL) {
        snprintf(err, sizeof err, "edgekit cycles plugin: cannot write %s: %s\n", out_path, strerror(errno));
        qemu_plugin_outs(err);
        return -1;
    }
    fprintf(out, "{\"plugin\": \"edgekit-cycles\", \"core\": \"%s\", \"ops\": %u, \"classes\": [", model.core,
            (unsigned)num_ops);
    for (int c = 0; c < EK_CLS_COUNT; ++c) {
        fprintf(out, "%s\"%s\"", c ? ", " : "", ek_class_name(c));
    }
    fputs("]}\n", out);
    fflush(out);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}

/* ek_thumb.c -- Thumb / Thumb-2 decoding into timing classes (see ek_thumb.h). */
#include "ek_thumb.h"

#include <string.h>

#define R(n) ((uint16_t)(1u << (n)))
#define SP 13
#define LR 14
#define PC 15

static const char *const class_names[EK_CLS_COUNT] = {
    "alu", "mac", "simd", "div", "load", "store", "ldrd", "strd", "ldm", "stm",
    "branch", "it", "fp", "fp_load", "fp_store", "system",
};

const char *ek_class_name(int cls)
{
    return (cls >= 0 && cls < EK_CLS_COUNT) ? class_names[cls] : "?";
}

int ek_thumb_size(uint16_t hw1)
{
    const unsigned top5 = hw1 >> 11;
    return (top5 == 0x1D || top5 == 0x1E || top5 == 0x1F) ? 4 : 2;
}

static void set(ek_insn *d, int cls, uint16_t dst, uint16_t src)
{
    d->cls = (uint8_t)cls;
    d->dst = dst;
    d->src = src;
}

static int popcount16(uint16_t v)
{
    int n = 0;
    for (; v; v &= (uint16_t)(v - 1)) {
        ++n;
    }
    return n;
}

/* A register written as a destination: writing the PC makes the instruction a branch. */
static void pc_check(ek_insn *d)
{
    if (d->dst & R(PC)) {
        d->flags |= EK_F_PC_WRITE;
        if (d->cls == EK_CLS_ALU) {
            d->cls = EK_CLS_BRANCH;
        }
    }
}

/* ---------------------------------------------------------------------------- 16-bit */

static void load_store(ek_insn *d, int is_load, unsigned rt, uint16_t addr_regs)
{
    d->addr = addr_regs;
    if (is_load) {
        set(d, EK_CLS_LOAD, R(rt), addr_regs);
    } else {
        set(d, EK_CLS_STORE, 0, (uint16_t)(addr_regs | R(rt)));
    }
}

static void decode16(uint16_t h, ek_insn *d)
{
    const unsigned lo3 = h & 7u, mid3 = (h >> 3) & 7u, hi3 = (h >> 6) & 7u, r8 = (h >> 8) & 7u;

    if ((h & 0xE000) == 0x0000) {
        if ((h & 0x1800) != 0x1800) { /* LSL, LSR, ASR immediate */
            set(d, EK_CLS_ALU, R(lo3), R(mid3));
        } else if (h & 0x0400) { /* ADD/SUB 3-bit immediate */
            set(d, EK_CLS_ALU, R(lo3), R(mid3));
        } else { /* ADD/SUB register */
            set(d, EK_CLS_ALU, R(lo3), (uint16_t)(R(mid3) | R(hi3)));
        }
    } else if ((h & 0xE000) == 0x2000) { /* MOV, CMP, ADD, SUB 8-bit immediate */
        const unsigned op = (h >> 11) & 3u;
        if (op == 0) {
            set(d, EK_CLS_ALU, R(r8), 0);
        } else if (op == 1) {
            set(d, EK_CLS_ALU, 0, R(r8));
        } else {
            set(d, EK_CLS_ALU, R(r8), R(r8));
        }
    } else if ((h & 0xFC00) == 0x4000) { /* data processing, register */
        const unsigned op = (h >> 6) & 0xFu;
        const uint16_t both = (uint16_t)(R(lo3) | R(mid3));
        switch (op) {
        case 0x8: case 0xA: case 0xB: /* TST, CMP, CMN */
            set(d, EK_CLS_ALU, 0, both);
            break;
        case 0x9: case 0xF: /* RSB #0, MVN */
            set(d, EK_CLS_ALU, R(lo3), R(mid3));
            break;
        case 0xD: /* MUL */
            set(d, EK_CLS_MAC, R(lo3), both);
            break;
        case 0x2: case 0x3: case 0x4: case 0x7: /* shifts by register */
            set(d, EK_CLS_ALU, R(lo3), both);
            d->flags |= EK_F_SHIFTED;
            break;
        default:
            set(d, EK_CLS_ALU, R(lo3), both);
        }
    } else if ((h & 0xFC00) == 0x4400) { /* special data processing, branch and exchange */
        const unsigned op = (h >> 8) & 3u;
        const unsigned rd = (h & 7u) | ((h >> 4) & 8u), rm = (h >> 3) & 0xFu;
        if (op == 0) {
            set(d, EK_CLS_ALU, R(rd), (uint16_t)(R(rd) | R(rm)));
        } else if (op == 1) {
            set(d, EK_CLS_ALU, 0, (uint16_t)(R(rd) | R(rm)));
        } else if (op == 2) {
            set(d, EK_CLS_ALU, R(rd), R(rm));
        } else { /* BX, BLX */
            set(d, EK_CLS_BRANCH, (uint16_t)(R(PC) | ((h & 0x80) ? R(LR) : 0)), R(rm));
            if (h & 0x80) {
                d->flags |= EK_F_LINK;
            }
        }
        pc_check(d);
    } else if ((h & 0xF800) == 0x4800) { /* LDR literal */
        load_store(d, 1, r8, R(PC));
        d->flags |= EK_F_LITERAL;
    } else if ((h & 0xF000) == 0x5000) { /* load/store, register offset */
        const unsigned op = (h >> 9) & 7u;
        load_store(d, op >= 3, lo3, (uint16_t)(R(mid3) | R(hi3)));
        d->flags |= EK_F_REG_OFFSET;
    } else if ((h & 0xE000) == 0x6000 || (h & 0xF000) == 0x8000) { /* LDR/STR(B,H) 5-bit imm */
        load_store(d, (h >> 11) & 1u, lo3, R(mid3));
    } else if ((h & 0xF000) == 0x9000) { /* LDR/STR SP-relative */
        load_store(d, (h >> 11) & 1u, r8, R(SP));
    } else if ((h & 0xF800) == 0xA000) { /* ADR */
        set(d, EK_CLS_ALU, R(r8), R(PC));
    } else if ((h & 0xF800) == 0xA800) { /* ADD Rd, SP, #imm */
        set(d, EK_CLS_ALU, R(r8), R(SP));
    } else if ((h & 0xF000) == 0xB000) { /* miscellaneous */
        if ((h & 0xFF00) == 0xB000) { /* ADD/SUB SP, SP, #imm */
            set(d, EK_CLS_ALU, R(SP), R(SP));
        } else if ((h & 0xF500) == 0xB100) { /* CBZ, CBNZ */
            set(d, EK_CLS_BRANCH, R(PC), R(lo3));
            d->flags |= EK_F_PC_WRITE | EK_F_COND;
        } else if ((h & 0xFF00) == 0xB200) { /* SXTH, SXTB, UXTH, UXTB */
            set(d, EK_CLS_ALU, R(lo3), R(mid3));
            d->flags |= EK_F_SHIFTED;
        } else if ((h & 0xFE00) == 0xB400) { /* PUSH */
            const uint16_t list = (uint16_t)((h & 0xFF) | ((h & 0x100) ? R(LR) : 0));
            set(d, EK_CLS_STM, R(SP), (uint16_t)(list | R(SP)));
            d->addr = R(SP);
            d->wb = R(SP);
            d->transfers = (uint8_t)popcount16(list);
        } else if ((h & 0xFFE8) == 0xB660) { /* CPS */
            set(d, EK_CLS_SYSTEM, 0, 0);
        } else if ((h & 0xFF00) == 0xBA00) { /* REV, REV16, REVSH */
            set(d, EK_CLS_ALU, R(lo3), R(mid3));
        } else if ((h & 0xFE00) == 0xBC00) { /* POP */
            const uint16_t list = (uint16_t)((h & 0xFF) | ((h & 0x100) ? R(PC) : 0));
            set(d, EK_CLS_LDM, (uint16_t)(list | R(SP)), R(SP));
            d->addr = R(SP);
            d->wb = R(SP);
            d->transfers = (uint8_t)popcount16(list);
            pc_check(d);
        } else if ((h & 0xFF00) == 0xBF00 && (h & 0xF)) { /* IT */
            unsigned mask = h & 0xFu, n = 4;
            while (!(mask & 1u)) {
                mask >>= 1;
                --n;
            }
            set(d, EK_CLS_IT, 0, 0);
            d->it_count = (uint8_t)n;
        } else { /* hints, BKPT, unallocated */
            set(d, EK_CLS_SYSTEM, 0, 0);
        }
    } else if ((h & 0xF000) == 0xC000) { /* STM, LDM */
        const uint16_t list = (uint16_t)(h & 0xFF);
        d->addr = R(r8);
        d->transfers = (uint8_t)popcount16(list);
        if (h & 0x0800) {
            set(d, EK_CLS_LDM, (uint16_t)(list | ((list & R(r8)) ? 0 : R(r8))), R(r8));
            d->wb = (list & R(r8)) ? 0 : R(r8);
        } else {
            set(d, EK_CLS_STM, R(r8), (uint16_t)(list | R(r8)));
            d->wb = R(r8);
        }
    } else if ((h & 0xF000) == 0xD000) { /* B<cond>, UDF, SVC */
        const unsigned cond = (h >> 8) & 0xFu;
        if (cond >= 0xE) {
            set(d, EK_CLS_SYSTEM, 0, 0);
        } else {
            set(d, EK_CLS_BRANCH, R(PC), 0);
            d->flags |= EK_F_PC_WRITE | EK_F_COND;
        }
    } else if ((h & 0xF800) == 0xE000) { /* B */
        set(d, EK_CLS_BRANCH, R(PC), 0);
        d->flags |= EK_F_PC_WRITE;
    } else {
        set(d, EK_CLS_SYSTEM, 0, 0);
    }
}

/* ---------------------------------------------------------------------------- 32-bit */

/* The data-processing opcodes shared by the shifted-register and modified-immediate forms:
 * TST/TEQ/CMN/CMP (rd == 15 with S) write no register; MOV/MVN (rn == 15) read no rn. */
static void data_processing(ek_insn *d, unsigned op, unsigned s, unsigned rn, unsigned rd, uint16_t operand)
{
    const int compare = rd == PC && s && (op == 0x0 || op == 0x4 || op == 0x8 || op == 0xD);
    const int move = rn == PC && (op == 0x2 || op == 0x3);
    const uint16_t src = (uint16_t)(operand | (move ? 0 : R(rn)));
    set(d, EK_CLS_ALU, compare ? 0 : R(rd), src);
    pc_check(d);
}

static void decode_load_store_single(uint16_t h1, uint16_t h2, ek_insn *d)
{
    const unsigned rn = h1 & 0xFu, rt = h2 >> 12, size = (h1 >> 5) & 3u;
    const int is_load = (h1 >> 4) & 1u;
    uint16_t addr = R(rn), wb = 0;

    if (is_load && size == 3) {
        set(d, EK_CLS_SYSTEM, 0, 0);
        return;
    }
    if (rn == PC) {
        d->flags |= EK_F_LITERAL;
    } else if (h1 & 0x0080) {
        /* 12-bit immediate offset */
    } else if (h2 & 0x0800) { /* 8-bit immediate with P, U, W */
        if (h2 & 0x0100) {
            wb = R(rn);
        }
    } else if ((h2 & 0x0FC0) == 0) { /* register offset, LSL #0..3 */
        addr |= R(h2 & 0xFu);
        d->flags |= EK_F_REG_OFFSET;
    }
    d->addr = addr;
    d->wb = wb;
    if (is_load) {
        if (rt == PC && size != 2) { /* PLD, PLI: hints */
            set(d, EK_CLS_SYSTEM, 0, addr);
            d->addr = 0;
            return;
        }
        set(d, EK_CLS_LOAD, (uint16_t)(R(rt) | wb), addr);
        pc_check(d);
    } else {
        set(d, EK_CLS_STORE, wb, (uint16_t)(addr | R(rt)));
    }
}

static void decode_dual_exclusive_table(uint16_t h1, uint16_t h2, ek_insn *d)
{
    const unsigned o1 = (h1 >> 7) & 3u, o2 = (h1 >> 4) & 3u, o3 = (h2 >> 4) & 0xFu;
    const unsigned rn = h1 & 0xFu, rt = h2 >> 12, rt2 = (h2 >> 8) & 0xFu, rd = h2 & 0xFu;
    const uint16_t wb = (h1 & 0x0020) ? R(rn) : 0;

    d->addr = R(rn);
    if (o1 == 0 && o2 == 0) { /* STREX */
        set(d, EK_CLS_STORE, R(rt2), (uint16_t)(R(rn) | R(rt)));
    } else if (o1 == 0 && o2 == 1) { /* LDREX */
        set(d, EK_CLS_LOAD, R(rt), R(rn));
    } else if (((o1 & 2) == 0 && o2 == 2) || ((o1 & 2) && (o2 & 1) == 0)) { /* STRD */
        set(d, EK_CLS_STRD, wb, (uint16_t)(R(rn) | R(rt) | R(rt2)));
        d->wb = wb;
        d->transfers = 2;
    } else if (((o1 & 2) == 0 && o2 == 3) || ((o1 & 2) && (o2 & 1))) { /* LDRD */
        set(d, EK_CLS_LDRD, (uint16_t)(R(rt) | R(rt2) | wb), R(rn));
        d->wb = wb;
        d->transfers = 2;
        if (rn == PC) {
            d->flags |= EK_F_LITERAL;
        }
    } else if (o1 == 1 && o2 == 0) { /* STREXB, STREXH */
        set(d, EK_CLS_STORE, R(rd), (uint16_t)(R(rn) | R(rt)));
    } else if (o3 == 0 || o3 == 1) { /* TBB, TBH */
        set(d, EK_CLS_BRANCH, R(PC), (uint16_t)(R(rn) | R(rd)));
        d->addr = (uint16_t)(R(rn) | R(rd));
        d->flags |= EK_F_PC_WRITE | EK_F_TABLE;
    } else { /* LDREXB, LDREXH */
        set(d, EK_CLS_LOAD, R(rt), R(rn));
    }
}

static void decode_coprocessor(uint16_t h1, uint16_t h2, ek_insn *d)
{
    const unsigned op1 = (h1 >> 4) & 0x3Fu, rn = h1 & 0xFu, rt = h2 >> 12;

    if ((op1 & 0x3A) == 0 ) { /* 00000x, 00010x: undefined, MCRR/MRRC (VMOV two core registers) */
        if ((op1 & 0x3E) == 0x04) {
            const unsigned rt2 = h1 & 0xFu;
            if (op1 & 1) {
                set(d, EK_CLS_FP, (uint16_t)(R(rt) | R(rt2)), 0);
            } else {
                set(d, EK_CLS_FP, 0, (uint16_t)(R(rt) | R(rt2)));
            }
        } else {
            set(d, EK_CLS_SYSTEM, 0, 0);
        }
    } else if ((op1 & 0x20) == 0) { /* LDC/STC: VLDR, VSTR, VLDM, VSTM, VPUSH, VPOP */
        const int load = op1 & 1u, p = (op1 >> 4) & 1u, w = (op1 >> 1) & 1u;
        const unsigned imm8 = h2 & 0xFFu, dbl = ((h2 >> 8) & 0xFu) == 11;
        const uint16_t wb = w ? R(rn) : 0;
        d->addr = R(rn);
        d->wb = wb;
        if (p && !w) { /* VLDR, VSTR */
            d->transfers = (uint8_t)(dbl ? 2 : 1);
        } else {
            d->transfers = (uint8_t)imm8; /* words: 2 per double register */
            d->flags |= EK_F_MULTI;
        }
        if (load) {
            set(d, EK_CLS_FP_LOAD, wb, R(rn));
        } else {
            set(d, EK_CLS_FP_STORE, wb, R(rn));
        }
        if (rn == PC) {
            d->flags |= EK_F_LITERAL;
        }
    } else if ((op1 & 0x30) == 0x20 && (h2 & 0x10)) { /* MCR, MRC: VMOV core <-> S, VMRS, VMSR */
        if (op1 & 1) {
            set(d, EK_CLS_FP, rt == PC ? 0 : R(rt), 0); /* VMRS APSR_nzcv writes only the flags */
        } else {
            set(d, EK_CLS_FP, 0, R(rt));
        }
    } else { /* CDP: floating-point data processing */
        set(d, EK_CLS_FP, 0, 0);
    }
}

static void decode32(uint16_t h1, uint16_t h2, ek_insn *d)
{
    const unsigned rn = h1 & 0xFu, rd = (h2 >> 8) & 0xFu, rm = h2 & 0xFu, ra = h2 >> 12;

    d->size = 4;
    if ((h1 & 0xF800) == 0xE800) { /* op1 = 01 */
        if ((h1 & 0x0640) == 0x0000) { /* load/store multiple */
            const uint16_t list = h2;
            const uint16_t wb = (h1 & 0x0020) ? R(rn) : 0;
            d->addr = R(rn);
            d->wb = wb;
            d->transfers = (uint8_t)popcount16(list);
            if (h1 & 0x0010) {
                set(d, EK_CLS_LDM, (uint16_t)(list | wb), R(rn));
                pc_check(d);
            } else {
                set(d, EK_CLS_STM, wb, (uint16_t)(list | R(rn)));
            }
        } else if ((h1 & 0x0640) == 0x0040) {
            decode_dual_exclusive_table(h1, h2, d);
        } else if ((h1 & 0x0600) == 0x0200) { /* data processing, shifted register */
            const unsigned op = (h1 >> 5) & 0xFu, s = (h1 >> 4) & 1u;
            const unsigned imm = ((h2 >> 10) & 0x1Cu) | ((h2 >> 6) & 3u), type = (h2 >> 4) & 3u;
            if (op == 0x6) { /* PKHBT, PKHTB */
                set(d, EK_CLS_SIMD, R(rd), (uint16_t)(R(rn) | R(rm)));
                d->flags |= EK_F_DSP;
            } else {
                data_processing(d, op, s, rn, rd, R(rm));
            }
            if (imm != 0 || type != 0) {
                d->flags |= EK_F_SHIFTED;
            }
        } else { /* coprocessor */
            decode_coprocessor(h1, h2, d);
        }
    } else if ((h1 & 0xF800) == 0xF000) { /* op1 = 10 */
        if ((h2 & 0x8000) == 0) {
            if ((h1 & 0x0200) == 0) { /* data processing, modified immediate */
                const unsigned op = (h1 >> 5) & 0xFu, s = (h1 >> 4) & 1u;
                data_processing(d, op, s, rn, rd, 0);
                if ((h1 & 0x0400) || (h2 & 0x7000)) { /* rotated or replicated constant */
                    d->flags |= EK_F_SHIFTED;
                }
            } else { /* data processing, plain binary immediate */
                const unsigned op = (h1 >> 4) & 0x1Fu;
                const int sat16 = (op == 0x12 || op == 0x1A) && (h2 & 0x70C0) == 0;
                switch (op) {
                case 0x04: /* MOVW */
                    set(d, EK_CLS_ALU, R(rd), 0);
                    break;
                case 0x0C: /* MOVT */
                    set(d, EK_CLS_ALU, R(rd), R(rd));
                    break;
                case 0x16: /* BFI, BFC */
                    set(d, EK_CLS_ALU, R(rd), (uint16_t)(R(rd) | (rn == PC ? 0 : R(rn))));
                    d->flags |= EK_F_SHIFTED;
                    break;
                case 0x14: case 0x1C: /* SBFX, UBFX */
                    set(d, EK_CLS_ALU, R(rd), R(rn));
                    d->flags |= EK_F_SHIFTED;
                    break;
                default: /* ADDW, SUBW, ADR, SSAT, USAT, SSAT16, USAT16 */
                    set(d, sat16 ? EK_CLS_SIMD : EK_CLS_ALU, R(rd), rn == PC ? R(PC) : R(rn));
                    if (op >= 0x10) {
                        d->flags |= EK_F_DSP;
                    }
                }
                pc_check(d);
            }
        } else { /* branches and miscellaneous control */
            const unsigned op = (h2 >> 12) & 7u;
            if ((op & 5u) == 0) {
                if (((h1 >> 7) & 7u) != 7u) { /* B<cond> */
                    set(d, EK_CLS_BRANCH, R(PC), 0);
                    d->flags |= EK_F_PC_WRITE | EK_F_COND;
                } else if ((h1 & 0xFFF0) == 0xF3E0) { /* MRS */
                    set(d, EK_CLS_SYSTEM, R(rd), 0);
                } else if ((h1 & 0xFFE0) == 0xF380) { /* MSR */
                    set(d, EK_CLS_SYSTEM, 0, R(rn));
                } else { /* hints, barriers, CLREX, UDF */
                    set(d, EK_CLS_SYSTEM, 0, 0);
                }
            } else if ((op & 5u) == 1u) { /* B.W */
                set(d, EK_CLS_BRANCH, R(PC), 0);
                d->flags |= EK_F_PC_WRITE;
            } else if ((op & 5u) == 5u) { /* BL */
                set(d, EK_CLS_BRANCH, (uint16_t)(R(PC) | R(LR)), 0);
                d->flags |= EK_F_PC_WRITE | EK_F_LINK;
            } else { /* BLX immediate: not in ARMv7-M */
                set(d, EK_CLS_SYSTEM, 0, 0);
            }
        }
    } else { /* op1 = 11 */
        if ((h1 & 0xFE00) == 0xF800 && ((h1 & 0x0010) || (h1 & 0x0100) == 0)) {
            decode_load_store_single(h1, h2, d);
        } else if ((h1 & 0xFF00) == 0xFA00) { /* data processing, register */
            const unsigned op1 = (h1 >> 4) & 0xFu, op2 = (h2 >> 4) & 0xFu;
            if (op1 < 8 && op2 == 0) { /* LSL, LSR, ASR, ROR by register */
                set(d, EK_CLS_ALU, R(rd), (uint16_t)(R(rn) | R(rm)));
                d->flags |= EK_F_SHIFTED;
            } else if (op1 < 8 && (op2 & 8u)) { /* extend, extend and add */
                const int b16 = op1 == 2 || op1 == 3;
                set(d, b16 ? EK_CLS_SIMD : EK_CLS_ALU, R(rd), (uint16_t)(R(rm) | (rn == PC ? 0 : R(rn))));
                d->flags |= EK_F_SHIFTED | (b16 ? EK_F_DSP : 0);
            } else if (op1 >= 8 && (op2 & 0xCu) != 0x8u) { /* parallel add/subtract */
                set(d, EK_CLS_SIMD, R(rd), (uint16_t)(R(rn) | R(rm)));
                d->flags |= EK_F_DSP;
            } else if (op1 == 8 || op1 == 0xA) { /* QADD, QDADD, QSUB, QDSUB; SEL */
                set(d, EK_CLS_SIMD, R(rd), (uint16_t)(R(rn) | R(rm)));
                d->flags |= EK_F_DSP;
            } else if (op1 == 9 || op1 == 0xB) { /* REV, REV16, RBIT, REVSH; CLZ */
                set(d, EK_CLS_ALU, R(rd), R(rm));
            } else {
                set(d, EK_CLS_SYSTEM, 0, 0);
            }
        } else if ((h1 & 0xFF80) == 0xFB00) { /* multiply, multiply accumulate, absolute difference */
            const unsigned op1 = (h1 >> 4) & 7u;
            const uint16_t src = (uint16_t)(R(rn) | R(rm) | (ra == PC ? 0 : R(ra)));
            set(d, op1 == 7 ? EK_CLS_SIMD : EK_CLS_MAC, R(rd), src);
            if (op1 != 0) {
                d->flags |= EK_F_DSP;
            }
        } else if ((h1 & 0xFF80) == 0xFB80) { /* long multiply, long MAC, divide */
            const unsigned op1 = (h1 >> 4) & 7u, op2 = (h2 >> 4) & 0xFu;
            if (op2 == 0xF && (op1 == 1 || op1 == 3)) {
                set(d, EK_CLS_DIV, R(rd), (uint16_t)(R(rn) | R(rm)));
            } else {
                const int acc = op1 >= 4;
                const uint16_t pair = (uint16_t)(R(ra) | R(rd));
                set(d, EK_CLS_MAC, pair, (uint16_t)(R(rn) | R(rm) | (acc ? pair : 0)));
                if (op1 == 4 ? op2 != 0 : (op1 == 5)) { /* SMLALxy, SMLALD, SMLSLD */
                    d->flags |= EK_F_DSP;
                }
            }
        } else if ((h1 & 0xFC00) == 0xFC00) {
            decode_coprocessor(h1, h2, d);
        } else {
            set(d, EK_CLS_SYSTEM, 0, 0);
        }
    }
}

int ek_thumb_decode(uint16_t hw1, uint16_t hw2, ek_insn *out)
{
    memset(out, 0, sizeof *out);
    if (ek_thumb_size(hw1) == 2) {
        out->size = 2;
        decode16(hw1, out);
    } else {
        decode32(hw1, hw2, out);
    }
    return out->size;
}

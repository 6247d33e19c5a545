/* ek_thumb.h -- Thumb / Thumb-2 (ARMv7E-M) instruction decoding into timing classes.
 *
 * The decoder looks at one instruction's halfwords and says what a cycle model needs: the
 * class (ALU, load, store, multiply/MAC, DSP SIMD, branch, load/store multiple, ...), how many
 * registers a load/store multiple moves, which registers it reads, writes, and computes an
 * address from, and a few properties (writes the PC, conditional, register-offset store,
 * shifted operand). Encodings follow the ARMv7-M Architecture Reference Manual, chapter A5
 * ("The Thumb Instruction Set Encoding"). Floating-point and coprocessor instructions are
 * classified coarsely (data processing, load, store, load/store multiple).
 */
#ifndef EK_THUMB_H
#define EK_THUMB_H

#include <stdint.h>

enum ek_class {
    EK_CLS_ALU,      /* data processing, moves, shifts, compares, extends, bitfields, SSAT/USAT */
    EK_CLS_MAC,      /* MUL, MLA, MLS, SMULL, SMLAL, SMLAD, SMLAxy, SMMLA, ... */
    EK_CLS_SIMD,     /* other DSP: SXTB16, SXTAB16, parallel add/sub, QADD, SEL, PKH, SSAT16, USAD8 */
    EK_CLS_DIV,      /* SDIV, UDIV */
    EK_CLS_LOAD,     /* one register loaded: LDR, LDRB, LDRH, LDRSB, LDRSH, LDREX */
    EK_CLS_STORE,    /* one register stored: STR, STRB, STRH, STREX */
    EK_CLS_LDRD,     /* LDRD */
    EK_CLS_STRD,     /* STRD */
    EK_CLS_LDM,      /* LDM, POP */
    EK_CLS_STM,      /* STM, PUSH */
    EK_CLS_BRANCH,   /* B, BL, BX, BLX, CBZ, CBNZ, TBB, TBH, and data processing that writes the PC */
    EK_CLS_IT,       /* IT */
    EK_CLS_FP,       /* floating-point data processing and register moves */
    EK_CLS_FP_LOAD,  /* VLDR, VLDM, VPOP */
    EK_CLS_FP_STORE, /* VSTR, VSTM, VPUSH */
    EK_CLS_SYSTEM,   /* hints, barriers, MSR/MRS, CPS, SVC, BKPT, UDF, unallocated */
    EK_CLS_COUNT
};

/* flags */
#define EK_F_PC_WRITE 0x01u   /* the instruction writes the PC (a branch of some kind) */
#define EK_F_COND 0x02u       /* conditional branch (B<cond>, CBZ, CBNZ); IT blocks are tracked by the caller */
#define EK_F_REG_OFFSET 0x04u /* load/store with a register offset */
#define EK_F_SHIFTED 0x08u    /* shifted register or rotated immediate operand, extend, bitfield */
#define EK_F_LITERAL 0x10u    /* PC-relative load */
#define EK_F_DSP 0x20u        /* DSP extension instruction (SIMD, saturating, DSP multiplies) */
#define EK_F_LINK 0x40u       /* BL, BLX: a call */
#define EK_F_TABLE 0x80u      /* TBB, TBH */
#define EK_F_MULTI 0x100u     /* VLDM, VSTM, VPUSH, VPOP (not VLDR, VSTR) */

typedef struct {
    uint8_t cls;       /* enum ek_class */
    uint8_t size;      /* bytes: 2 or 4 */
    uint8_t transfers; /* LDM/STM/PUSH/POP: registers; VLDM/VSTM: 32-bit words; LDRD/STRD: 2 */
    uint8_t it_count;  /* IT: instructions in the IT block (1..4) */
    uint16_t flags;    /* EK_F_* */
    uint16_t dst;      /* registers written, bit n = Rn (bit 15 = PC) */
    uint16_t src;      /* registers read */
    uint16_t addr;     /* registers a memory address is computed from */
    uint16_t wb;       /* base registers written back (post/pre-indexed, LDM/STM with !, PUSH, POP) */
} ek_insn;

/* Size in bytes of the instruction whose first halfword is hw1: 2 or 4. */
int ek_thumb_size(uint16_t hw1);

/* Decode the instruction starting with hw1 (hw2 is its second halfword for 32-bit encodings,
 * ignored otherwise). Returns the size in bytes. */
int ek_thumb_decode(uint16_t hw1, uint16_t hw2, ek_insn *out);

/* Short name of a class ("alu", "load", ...). */
const char *ek_class_name(int cls);

#endif /* EK_THUMB_H */

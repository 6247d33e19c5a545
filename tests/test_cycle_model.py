"""The QEMU cycle plugin: decoding, and estimates checked against cycle counts worked out by hand.

1. Decoding: every instruction of a real firmware (disassembled by arm-none-eabi-objdump) is
   classified by the plugin's decoder; the class must match the one the mnemonic implies.
2. Cortex-M4: small loops in assembly, run under QEMU (mps2-an386) with the plugin. Their
   cycle counts follow from ARM's Cortex-M4 TRM by hand (table "Processor instruction set
   summary" and section "Load/store timings"); each expectation below is written out
   instruction by instruction. P, the pipeline refill of a taken branch (1..3 in the TRM), is
   the model's choice, read from the timing file. The estimate must be within 5%.
3. Cortex-M7 (mps2-an500): the same loops' cost per iteration under the documented dual-issue
   rules of cortex-m7.cycles, worked out by hand; N and 2N iterations are run and differenced.
4. On a generated model, the plugin's instruction count per operator equals what the harness
   measures with QEMU's instruction-counting clock (TIMER0 ticks x 40).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.files import QEMU_PLUGIN
from edgekit.target import cycles

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc")

ROOT = Path(__file__).resolve().parents[1]


def timing(cpu: str) -> dict[str, int]:
    out = {}
    for line in cycles.timing_file(cpu).read_text().splitlines():
        parts = line.split("#")[0].split()
        if len(parts) == 2 and parts[0] != "core":
            out[parts[0]] = int(parts[1])
    return out


# ---------------------------------------------------------------------------- 1. decoding

_SYSTEM = {"nop", "wfi", "wfe", "sev", "yield", "dmb", "dsb", "isb", "msr", "mrs", "cpsid", "cpsie",
           "svc", "bkpt", "udf", "pld", "pli", "clrex"}
_MAC = re.compile(r"^(mul|mla|mls|smull|umull|smlal|umlal|umaal|sml[as]l?d|smu[as]d|smla[bt][bt]|"
                  r"smlaw[bt]|smul[bt][bt]|smulw[bt]|smm(la|ul|ls)|smlal[bt][bt])")
_SIMD = re.compile(r"^(sxtab16|sxtb16|uxtab16|uxtb16|pkh|ssat16|usat16|usada?8|sel|q(d?add|d?sub|asx|sax)|"
                   r"[su]h?(add|sub)(8|16)|[su]h?(asx|sax)|uq(add|sub|asx|sax))")


def expected_class(mnemonic: str, operands: str) -> str:
    m = mnemonic.split(".")[0]
    if m.startswith("it") and len(m) <= 5 and set(m[2:]) <= {"t", "e"}:
        return "it"
    if m.startswith("v"):
        if m.startswith(("vldr", "vldm", "vpop")):
            return "fp_load"
        if m.startswith(("vstr", "vstm", "vpush")):
            return "fp_store"
        return "fp"
    if _SIMD.match(m):
        return "simd"
    if _MAC.match(m):
        return "mac"
    if m in ("sdiv", "udiv"):
        return "div"
    if m.startswith(("ldrd",)):
        return "ldrd"
    if m.startswith(("strd",)):
        return "strd"
    if m.startswith(("ldm", "pop")):
        return "ldm"
    if m.startswith(("stm", "push")):
        return "stm"
    if m.startswith("ldr"):
        return "load"
    if m.startswith("str"):
        return "store"
    if re.match(r"^(b|bl|bx|blx|cbn?z|tb[bh])(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?$", m):
        return "branch"
    if re.match(r"^(mov|add)", m) and re.match(r"^\s*pc\b", operands):
        return "branch"
    base = re.sub(r"(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)$", "", m)
    if m in _SYSTEM or base in _SYSTEM:
        return "system"
    return "alu"


@pytest.fixture(scope="module")
def decoder_tool(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("decoder") / "ek_thumb_tool"
    d = QEMU_PLUGIN
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{d}",
                    str(d / "ek_thumb_tool.c"), str(d / "ek_thumb.c"), "-o", str(exe)], check=True)
    return exe


def disassemble(obj: Path) -> list[tuple[str, str, str]]:
    """(hex halfwords, mnemonic, operands) of every instruction, skipping literal data."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True,
                          check=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*[0-9a-f]+:\s+([0-9a-f]{4}(?: [0-9a-f]{4})?)\s+(\S+)\s*(.*)$", line)
        if m and not m.group(2).startswith("."):
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def test_decoder_classifies_compiled_kernels_like_the_disassembler(decoder_tool, tmp_path):
    """Every instruction gcc emits for the kernels (Cortex-M4 with FPU, -O2 and -Os)."""
    from edgekit.files import FIRMWARE

    srcs = sorted((FIRMWARE / "kernels").glob("*.c")) + sorted((FIRMWARE / "kernels" / "dsp").glob("*.c"))
    rows = []
    for opt in ("-O2", "-Os"):
        for src in srcs:
            obj = tmp_path / f"{src.stem}{opt}.o"
            subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                            "-mfloat-abi=hard", opt, f"-I{FIRMWARE / 'kernels'}", "-c", str(src), "-o", str(obj)],
                           check=True)
            rows += disassemble(obj)
    assert len(rows) > 2000
    out = subprocess.run([str(decoder_tool)], input="\n".join(r[0] for r in rows), capture_output=True,
                         text=True, check=True).stdout.splitlines()
    wrong = [(hx, mn, ops, got.split()[0]) for (hx, mn, ops), got in zip(rows, out)
             if got.split()[0] != expected_class(mn, ops)]
    assert not wrong, f"{len(wrong)} of {len(rows)} misclassified, e.g. {wrong[:8]}"


CASES_ASM = """
    adds r1, r2, r3
    ldr r0, [r1, r2, lsl #2]
    str.w r0, [r1, #-4]!
    ldrsb.w r3, [r4], #1
    smlad r5, r2, r6, r5
    sxtb16 r3, r1, ror #8
    ldmia.w r4!, {r1, r2, r3, r8}
    pop {r4, r5, pc}
    push {r4-r7, lr}
    ldrd r1, r2, [r6, #8]
    strd r1, r2, [r6], #8
    cbz r1, 1f
    tbb [pc, r2]
1:  sdiv r0, r1, r2
    smull r0, r1, r2, r3
    smlal r0, r1, r2, r3
    pkhbt r0, r1, r2, lsl #16
    ssat r0, #8, r1
    vldmia r0!, {s0-s3}
    vpush {d8}
    ldr pc, [sp], #4
"""
# class, transfers, dst registers, address registers
CASES_EXPECT = [
    ("alu", 0, {1}, set()), ("load", 0, {0}, {1, 2}), ("store", 0, {1}, {1}), ("load", 0, {3, 4}, {4}),
    ("mac", 0, {5}, set()), ("simd", 0, {3}, set()), ("ldm", 4, {1, 2, 3, 8, 4}, {4}),
    ("ldm", 3, {4, 5, 13, 15}, {13}), ("stm", 5, {13}, {13}), ("ldrd", 2, {1, 2}, {6}), ("strd", 2, {6}, {6}),
    ("branch", 0, {15}, set()), ("branch", 0, {15}, {15, 2}), ("div", 0, {0}, set()), ("mac", 0, {0, 1}, set()),
    ("mac", 0, {0, 1}, set()), ("simd", 0, {0}, set()), ("alu", 0, {0}, set()), ("fp_load", 4, {0}, {0}),
    ("fp_store", 2, {13}, {13}), ("load", 0, {13, 15}, {13}),
]


def test_decoder_fields(decoder_tool, tmp_path):
    src = tmp_path / "cases.s"
    src.write_text(".syntax unified\n.thumb\n.text\n" + CASES_ASM)
    obj = tmp_path / "cases.o"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-c", str(src),
                    "-o", str(obj)], check=True)
    rows = disassemble(obj)
    assert len(rows) == len(CASES_EXPECT)
    out = subprocess.run([str(decoder_tool)], input="\n".join(r[0] for r in rows), capture_output=True,
                         text=True, check=True).stdout.splitlines()
    regs = lambda v: {r for r in range(16) if int(v, 16) >> r & 1}  # noqa: E731
    for (hx, mn, ops), line, (cls, n, dst, addr) in zip(rows, out, CASES_EXPECT):
        got_cls, _size, got_n, _flags, got_dst, _src, got_addr = line.split()
        assert (got_cls, int(got_n), regs(got_dst), regs(got_addr)) == (cls, n, dst, addr), f"{mn} {ops}"


# ---------------------------------------------------------------------------- 2./3. loops


@dataclass(frozen=True)
class Loop:
    """A measured region: ``setup`` then ``body`` repeated ``n`` times by ``subs r0, #1; bne``.

    ``m4_setup`` / ``m4_iteration``: Cortex-M4 cycles of the setup and of one pass through the
    body including ``subs`` and the ``bne`` not taken (its refill P is added per taken branch);
    ``m4_refills_per_iteration``: taken branches inside the body (calls, returns).
    ``m7_iteration``: one steady-state pass under cortex-m7.cycles' rules.
    """

    name: str
    setup: str
    body: str
    m4_setup: int
    m4_iteration: int
    m4_refills_per_iteration: int
    m7_iteration: int

    def asm(self, n: int) -> str:
        return (f"    @ {self.name}\n{self.setup.format(n=n)}\n    .global {self.head(n)}\n{self.head(n)}:\n1:\n"
                f"{self.body}\n    subs r0, #1\n    bne 1b\n")

    def head(self, n: int) -> str:
        """The symbol of the loop's first instruction (where its bne lands)."""
        return f"head_{self.name}_{n}"


BASE = "    movw r4, #0\n    movt r4, #0x2000\n"  # r4 = start of RAM
LOOPS = [
    # movs x3 = 3 | adds 1, eors 1, subs 1, bne 1 = 4
    # M7: adds | eors+subs (paired) | bne = 3 (flags are no pairing hazard)
    Loop("alu", "    movs r0, #{n}\n    movs r1, #0\n    movs r2, #3",
         "    adds r1, r1, r2\n    eors r3, r1", 3, 4, 0, 3),
    # movw, movt, movs = 3 | ldr 2, ldr 1 and ldr 1 (pipelined after a load), adds 1, subs 1, bne 1 = 7
    # M7: ldr | ldr | ldr | adds+subs (r2 ready 2 cycles after its load) | bne = 5
    Loop("loads_pipelined", BASE + "    movs r0, #{n}",
         "    ldr r1, [r4]\n    ldr r2, [r4, #4]\n    ldr r3, [r4, #8]\n    adds r1, r2", 3, 7, 0, 5),
    # movw, movt, movs = 3 | ldr 2, ldr 1, ldr 1 (pipelined: the base a load writes back is not
    # its destination), adds 1, subs 1, bne 1 = 7
    # M7: ldr | ldr | ldr | adds+subs (r2 ready 2 cycles after its load) | bne = 5
    Loop("post_index_loads", BASE + "    movs r0, #{n}",
         "    ldr r1, [r4], #4\n    ldr r2, [r4], #4\n    ldr r3, [r4], #4\n    adds r1, r2", 3, 7, 0, 5),
    # movw, movt = 2, str [r4] 1 + 1 (address from the preceding movt), movs 1 = 5
    # | ldr 2, ldr 2 (its address is the first load's result: not pipelined), subs 1, bne 1 = 6
    # M7: ldr | (wait for r1) | ldr | subs | bne: ldr@0, ldr@2 (r1 ready at 2), subs pairs@2, bne@3 = 4
    Loop("dependent_load", BASE + "    str r4, [r4]\n    movs r0, #{n}",
         "    ldr r1, [r4]\n    ldr r2, [r1, #4]", 5, 6, 0, 4),
    # movw, movt, movs, movs = 4 | adds 1, str 1 + 1 (address from adds), ldr 2 (after a store:
    # not pipelined), subs 1, bne 1 = 7
    # M7: adds | str | ldr (one memory op per cycle) + subs | bne = 4
    Loop("address_stall", BASE + "    movs r0, #{n}\n    movs r1, #0",
         "    adds r4, #4\n    str r1, [r4]\n    ldr r2, [r4, #8]", 4, 7, 0, 4),
    # movw, movt, movs, movs, movw, movt, movs = 7 | ldr 2, sxtb16 1, sxtb16 1, smlad 1, smlad 1,
    # subs 1, bne 1 = 8
    # M7: ldr | - | sxtb16 | sxtb16 | smlad | smlad+subs | bne = 7 (r1 ready 2 cycles after the
    # load; DSP instructions never issue second)
    Loop("dsp_mac", BASE + "    movs r5, #0\n    movs r7, #0\n    movw r6, #1\n    movt r6, #1\n    movs r0, #{n}",
         "    ldr r1, [r4], #4\n    sxtb16 r2, r1\n    sxtb16 r3, r1, ror #8\n"
         "    smlad r5, r2, r6, r5\n    smlad r7, r3, r6, r7", 7, 8, 0, 7),
    # movw x2, movt x2, movs = 5 | ldm 1 + 3, stm 1 + 3, subs 1, bne 1 = 10
    # M7: ldm 1 + 2, stm 1 + 2 (multi-cycle: never paired), subs+bne = 7
    Loop("ldm_stm", BASE + "    movw r5, #0x100\n    movt r5, #0x2000\n    movs r0, #{n}",
         "    ldmia r4, {r1, r2, r3}\n    stmia.w r5, {r1, r2, r3}", 5, 10, 0, 7),
    # movs = 1 | bl 1 + P, adds 1, bx 1 + P, subs 1, bne 1 = 5 + 2P
    # M7: bl | adds+bx | subs+bne = 3 (a branch may issue second; predicted branches cost no more)
    Loop("call_return", "    movs r0, #{n}", "    bl leaf", 1, 5, 2, 3),
    # movw x2, movt x2, movs x2 = 6 | ldr [r4, r2] 2, str [r5, r2] 2 - 1 (pipelined after the
    # load), adds 1, subs 1, bne 1 = 6
    # M7: ldr@0, str@2 (r1 ready 2 cycles after the load) with adds, subs+bne@3 = 4
    Loop("load_store_register_offset", BASE + "    movw r5, #0x200\n    movt r5, #0x2000\n    movs r2, #0\n"
         "    movs r0, #{n}",
         "    ldr r1, [r4, r2]\n    str r1, [r5, r2]\n    adds r2, #4", 6, 6, 0, 4),
    # movs x2 = 2 | cmp 1, beq 1 (never taken), adds 1, subs 1, bne 1 = 5
    # M7: cmp+beq | adds+subs | bne = 3 (the never-taken beq's predictor settles at not taken
    # after one misprediction, counted in the first pass only)
    Loop("not_taken", "    movs r0, #{n}\n    movs r1, #0",
         "    cmp r0, #250\n    beq 2f\n    adds r1, #1\n2:", 2, 5, 0, 3),
    # movw, movt, movs = 3 | push 1 + 2, pop 1 + 2, ldrd 3, subs 1, bne 1 = 11
    # M7: push 1 + 1, pop 1 + 1, ldrd 1, subs pairs with ldrd, bne = 2 + 2 + 1 + 1 = 6
    Loop("push_pop_ldrd", "    movw r6, #0\n    movt r6, #0x2000\n    movs r0, #{n}",
         "    push {r4, r5}\n    pop {r4, r5}\n    ldrd r1, r2, [r6]", 3, 11, 0, 6),
    # movw, movt, adr, orr, str 1 (its address is r4, not the orr's result), movs = 6
    # | ldr 2, ldr pc 2 + 3 (a load to the PC blocks: never pipelined, three cycles of reload,
    # not P), subs 1, bne 1 = 9
    # M7: ldr | ldr pc (one memory op per cycle) | subs+bne (nothing pairs after a PC write) = 3
    Loop("load_pc", BASE + "    adr r3, 2f\n    orr r3, r3, #1\n    str r3, [r4, #4]\n    movs r0, #{n}",
         "    ldr r1, [r4]\n    ldr pc, [r4, #4]\n2:", 6, 9, 0, 3),
    # movs x3 = 3 | cmp 1, it 1, movlt 1, adds 1, subs 1, bne 1 = 6
    # M7: cmp | it | movlt+adds | subs+bne = 4 (IT never pairs)
    Loop("it_block", "    movs r0, #{n}\n    movs r1, #5\n    movs r2, #7",
         "    cmp r1, r2\n    it lt\n    movlt r1, r2\n    adds r2, #1", 3, 6, 0, 4),
]


def marked_program(regions: list[str]) -> str:
    """A bare-metal image: each region (assembly) between two calls of ek_mark, then a semihosting
    exit; ``leaf`` is a function the regions may call."""
    body = "\n    bl ek_mark\n".join(regions)
    return f"""    .syntax unified
    .thumb
    .text
    .word 0x20010000
    .word _start
    .thumb_func
    .global _start
_start:
    bl ek_mark
{body}
    bl ek_mark
    movs r0, #0x18          @ semihosting SYS_EXIT
    movw r1, #0x0026        @ ADP_Stopped_ApplicationExit
    movt r1, #0x2
    bkpt 0xab
3:  b 3b
    .thumb_func
ek_mark:
    bx lr
    .thumb_func
leaf:
    adds r1, #1
    bx lr
"""


def run_marked(cpu: str, machine: str, regions: list[str], tmp_path: Path) -> tuple[list, Path]:
    """Build ``marked_program(regions)`` and run it under QEMU with the cycle plugin: each region's
    counts, and the ELF."""
    src = tmp_path / "regions.s"
    src.write_text(marked_program(regions))
    elf = tmp_path / "regions.elf"
    subprocess.run(["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-nostdlib", "-nostartfiles",
                    "-Wl,-Ttext=0x0", "-Wl,--entry=_start", str(src), "-o", str(elf)], check=True)
    out = tmp_path / "cycles.jsonl"
    args = cycles.plugin_args(cpu, out, cycles.symbol_address(elf, "ek_mark"), len(regions))
    subprocess.run(["qemu-system-arm", "-machine", machine, "-nographic", "-monitor", "none", "-serial", "null",
                    "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", *args,
                    "-kernel", str(elf)], check=True, timeout=60, capture_output=True)
    report = cycles.read(out)
    assert len(report.invokes) == 1
    return report.invokes[0][1], elf


def run_loops(cpu: str, machine: str, n_values: list[int], tmp_path: Path) -> tuple[list, dict[str, bool]]:
    """Each loop once per n in n_values, a region each: their counts, and whether each loop's head
    is a wide instruction across two words (``wide_unaligned_heads``)."""
    counts, elf = run_marked(cpu, machine, [loop.asm(n) for n in n_values for loop in LOOPS], tmp_path)
    return counts, wide_unaligned_heads(elf, [lp.head(n) for n in n_values for lp in LOOPS])


def wide_unaligned_heads(elf: Path, heads: list[str]) -> dict[str, bool]:
    """Per loop head: is its first instruction 32-bit at a halfword (not word) address (a taken branch
    there refills one cycle later on the M4: refill_wide_unaligned)?"""
    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    width = {}
    for line in subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t([0-9a-f]{4})( [0-9a-f]{4})?\s", line)
        if m:
            width[int(m.group(1), 16)] = 4 if m.group(3) else 2
    return {h: width[syms[h]] == 4 and syms[h] % 4 == 2 for h in heads}


N = 100


@pytest.fixture(scope="module")
def m4_regions(tmp_path_factory):
    return run_loops("cortex-m4", "mps2-an386", [N], tmp_path_factory.mktemp("m4"))


@pytest.mark.parametrize("loop", LOOPS, ids=[lp.name for lp in LOOPS])
def test_m4_loop_matches_hand_count(loop: Loop, m4_regions):
    model = timing("cortex-m4")
    p = model["branch_refill"]
    regions, unaligned = m4_regions
    got = regions[LOOPS.index(loop)]
    mark = 2 * (1 + p)  # ek_mark's "bx lr" and the "bl ek_mark" that ends the region
    back = p + model["refill_wide_unaligned"] * unaligned[loop.head(N)]  # the bne's refill at the loop's head
    loop_cycles = N * (loop.m4_iteration + loop.m4_refills_per_iteration * p) + (N - 1) * back  # bne taken N-1 times
    hand = mark + loop.m4_setup + loop_cycles
    assert abs(got.cycles - hand) <= 0.05 * hand, f"{loop.name}: plugin {got.cycles}, by hand {hand}"
    body_insns = len([ln for ln in loop.body.splitlines() if ln.strip() and not ln.strip().endswith(":")])
    extra = 2 if loop.name == "call_return" else 0  # the leaf's two instructions
    setup_insns = len(loop.setup.splitlines())
    assert got.instructions == 2 + setup_insns + N * (body_insns + extra + 2)


@pytest.fixture(scope="module")
def m7_regions(tmp_path_factory):
    return run_loops("cortex-m7", "mps2-an500", [N, 2 * N], tmp_path_factory.mktemp("m7"))


@pytest.mark.parametrize("loop", LOOPS, ids=[lp.name for lp in LOOPS])
def test_m7_loop_per_iteration_matches_hand_count(loop: Loop, m7_regions):
    i = LOOPS.index(loop)
    once, twice = m7_regions[0][i], m7_regions[0][len(LOOPS) + i]
    per_iteration = (twice.cycles - once.cycles) / N
    assert abs(per_iteration - loop.m7_iteration) <= 0.05 * loop.m7_iteration, \
        f"{loop.name}: plugin {per_iteration:.2f} cycles per iteration, by hand {loop.m7_iteration}"


def test_taken_branches_are_counted(m4_regions):
    alu = m4_regions[0][0]
    assert alu.taken_branches == (N - 1) + 2  # the loop's bne, ek_mark's bx lr and the closing bl
    assert alu.classes["branch"] == N + 2


def test_a_branch_to_a_wide_instruction_across_two_words_refills_a_cycle_later(tmp_path):
    """The same loop twice, entered by a branch and closed by bne: its head (ldr.w) word-aligned, then
    at a halfword address (the TRM's P depends on the target's alignment and width): every taken
    branch into the second costs refill_wide_unaligned more, N in all; the instructions are the same."""
    def region(pad: str) -> str:
        return (f"    movw r4, #0\n    movt r4, #0x2000\n    movs r0, #{N}\n    b 1f\n    .balign 4\n{pad}"
                "1:\n    ldr.w r1, [r4]\n    subs r0, #1\n    bne 1b\n")
    (aligned, across), _ = run_marked("cortex-m4", "mps2-an386", [region(""), region("    nop\n")], tmp_path)
    assert aligned.instructions == across.instructions
    assert across.cycles - aligned.cycles == N * timing("cortex-m4")["refill_wide_unaligned"] > 0


# ---------------------------------------------------------------------------- 4. on a model


def test_plugin_counts_the_instructions_qemu_counts(tmp_path, mlperf_models):
    """Per operator, the plugin's instructions equal TIMER0 ticks x 40 (under -icount shift=0,
    one instruction per ns), up to the timer's 40-instruction resolution and the hook itself."""
    from edgekit.target.boards import load_board
    from edgekit.target.build import build_firmware
    from edgekit.harness.deploy import connect
    from edgekit.harness.profile import profile

    model = mlperf_models / "ad01_int8.tflite"
    board = load_board("qemu-mps2-an386")
    fw = build_firmware(model, board, tmp_path / "fw")
    n_ops = len(fw.generated.calls)
    with cycles.instrumented(board, fw.elf, n_ops, tmp_path) as (plugged, out):
        with connect(plugged, None, fw.elf, log=lambda m: None) as dev:
            rep = profile(dev, model, board.name, emulated=True, icount_shift=0, samples=2)
    assert rep.passed
    est = cycles.read(out)
    assert len(est.invokes) == 2
    ops = rep.operators()
    for o, c in zip(ops, est.operators):
        assert abs(c.instructions - o["instructions"]) <= 200, (o, c)
    assert est.total.cycles > est.total.instructions

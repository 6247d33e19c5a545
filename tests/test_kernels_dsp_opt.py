"""The DSP kernels at every optimisation level a board may ask for (ek_dsp.h, EK_DSP_ASM):

* compile-only, with -Werror, for the Cortex-M4 and M7 at -O0, -Og (with and without
  EK_DSP_NO_ASM) and the optimising levels, both values of EK_REQUANT_BELOW_ZERO_POINT: the
  preprocessor picks the assembly loops exactly in the optimising builds, and code that takes an
  address with ADR sits in a word-aligned section (the assembler resolves ADR as if it did);
* bit-exact with tflite-micro on the emulated Cortex-M4 (qemu-mps2-an386) for each kernel family
  (a few of the conformance cases of test_kernels_dsp / test_kernels_winograd /
  test_kernels_dsp_new_ops) built at -O0 and -Og, where the C twins run, and at -Os, where the
  assembly runs (the firmware's symbols show which of the two was linked); the convolution also
  at -O1 (assembly in a function gcc aligns to 2 bytes only), with int8 and with int4 weights;
* a small MobileNetV2 of the zoo deployed at -O0.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess
from pathlib import Path

import pytest

import test_kernels_batch_matmul as bmm_cases
import test_kernels_conv as conv_cases
import test_kernels_depthwise as dw_cases
import test_kernels_transpose_conv as tc_cases
import test_kernels_winograd as wino_cases
from opmodels import int4_op, keras_op
from test_kernels_dsp_new_ops import BMM_DSP_CASES, TC_DSP_CASES
from test_kernels_dsp import (CONV_DSP_CASES, DW_DSP_CASES, PAL_CASES, SPARSE_CASES,  # noqa: F401
                              add_model, conv_clustered, conv_with_zero_blocks, dsp_fc_for_any_size, needs_board)

from edgekit.codegen.core import target_for_cpu

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "firmware" / "kernels"
BOARD = "qemu-mps2-an386"
CPUS = {"cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
        "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"]}
DEBUG_LEVELS = ("-O0", "-Og")  # the levels at which the build runs the C twins


def board_at(opt: str, tmp_path: Path) -> str:
    """The default board's file with another ``opt``, as a user would copy it: its path."""
    text = (ROOT / "boards" / f"{BOARD}.yaml").read_text()
    text, n = re.subn(r"(?m)^opt: .*$", f"opt: {opt}", text)
    assert n == 1
    path = tmp_path / f"{BOARD}.yaml"
    path.write_text(text)
    return str(path)


def _tool(*cmd: str, **kw) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------------------- compile only


ADR = r"\t(adr\S*\s|(add|addw|sub|subw)(\.w)?\s+\w+, pc, #)"
LITERAL = r"\tldr\S*\s+\w+, \[pc, #"


def _pc_relative_sections(obj: Path, pattern: str) -> set[str]:
    """Sections of an object with an instruction matching ``pattern``."""
    found, section = set(), None
    for line in _tool("arm-none-eabi-objdump", "-d", str(obj)).splitlines():
        m = re.match(r"Disassembly of section (\S+):", line)
        if m:
            section = m.group(1)
        elif re.search(pattern, line):
            found.add(section)
    return found


def _alignments(obj: Path) -> dict[str, int]:
    out = _tool("arm-none-eabi-objdump", "-h", str(obj))
    rows = re.finditer(r"^\s*\d+\s+(\S+)\s.*\s2\*\*(\d+)\s*$", out, re.MULTILINE)
    return {m.group(1): 2 ** int(m.group(2)) for m in rows}


@pytest.mark.parametrize("cpu", list(CPUS))
@pytest.mark.parametrize("opt", ["-O0", "-Og", "-Og -DEK_DSP_NO_ASM", "-O1", "-O2", "-Os", "-O3", "-Oz"])
def test_kernels_compile(cpu, opt, tmp_path):
    """Every DSP kernel compiles warning-free; EK_DSP_ASM is 1 exactly in optimising builds
    without EK_DSP_NO_ASM; every section holding an ADR is word-aligned."""
    flags = [*CPUS[cpu], "-std=c99", "-Wall", "-Wextra", "-Werror", *opt.split(), "-g", "-ffunction-sections"]
    sources = sorted(str(p) for p in (KERNELS / "dsp").glob("*.c"))
    assert len(sources) >= 6, sources
    asm = 0 if opt == "-O0" or "EK_DSP_NO_ASM" in opt else 1
    adr_objects = set()
    for switch in (0, 1):
        conf = tmp_path / f"config{switch}"
        conf.mkdir()
        (conf / "ek_config.h").write_text(f"#define EK_REQUANT_BELOW_ZERO_POINT {switch}\n")
        inc = [f"-I{conf}", f"-I{KERNELS}", f"-I{KERNELS / 'dsp'}"]
        _tool("arm-none-eabi-gcc", *flags, *inc, "-c", *sources, cwd=conf)
        probe = _tool("arm-none-eabi-gcc", *flags, *inc, "-E", "-P", "-x", "c", "-", cwd=conf,
                      input='#include "ek_dsp.h"\nEK_DSP_ASM EK_REQUANT_BELOW_ZERO_POINT\n')
        assert probe.split()[-2:] == [str(asm), str(switch)], probe[-200:]
        # ADR and literal loads address from the word-aligned PC: their sections must be word-aligned
        for obj in conf.glob("*.o"):
            align, adr = _alignments(obj), _pc_relative_sections(obj, ADR)
            adr_objects |= {obj.name} if adr else set()
            for section in adr | _pc_relative_sections(obj, LITERAL):
                assert align[section] >= 4, f"{obj.name} {section}: aligned to {align[section]}"
    assert adr_objects == ({"ek_conv2d_dsp.o"} if asm else set())  # the conv loop's entry is taken with ADR


# ---------------------------------------------------------------------------- on the emulated board


@functools.cache
def _model(name: str) -> bytes:
    """A case's .tflite, converted once per process (the opt levels share it)."""
    import keras

    make = {"conv-odd-channels": lambda: conv_cases.build_conv(CONV_DSP_CASES[1]),
            "conv-3x3-s2-k27": lambda: conv_cases.build_conv(CONV_DSP_CASES[3]),
            "conv-c3-s2-odd": lambda: conv_cases.build_conv(CONV_DSP_CASES[6]),
            "conv-sparse-odd": lambda: conv_with_zero_blocks(*SPARSE_CASES[1]),
            "conv-sparse-3x3-s2": lambda: conv_with_zero_blocks(*SPARSE_CASES[2]),
            "conv-grouped-3x3": lambda: conv_cases.build_conv(CONV_DSP_CASES[17]),
            "conv-pal-3x3-s2": lambda: conv_clustered(*PAL_CASES[2][:-1]),
            "conv-pal-pixel-2bit": lambda: conv_clustered(*PAL_CASES[6][:-1]),
            "conv-int4-odd": lambda: int4_op("conv", (5, 7, 12), 7, seed=31, kernel=1, padding="VALID"),
            "conv-int4-c3-s2": lambda: int4_op("conv", (10, 10, 3), 8, seed=13, kernel=3, stride=2),
            "wino-odd-map": lambda: wino_cases.build(wino_cases.CASES[1]),
            "wino-partial-block": lambda: wino_cases.build(wino_cases.CASES[3]),
            "dw-rows-s2": lambda: dw_cases.build_depthwise(DW_DSP_CASES[8]),
            "dw-rows-4+2-relu6": lambda: dw_cases.build_depthwise(DW_DSP_CASES[14]),
            "dw-rows-s2-groups": lambda: dw_cases.build_depthwise(DW_DSP_CASES[17]),
            "dw-5x3-n1to1": lambda: dw_cases.build_depthwise(DW_DSP_CASES[3]),
            "dw-2x2-valid": lambda: dw_cases.build_depthwise(DW_DSP_CASES[6]),
            # 3x3 on rows of 2 and 1: the general kernel's 3x3 assembly, padding taps at every edge
            "dw-3x3-s2-relu6": lambda: dw_cases.build_depthwise(
                dw_cases.Case((4, 3), 16, 1, (3, 3), (2, 2), "same", (1, 1), "relu6", False, True, 81)),
            "dw-3x3-none": lambda: dw_cases.build_depthwise(
                dw_cases.Case((3, 2), 12, 1, (3, 3), (1, 1), "same", (1, 1), None, False, True, 82)),
            "fc-640": lambda: keras_op(keras.layers.Dense(128, activation="relu"), (640,), seed=6),
            "fc-odd": lambda: keras_op(keras.layers.Dense(7), (33,), seed=2, per_tensor=True),
            "add": lambda: add_model((8, 8, 16), 41),
            "add-relu": lambda: add_model((9, 7, 5), 42, True, (2.0, 0.5)),
            "tc-33-in-channels": lambda: tc_cases.build_transpose_conv(*TC_DSP_CASES[5]),
            "bmm-both-adj": lambda: bmm_cases.build_matmul(*BMM_DSP_CASES[2])}
    return make[name]()


# (case, operator, kernel, a local function of its C twin that the assembly build does not have)
CASES = [
    ("conv-odd-channels", "CONV_2D", "ek_conv2d_dsp_s8", "channels"),
    ("conv-3x3-s2-k27", "CONV_2D", "ek_conv2d_dsp_s8", "channels"),
    ("conv-c3-s2-odd", "CONV_2D", "ek_conv2d_dsp_s8", "channels"),
    ("conv-sparse-odd", "CONV_2D", "ek_conv2d_sparse_dsp_s8", "channels_sparse"),
    ("conv-sparse-3x3-s2", "CONV_2D", "ek_conv2d_sparse_dsp_s8", "channels_sparse"),
    ("conv-grouped-3x3", "CONV_2D", "ek_conv2d_dsp_s8", "channels"),  # four groups, windows gathered
    ("conv-pal-3x3-s2", "CONV_2D", "ek_conv2d_pal_dsp_s8", "channels"),  # 1-bit palettes, border windows
    ("conv-pal-pixel-2bit", "CONV_2D", "ek_conv2d_pal_dsp_pixel_s8", None),  # no assembly
    ("conv-int4-odd", "CONV_2D", "ek_conv2d_int4_dsp_s8", "channels_int4"),  # 3 words of int4 weights
    ("conv-int4-c3-s2", "CONV_2D", "ek_conv2d_int4_dsp_s8", "channels_int4"),  # 7 words
    ("wino-odd-map", "CONV_2D", "ek_conv3x3_wino_dsp_s8", "group_positions"),
    ("wino-partial-block", "CONV_2D", "ek_conv3x3_wino_dsp_s8", "group_positions"),
    ("dw-rows-s2", "DEPTHWISE_CONV_2D", "ek_depthwise_rows_dsp_s8", "outputs_c"),
    ("dw-rows-4+2-relu6", "DEPTHWISE_CONV_2D", "ek_depthwise_rows_dsp_s8", "outputs_c"),
    ("dw-rows-s2-groups", "DEPTHWISE_CONV_2D", "ek_depthwise_rows_dsp_s8", "outputs_c"),
    ("dw-5x3-n1to1", "DEPTHWISE_CONV_2D", "ek_depthwise_dsp_s8", None),  # not 3x3: no assembly loop
    ("dw-2x2-valid", "DEPTHWISE_CONV_2D", "ek_depthwise_dsp_s8", None),
    ("dw-3x3-s2-relu6", "DEPTHWISE_CONV_2D", "ek_depthwise_dsp_s8", "group_3x3_c"),
    ("dw-3x3-none", "DEPTHWISE_CONV_2D", "ek_depthwise_dsp_s8", "group_3x3_c"),  # the sign term kept
    # a lone 640-wide layer, whose widened input would be the arena's peak: the lean kernel
    ("fc-640", "FULLY_CONNECTED", "ek_fully_connected_lean_dsp_s8", None),  # a function dot4_lean either way
    ("fc-odd", "FULLY_CONNECTED", "ek_fully_connected_dsp_s8", None),  # 33 wide: not lean
    ("add", "ADD", "ek_add_dsp_s8", None),  # no assembly loop
    ("add-relu", "ADD", "ek_add_dsp_s8", None),
    ("tc-33-in-channels", "TRANSPOSE_CONV", "ek_transpose_conv_dsp_s8", None),  # the fully connected loop
    ("bmm-both-adj", "BATCH_MATMUL", "ek_batch_matmul_dsp_s8", None),
]
RUNS = [(*c, opt) for c in CASES for opt in ("-O0", "-Og", "-Os")] + \
       [(*c, "-O1") for c in CASES if c[2] in ("ek_conv2d_dsp_s8", "ek_conv2d_int4_dsp_s8", "ek_conv2d_sparse_dsp_s8",
                                                                 "ek_conv2d_pal_dsp_s8")]


def _local_functions(elf: Path) -> set[str]:
    out = _tool("arm-none-eabi-nm", "--defined-only", str(elf))
    return {p[2] for p in (ln.split() for ln in out.splitlines()) if len(p) == 3 and p[1] == "t"}


def assert_bit_exact_at(model: bytes, tmp_path: Path, opt: str, winograd_min_pixels: int | None = None,
                        lean_kernels: bool = True):
    """Build for the default board at ``opt`` (Winograd from ``winograd_min_pixels`` output pixels,
    the board's default when None; lean kernels where scratch sets the arena unless ``lean_kernels``
    is False), run in QEMU through the harness, compare every output with tflite-micro. Returns the
    firmware build."""
    from edgekit.target.boards import load_board
    from edgekit.target.build import build_firmware
    from edgekit.harness.deploy import connect
    from edgekit.harness.profile import profile

    path = tmp_path / "case.tflite"
    path.write_bytes(model)
    board = load_board(board_at(opt, tmp_path))
    assert board.opt == opt
    target = dataclasses.replace(target_for_cpu(board.cpu), lean_kernels=lean_kernels)
    if winograd_min_pixels is not None:
        target = dataclasses.replace(target, winograd_min_pixels=winograd_min_pixels)
    fw = build_firmware(path, board, tmp_path / "fw", target=target)
    with connect(board, None, fw.elf, log=lambda m: None) as dev:
        dev.invoke_timeout_s = 20.0  # one inference takes well under a second: a hang fails sooner
        rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift, samples=3,
                      seed=1)
    assert rep.reference == "tflite-micro", rep.reference_note
    assert rep.passed, [s["max_abs_diff"] for s in rep.samples]
    return fw


@needs_board
@pytest.mark.parametrize("name,op_type,function,twin,opt", RUNS, ids=[f"{r[0]}{r[4]}" for r in RUNS])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_bit_exact_on_emulated_cortex_m4(name, op_type, function, twin, opt, tmp_path):
    fw = assert_bit_exact_at(_model(name), tmp_path, opt,
                             winograd_min_pixels=0 if function == "ek_conv3x3_wino_dsp_s8" else None,
                             lean_kernels=function != "ek_depthwise_rows_dsp_s8")  # (a lone layer's ring)
    assert [c.function for c in fw.generated.calls if c.op.type_name == op_type] == [function]
    if twin is not None:
        assert (twin in _local_functions(fw.elf)) == (opt in DEBUG_LEVELS), f"{twin} at {opt}"


@needs_board
def test_zoo_mobilenet_v2_deploys_at_O0(tmp_path):
    """A whole network (23 CONV_2D, 11 DEPTHWISE_CONV_2D, 4 ADD, ...) built at -O0: its outputs on
    the device equal tflite-micro's."""
    from edgekit.compress import zoo
    from edgekit.harness.deploy import deploy
    from test_zoo import _int8

    tflite = tmp_path / "mobilenet_v2.tflite"
    tflite.write_bytes(_int8(zoo.build("mobilenet_v2", resolution=16, width=0.35, depth=0.34, seed=1)))
    result = deploy(tflite, board_at("-O0", tmp_path), samples=2, seed=1, out_dir=tmp_path / "build")
    model_c = (tmp_path / "build" / "model" / "model.c").read_text()
    for kernel in ("ek_conv2d_dsp_s8", "ek_depthwise_rows_dsp_s8"):
        assert kernel + "(" in model_c, kernel
    # its residual ADDs have fewer than ADD_DSP_MIN_SIZE elements at this size: the portable kernel
    # (the DSP ADD runs at -O0 in test_bit_exact_on_emulated_cortex_m4)
    assert "ek_add_s8(" in model_c
    rep = result.profile
    assert rep is not None and rep.reference == "tflite-micro", rep
    assert rep.passed and rep.equal_count == len(rep.samples) == 2, rep.summary()

"""The DSP-extension kernels (firmware/kernels/dsp/) run the same conformance cases as the
portable ones and stay bit-exact with tflite-micro:

* on the host, built with the portable C version of every DSP instruction they use (ek_dsp.h)
  under ASan + UBSan: the CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED case lists of the
  portable kernels' tests, plus cases aimed at the DSP kernels' own paths (four-pixel blocks
  with a partial last block, odd channel counts, padded k, channels whose weights are all
  zero, channel counts the depthwise kernel takes);
* on the emulated Cortex-M4 (QEMU mps2-an386), where the same C compiles to SMLAD, SXTB16 and
  SMMLAR and the GEMM's inner loop is assembly: a subset, through the firmware harness;
* the requantization identity the kernels rely on (ek_requant2), against TFLite's arithmetic
  on random values inside the bounds the generator checks.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

import test_kernels_conv as conv_cases
import test_kernels_depthwise as dw_cases
from opmodels import keras_op

from edgekit.codegen.core import WINOGRAD_MIN_PIXELS, Target, target_for_cpu

DSP = Target("host-dsp", dsp=True)
DSP_FUNCTIONS = {"CONV_2D": ("ek_conv2d_dsp_s8", "ek_conv3x3_wino_dsp_s8", "ek_conv2d_int4_dsp_s8",
                             "ek_fully_connected_int4_dsp_s8",
                             "ek_conv2d_sparse_dsp_s8", "ek_conv2d_pal_dsp_s8", "ek_conv2d_pal_dsp_pixel_s8",
                             "ek_fully_connected_dsp_s8", "ek_fully_connected_lean_dsp_s8"),
                 "DEPTHWISE_CONV_2D": ("ek_depthwise_dsp_s8", "ek_depthwise_rows_dsp_s8"),
                 "FULLY_CONNECTED": ("ek_fully_connected_dsp_s8", "ek_fully_connected_lean_dsp_s8",
                                     "ek_fully_connected_int4_dsp_s8"),
                 "ADD": ("ek_add_dsp_s8",), "AVERAGE_POOL_2D": ("ek_avg_pool_dsp_s8",),
                 "MAX_POOL_2D": ("ek_max_pool_dsp_s8",),
                 "TRANSPOSE_CONV": ("ek_transpose_conv_dsp_s8",), "BATCH_MATMUL": ("ek_batch_matmul_dsp_s8",)}
#: the 16x8 scheme's DSP kernels (int16 activations)
DSP_S16_FUNCTIONS = {"CONV_2D": ("ek_conv2d_dsp_s16",), "FULLY_CONNECTED": ("ek_fully_connected_dsp_s16",)}
#: the DSP target that keeps every kernel with scratch (no lean variants chosen for memory)
DSP_SCRATCH = dataclasses.replace(DSP, lean_kernels=False)
#: the DSP target that never stores weights compressed (the dense DSP kernels: the palettized ones' control)
DSP_UNPACKED = dataclasses.replace(DSP, weight_packing=False)


@pytest.fixture(scope="module")
def dsp_runtime_lib(runtime_lib):
    """The session's runtime library holds the DSP kernels too (portable DSP instructions)."""
    return runtime_lib


def assert_dsp_bit_exact(model: bytes, lib: Path, tmp_path: Path, op_type: str, expect_dsp: bool = True,
                         samples: int = 3, target: Target = DSP, functions_of=DSP_FUNCTIONS):
    """Generate for a DSP target, build for the host, compare with tflite-micro."""
    from edgekit.frontend import reference
    from edgekit.codegen import generate
    from edgekit.ir import parse_tflite
    from edgekit.target.host import build_host_runner, random_inputs, run_host

    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model", target=target)
    functions = {c.op.type_name: c.function for c in gen.calls}
    assert op_type in functions, f"converter did not produce {op_type}: {list(functions)}"
    if expect_dsp:
        assert functions[op_type] in functions_of[op_type], f"{op_type} lowered to {functions[op_type]}"
    data = random_inputs(graph, samples, 0)
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=lib)
    ours = run_host(exe, gen.inputs, gen.outputs, data)
    want = reference.run_tflm(model, data)
    for s, (o, w) in enumerate(zip(ours, want)):
        for k, (a, b) in enumerate(zip(o, w)):
            np.testing.assert_array_equal(a, b.reshape(a.shape), err_msg=f"sample {s} output {k}")
    return gen


# ---------------------------------------------------------------------------- the shared case lists


def _conv_takes_dsp(c) -> bool:
    return c.dilation[1] == 1


@pytest.mark.parametrize("case", conv_cases.CASES, ids=[c.id for c in conv_cases.CASES])
def test_conv2d_cases_host(case, dsp_runtime_lib, tmp_path):
    # without weight packing: a small grouped filter's few values would take the palette kernel
    assert_dsp_bit_exact(conv_cases.build_conv(case), dsp_runtime_lib, tmp_path, "CONV_2D",
                         expect_dsp=_conv_takes_dsp(case), target=DSP_UNPACKED)


def _dw_takes_dsp(c) -> bool:
    rows = c.kernel == (3, 3) and c.dilation == (1, 1) and c.strides[1] in (1, 2)
    return c.depth_multiplier == 1 and (rows or c.cin % 4 == 0)


@pytest.mark.parametrize("case", dw_cases.CASES, ids=[c.id for c in dw_cases.CASES])
def test_depthwise_cases_host(case, dsp_runtime_lib, tmp_path):
    assert_dsp_bit_exact(dw_cases.build_depthwise(case), dsp_runtime_lib, tmp_path, "DEPTHWISE_CONV_2D",
                         expect_dsp=_dw_takes_dsp(case))


Case = dw_cases.Case
# depthwise cases the DSP kernels take (depth multiplier 1; 3x3 with dilation 1 and horizontal
# stride 1 or 2: the row kernel, any channel count, but on rows of fewer than DWR_MIN_OUTPUT_W outputs
# only when the channels are not a multiple of 4 (the narrow cases below keep it so); else channels a
# multiple of 4: the per-pixel one)
DW_DSP_CASES = [
    Case((25, 5), 64, 1, (3, 3), (1, 1), "same", (1, 1), "relu", False, True, 11),  # keyword spotting
    Case((9, 8), 8, 1, (3, 3), (2, 2), "same", (1, 1), "relu6", False, True, 12),
    Case((7, 7), 12, 1, (3, 3), (2, 2), "valid", (1, 1), None, True, True, 13),
    Case((6, 5), 4, 1, (5, 3), (1, 2), "same", (1, 1), "n1to1", False, False, 14),
    Case((8, 9), 16, 1, (3, 3), (1, 1), "same", (2, 2), None, False, True, 15),
    Case((1, 1), 8, 1, (3, 3), (1, 1), "same", (1, 1), "relu", False, True, 16),
    Case((5, 4), 20, 1, (2, 2), (1, 1), "valid", (1, 1), None, True, True, 17),
    Case((7, 9), 5, 1, (3, 3), (1, 1), "same", (1, 1), "relu6", False, True, 18),   # rows, odd channels
    Case((10, 11), 3, 1, (3, 3), (2, 2), "valid", (1, 1), None, True, True, 19),    # rows, stride 2
    Case((6, 6), 10, 1, (3, 3), (3, 2), "same", (1, 1), "relu", False, True, 20),   # rows, stride_h 3
    Case((12, 3), 10, 1, (3, 3), (1, 1), "valid", (1, 1), "relu", False, False, 27), # width 1
    Case((20, 6), 8, 1, (3, 3), (2, 1), "same", (1, 1), "relu6", False, True, 28),  # narrow, tall
    Case((17, 4), 6, 1, (3, 3), (1, 2), "same", (1, 1), None, True, True, 29),      # narrow, odd c
    Case((19, 7), 22, 1, (3, 3), (2, 2), "valid", (1, 1), "relu", False, True, 30), # width 3: a block of 4
    # the rows kernel's own paths: a block of two after the blocks of four (widths 5, 6, 2),
    # stride 2 with it, channel groups (a stride-2 ring over DW_RING_BYTES_S2), odd channels,
    # a clamp on outputs written straight to the output, odd input widths (pixel pairs ending
    # in padding)
    Case((6, 6), 16, 1, (3, 3), (1, 1), "same", (1, 1), "relu6", False, True, 40),   # 4 + 2, direct
    Case((7, 2), 6, 1, (3, 3), (1, 1), "same", (1, 1), None, True, True, 41),        # width 2: a block of 4
    Case((11, 27), 8, 1, (3, 3), (2, 2), "same", (1, 1), "relu", False, True, 42),   # s2, 4 + 4 + 4 + 2
    Case((10, 40), 24, 1, (3, 3), (2, 2), "same", (1, 1), "relu6", False, True, 43), # s2, groups of 12
    Case((5, 5), 7, 1, (3, 3), (1, 1), "same", (1, 1), None, False, True, 44),       # 4 + 2, odd c
    Case((8, 8), 8, 1, (3, 3), (1, 1), "same", (1, 1), "n1to1", False, True, 45),    # clamp, direct
    Case((9, 13), 12, 1, (3, 3), (2, 2), "valid", (1, 1), None, True, True, 46),     # s2 valid, odd width
    Case((6, 9), 20, 1, (3, 3), (1, 1), "valid", (1, 1), "relu", False, True, 47),   # width 7: a row buffer
]


@pytest.mark.parametrize("case", DW_DSP_CASES, ids=[c.id for c in DW_DSP_CASES])
def test_depthwise_dsp_cases_host(case, dsp_runtime_lib, tmp_path):
    assert_dsp_bit_exact(dw_cases.build_depthwise(case), dsp_runtime_lib, tmp_path, "DEPTHWISE_CONV_2D")


# the rows kernel with its output overlapping its input as far as its declared lead allows
# (rows_overlap): stride 1 and 2, blocks of two, a row buffer, channel groups, a clamp
DW_OVERLAP_CASES = [DW_DSP_CASES[i] for i in (0, 14, 16, 17, 19, 21)]


@pytest.mark.parametrize("case", DW_OVERLAP_CASES, ids=[c.id for c in DW_OVERLAP_CASES])
def test_depthwise_rows_overlapped_host(case, dsp_runtime_lib, tmp_path):
    # (lean kernels off: on a lone layer the ring may set the arena, and the general kernel take it)
    gen = assert_dsp_bit_exact(dw_cases.build_depthwise(case), dsp_runtime_lib, tmp_path, "DEPTHWISE_CONV_2D",
                               target=DSP_SCRATCH)
    (call,) = [c for c in gen.calls if c.op.type_name == "DEPTHWISE_CONV_2D"]
    assert call.function == "ek_depthwise_rows_dsp_s8"
    (decl,) = call.overlaps
    where = {b.tensors[0]: (o, b.size) for b, o in zip(gen.plan.buffers, gen.plan.offsets) if b.tensors}
    (xo, _), (yo, ysize) = where[call.op.inputs[0]], where[call.op.outputs[0]]
    assert yo + ysize > xo, "the plan does not overlap the output with the input"
    assert xo - yo >= decl.lead


@pytest.mark.parametrize("hw,c,stride,kernel", [
    ((1, 1), 16, 1, "ek_depthwise_dsp_s8"),       # one output: the rows kernel would compute four
    ((2, 2), 24, 1, "ek_depthwise_dsp_s8"),
    ((4, 4), 16, 2, "ek_depthwise_dsp_s8"),       # stride 2, rows of 2
    ((6, 6), 12, 2, "ek_depthwise_dsp_s8"),       # stride 2, rows of 3
    ((22, 22), 8, 2, "ek_depthwise_dsp_s8"),      # stride 2, rows of 11: the general kernel
    ((23, 24), 8, 2, "ek_depthwise_rows_dsp_s8"),  # stride 2, rows of 12: the rows kernel
    ((3, 3), 16, 1, "ek_depthwise_dsp_s8"),       # rows of 3 at stride 1: the general kernel
    ((4, 4), 16, 1, "ek_depthwise_rows_dsp_s8"),  # rows of 4 at stride 1: the rows kernel
    ((2, 2), 6, 1, "ek_depthwise_rows_dsp_s8"),   # channels not a multiple of 4: only the rows kernel
])
def test_depthwise_kernel_by_row_width(hw, c, stride, kernel, dsp_runtime_lib, tmp_path):
    """Each DSP depthwise kernel where it is the faster (DWR_MIN_OUTPUT_W), bit-exact either way (lean
    kernels off: the choice by speed alone)."""
    case = Case(hw, c, 1, (3, 3), (stride, stride), "same", (1, 1), "relu", False, True, 60 + c)
    gen = assert_dsp_bit_exact(dw_cases.build_depthwise(case), dsp_runtime_lib, tmp_path, "DEPTHWISE_CONV_2D",
                               target=DSP_SCRATCH)
    assert [x.function for x in gen.calls if x.op.type_name == "DEPTHWISE_CONV_2D"] == [kernel]


@pytest.mark.parametrize("hw,c,slow_flash,lean", [((6, 6), 16, False, True), ((16, 16), 8, False, False),
                                                   ((6, 6), 16, True, False)])
def test_a_depthwise_ring_setting_the_arena_gives_way_where_that_is_worth_it(hw, c, slow_flash, lean,
                                                                            dsp_runtime_lib, tmp_path):
    """A lone 3x3 depthwise layer, whose step sets the arena with the rows kernel's ring of widened
    rows as scratch. On a 6x6x16 map the ring is most of the arena: the general kernel (a row of the
    zero point) takes the layer, bit-exact, in a smaller arena. On a 16x16x8 map it is a small part:
    the rows kernel stays, as the arena would fall by a smaller fraction than the work grows
    (``stream.worth_it``; the general kernel takes about 1.3x the rows kernel's cycles). Nor where
    the weights sit behind flash wait states: the general kernel reads them once per output pixel."""
    from edgekit.codegen import generate
    from edgekit.ir import parse_tflite

    model = dw_cases.build_depthwise(Case(hw, c, 1, (3, 3), (1, 1), "same", (1, 1), "relu", False, True, 61))
    gen = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path / "lean", "DEPTHWISE_CONV_2D",
                               target=dataclasses.replace(DSP, slow_flash=slow_flash))
    ring = generate(parse_tflite(model, name="case"), tmp_path / "ring",
                    target=dataclasses.replace(DSP_SCRATCH, slow_flash=slow_flash))
    ((call,), (ring_call,)) = ([x for x in g.calls if x.op.type_name == "DEPTHWISE_CONV_2D"] for g in (gen, ring))
    assert ring_call.function == "ek_depthwise_rows_dsp_s8"
    if lean:
        assert call.function == "ek_depthwise_dsp_s8" and call.scratch_bytes < ring_call.scratch_bytes
        assert gen.arena_bytes < ring.arena_bytes
    else:
        assert call.function == "ek_depthwise_rows_dsp_s8" and gen.arena_bytes == ring.arena_bytes


def test_kws_whole_tensors_give_their_depthwise_rings_up_for_memory(mlperf_models, tmp_path):
    """kws with whole tensors (--no-stream): each depthwise step's ring sets the arena; its four
    depthwise layers run the general kernel, in a smaller arena than the rings'."""
    from edgekit.codegen import generate
    from edgekit.ir import read_tflite

    graph = read_tflite(mlperf_models / "kws_ref_model.tflite")
    whole = dataclasses.replace(DSP, stream=False)
    lean = generate(graph, tmp_path / "lean", target=whole)
    rings = generate(graph, tmp_path / "rings", target=dataclasses.replace(whole, lean_kernels=False))
    dw = [[c.function for c in g.calls if c.op.type_name == "DEPTHWISE_CONV_2D"] for g in (lean, rings)]
    assert dw == [["ek_depthwise_dsp_s8"] * 4, ["ek_depthwise_rows_dsp_s8"] * 4]
    assert lean.arena_bytes < rings.arena_bytes


@pytest.mark.parametrize("hw,kernel,padding,taps", [
    ((1, 1), (3, 3), "same", (1, 1)),   # a 1x1 map: only the centre tap is ever on the image
    ((6, 1), (3, 3), "same", (3, 1)),   # one column: the filter's middle column
    ((1, 2), (5, 5), "same", (1, 3)),   # two outputs: columns 1..3 reach the row, 0 and 4 never
])
def test_depthwise_leaves_out_taps_no_window_puts_on_the_image(hw, kernel, padding, taps, dsp_runtime_lib,
                                                              runtime_lib, tmp_path):
    """Filter rows and columns that read padding for every output are left out of the call (TFLM skips
    them too): the DSP and the portable kernels, bit-exact with tflite-micro."""
    case = Case(hw, 16, 1, kernel, (1, 1), padding, (1, 1), "relu6", False, True, 70 + kernel[0])
    model = dw_cases.build_depthwise(case)
    from edgekit.codegen import HOST

    for lib, sub, target in ((dsp_runtime_lib, "dsp", DSP), (runtime_lib, "portable", HOST)):
        gen = assert_dsp_bit_exact(model, lib, tmp_path / sub, "DEPTHWISE_CONV_2D", expect_dsp=target.dsp,
                                   target=target)
        (call,) = [c for c in gen.calls if c.op.type_name == "DEPTHWISE_CONV_2D"]
        assert (call.params.filter_h, call.params.filter_w) == taps


def test_depthwise_rows_blocks_and_groups():
    from edgekit.codegen.ops.dsp_depthwise import rows_blocks, rows_group

    assert [rows_blocks(w) for w in (1, 2, 3, 5, 6, 7, 9, 48)] == [(1, 0), (1, 0), (1, 0), (1, 1), (1, 2), (2, 0),
                                                                    (2, 1), (12, 0)]
    assert rows_group(16, 50, None) == 16  # stride 1: always the ring
    assert rows_group(24, 42, 4096) == 12  # 6 * 42 * 24 bytes of ring > 4096: groups of 12
    assert rows_group(7, 400, 4096) == 7  # channels not a multiple of 4: one group


CC = conv_cases.Case
# conv cases aimed at the GEMM's own paths
CONV_DSP_CASES = [
    CC((5, 5), 8, 16, (1, 1), (1, 1), "valid", (1, 1), 1, "relu", False, True, 21),   # pointwise, 25 px
    CC((3, 3), 16, 7, (1, 1), (1, 1), "same", (1, 1), 1, None, True, True, 22),       # odd channels, 9 px
    CC((2, 3), 12, 5, (1, 1), (1, 1), "same", (1, 1), 1, "relu6", False, True, 23),  # k % 8 != 0
    CC((9, 9), 3, 8, (3, 3), (2, 2), "same", (1, 1), 1, "relu", False, True, 24),    # k = 27 -> 32
    CC((6, 6), 16, 32, (3, 3), (1, 1), "same", (1, 1), 1, None, False, True, 25),
    CC((1, 2), 5, 3, (1, 1), (1, 1), "valid", (1, 1), 1, "n1to1", False, False, 26),  # 2 px: one block
    # column layouts: rows of whole words + the rows' last bytes in one word (c_in 3, 1x5 c_in 1)
    CC((11, 13), 3, 5, (3, 3), (2, 2), "same", (1, 1), 1, "relu6", False, True, 32),   # odd channels
    CC((10, 9), 3, 8, (3, 3), (1, 1), "valid", (1, 1), 1, None, True, True, 33),
    CC((7, 12), 1, 6, (1, 5), (1, 2), "same", (1, 1), 1, "relu", False, True, 34),
    # the last bytes need more than a word, or a row has no whole word: per-pixel columns
    CC((8, 8), 3, 4, (3, 2), (1, 1), "same", (1, 1), 1, None, False, True, 35),        # 3 x 6 taps
    CC((9, 7), 1, 7, (3, 3), (1, 1), "same", (2, 1), 1, "relu6", False, True, 36),     # c 1, dilation
    CC((6, 10), 2, 9, (2, 3), (2, 2), "valid", (1, 1), 1, "relu", False, False, 37),   # 2 x 6 taps
    CC((25, 5), 16, 10, (1, 1), (1, 1), "valid", (1, 1), 1, None, False, True, 38),    # blocks straddle rows
    CC((12, 12), 16, 12, (1, 1), (2, 2), "valid", (1, 1), 1, "relu", False, True, 39), # 1x1 stride 2
    # grouped: 1x1 read straight (four-pixel columns), per group odd channels and k % 4 != 0; wider
    # filters gathered (their taps are not contiguous), padding, stride, dilation
    CC((8, 8), 32, 48, (1, 1), (1, 1), "valid", (1, 1), 2, "relu", False, True, 40),   # ShuffleNet's
    CC((5, 7), 12, 18, (1, 1), (1, 1), "same", (1, 1), 3, None, False, True, 41),      # 4 in, 6 out
    CC((6, 5), 20, 10, (1, 1), (1, 1), "valid", (1, 1), 2, "relu6", True, True, 42),   # 10 in, 5 out
    CC((9, 9), 8, 12, (3, 3), (1, 1), "same", (1, 1), 4, "relu", False, True, 43),     # 2 in a group
    CC((10, 9), 16, 8, (3, 3), (2, 2), "same", (1, 1), 2, None, False, False, 44),
    CC((9, 11), 6, 6, (3, 3), (1, 1), "same", (2, 1), 2, "relu", False, True, 45),     # dilation
]


@pytest.mark.parametrize("case", CONV_DSP_CASES, ids=[c.id for c in CONV_DSP_CASES])
def test_conv2d_dsp_cases_host(case, dsp_runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(conv_cases.build_conv(case), dsp_runtime_lib, tmp_path, "CONV_2D")
    if case.groups > 1:  # each group walks every pixel after the others wrote theirs: no overlap
        (call,) = gen.calls
        assert call.function == "ek_conv2d_dsp_s8" and call.params.groups == case.groups and call.overlaps == ()


# one output pixel whose window is the whole input: the fully connected DSP kernel takes it
CONV_FC_CASES = [
    CC((1, 1), 56, 112, (1, 1), (1, 1), "valid", (1, 1), 1, "relu6", False, True, 50),  # MobileNet's late 1x1
    CC((1, 1), 30, 45, (1, 1), (1, 1), "same", (1, 1), 1, None, True, True, 51),       # k % 4 != 0, odd rows
    CC((3, 3), 8, 24, (3, 3), (1, 1), "valid", (1, 1), 1, "relu", False, False, 52),   # a filter the input's size
]


@pytest.mark.parametrize("case", CONV_FC_CASES, ids=[c.id for c in CONV_FC_CASES])
def test_one_pixel_conv_takes_the_fully_connected_kernel_host(case, dsp_runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(conv_cases.build_conv(case), dsp_runtime_lib, tmp_path, "CONV_2D")
    (call,) = gen.calls
    # lean (no scratch) where the scratch would set the arena and the rows are whole words, as a lone layer's does
    lean = (case.hw[0] * case.hw[1] * case.cin) % 4 == 0
    assert call.function == ("ek_fully_connected_lean_dsp_s8" if lean else "ek_fully_connected_dsp_s8")
    assert call.overlaps == ()


def conv_with_dead_channels(seed: int) -> bytes:
    """A pointwise and a 3x3 convolution where some output channels have all-zero weights."""
    import keras

    def build(x):
        y = keras.layers.Conv2D(12, 1, activation="relu", name="pw")(x)
        return keras.layers.Conv2D(10, 3, padding="same", name="k3")(y)

    def kill(model):
        rng = np.random.default_rng(seed)
        for name, dead in (("pw", [0, 5, 6, 11]), ("k3", [1, 2, 3, 4, 5, 6, 7, 9])):
            layer = model.get_layer(name)
            w, b = layer.get_weights()
            w[..., dead] = 0.0
            b[dead] = rng.standard_normal(len(dead))
            layer.set_weights([w, b])

    import keras

    import opmodels
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(6, 5, 8), batch_size=1)
    model = keras.Model(inp, build(inp))
    opmodels._randomize_weights(model, seed)
    kill(model)
    return int8_tflite(model, opmodels._calib([(6, 5, 8)], seed))


def test_conv2d_dead_channels_host(dsp_runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(conv_with_dead_channels(31), dsp_runtime_lib, tmp_path, "CONV_2D")
    live = [c.params.live_c for c in gen.calls if c.function == "ek_conv2d_dsp_s8"]
    assert sorted(live) == [2, 8], live


def conv_with_zero_blocks(shape, out_c: int, k: int, keep: float, seed: int, stride: int = 1) -> bytes:
    """A CONV_2D whose weights are zero in whole blocks of the block-sparse kernel: 16 consecutive
    taps (in (ky, kx, c) order, the column order when a filter row is whole words) of a pair of
    output channels, each block kept with probability ``keep``; one pair keeps no block (its
    channels are constants) and one keeps every block."""
    import keras

    import opmodels
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    layer = keras.layers.Conv2D(out_c, k, strides=stride, padding="same", activation="relu")
    model = keras.Model(inp, layer(inp))
    opmodels._randomize_weights(model, seed)
    w, b = layer.get_weights()
    rng = np.random.default_rng(seed)
    flat = w.reshape(-1, out_c)
    blocks = -(-flat.shape[0] // 16)
    kept = rng.random(((out_c + 1) // 2, blocks)) < keep
    kept[0] = False
    kept[-1] = True
    for q in range((out_c + 1) // 2):
        for blk in np.flatnonzero(~kept[q]):
            flat[16 * blk:16 * blk + 16, 2 * q:2 * q + 2] = 0.0
    layer.set_weights([flat.reshape(w.shape), b])
    return int8_tflite(model, opmodels._calib([shape], seed))


SPARSE_CASES = [  # input shape, out channels, kernel, fraction of blocks kept, seed, stride
    ((6, 7, 48), 10, 1, 0.4, 50, 1),    # 3 blocks a pair
    ((5, 5, 64), 7, 1, 0.5, 51, 1),     # an odd channel count: the last pair a copy
    ((9, 9, 16), 12, 3, 0.3, 52, 2),    # 3x3, 9 blocks; stride 2, border windows
    ((4, 6, 40), 9, 1, 0.5, 53, 1),     # k 40: the column padded to 48, the last block partial
    ((8, 8, 12), 16, 3, 0.2, 54, 1),    # k 108 -> 112, Winograd's shape: taken at a fifth of the blocks
]


@pytest.mark.parametrize("case", SPARSE_CASES, ids=str)
def test_conv2d_sparse_host(case, dsp_runtime_lib, tmp_path):
    """Block-sparse weights take ek_conv2d_sparse_dsp_s8, bit-exact; its stream holds only the
    blocks kept (fewer words than the dense kernel's), and where few blocks are zero the dense DSP
    kernel is kept."""
    shape, out_c, k, keep, seed, stride = case
    gen = assert_dsp_bit_exact(conv_with_zero_blocks(shape, out_c, k, keep, seed, stride), dsp_runtime_lib,
                               tmp_path / "sparse", "CONV_2D")
    (call,) = gen.calls
    assert call.function == "ek_conv2d_sparse_dsp_s8"
    assert call.params.k_pad % 16 == 0
    dense = assert_dsp_bit_exact(conv_with_zero_blocks(shape, out_c, k, 1.0, seed, stride), dsp_runtime_lib,
                                 tmp_path / "dense", "CONV_2D")
    assert dense.calls[0].function in ("ek_conv2d_dsp_s8", "ek_conv3x3_wino_dsp_s8")
    assert call.params.stream.nbytes < dense.calls[0].params.stream.nbytes


def test_sparse_stream_layout():
    """The stream lists, per channel pair, exactly the blocks with a nonzero weight of either
    channel, each as its byte offset (block * 128) and eight words, then -1 and the terms."""
    from edgekit.codegen.ops.dsp_conv import LAST_PAIR, SPARSE_END, sparse_stream

    w = np.zeros((4, 48), np.int64)
    w[0, 20] = 3          # pair 0: block 1 (k 16..31)
    w[1, 47] = -2         # pair 0: block 2
    w[3, 0] = 1           # pair 1: block 0
    table = np.arange(4 * 4).reshape(4, 4)
    s = sparse_stream(w, table, np.arange(4), 48)
    pair0 = [table[0, 0], table[1, 0], 128, *[0] * 8, 256, *[0] * 8, SPARSE_END]
    assert list(s[:2]) == pair0[:2] and s[2] == 128 and s[11] == 256 and s[20] == SPARSE_END
    assert len(s) == 2 + 2 * 9 + 1 + 6 + 2 + 9 + 1 + 6
    assert s[27 + 2] == 0 and s[27 + 2 + 9] == SPARSE_END  # pair 1: block 0 only
    assert s[-1] & LAST_PAIR and not s[26] & LAST_PAIR


def conv_clustered(shape, out_c: int, k: int, values: int, seed: int, stride: int = 1, wide: bool = False) -> bytes:
    """A CONV_2D whose every output channel's weights take at most ``values`` float values (k-means
    clustering's result, per channel), so that each channel has at most that many int8 values.
    ``wide``: its output concatenated with 4x the input, which gives it a range wider than its
    ReLU6, so that the fused clamp is not the int8 range (act_full 0)."""
    import keras

    import opmodels
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    layer = keras.layers.Conv2D(out_c, k, strides=stride, padding="same", activation="relu6")
    y = layer(inp)
    model = keras.Model(inp, keras.layers.Concatenate()([y, inp * 4.0]) if wide else y)
    opmodels._randomize_weights(model, seed)
    w, b = layer.get_weights()
    rng = np.random.default_rng(seed)
    flat = w.reshape(-1, out_c)
    for n in range(out_c):
        levels = np.sort(rng.normal(0.0, float(np.std(flat[:, n])) + 1e-3, values))
        flat[:, n] = levels[np.abs(flat[:, n][:, None] - levels[None, :]).argmin(axis=1)]
    layer.set_weights([flat.reshape(w.shape), b])
    return int8_tflite(model, opmodels._calib([shape], seed))


PAL_CASES = [  # input shape, out channels, kernel, values per channel, seed, stride; bits expected
    ((6, 7, 96), 10, 1, 16, 60, 1, 4),    # 1x1: no column padding, 16 values
    ((5, 5, 64), 7, 1, 4, 61, 1, 2),      # odd channel count: the last pair a copy; 2 bits
    ((9, 9, 16), 12, 3, 2, 62, 2, 1),     # 3x3 stride 2, border windows; 1 bit
    ((6, 6, 6), 9, 3, 3, 63, 1, 2),       # k 54: column padding (a zero in each table: 4 values)
    ((6, 6, 256), 80, 1, 16, 64, 1, 4),   # several chunks: 40 pairs of 136 words, 15 a chunk
    ((1, 1, 96), 41, 1, 16, 65, 1, 4),    # one pixel (a 1x1 map): decoded in registers; odd channels
    ((1, 1, 200), 24, 1, 4, 66, 1, 2),    # one pixel, 2 bits: 50 groups of four k, a partial last word
    ((1, 1, 64), 16, 1, 2, 67, 1, 1),     # one pixel, 1 bit
]
PAL_PIXEL = "ek_conv2d_pal_dsp_pixel_s8"


def _pal_function(shape, k) -> str:
    """One output pixel whose column is the input itself (a 1x1 filter on a 1x1 map of whole words)
    takes the one-pixel kernel."""
    return PAL_PIXEL if shape[:2] == (1, 1) and k == 1 and shape[2] % 4 == 0 else "ek_conv2d_pal_dsp_s8"


@pytest.mark.parametrize("case", PAL_CASES, ids=str)
def test_conv2d_pal_dsp_host(case, dsp_runtime_lib, tmp_path):
    """Weights with few values per channel take ek_conv2d_pal_dsp_s8, bit-exact; its stream is
    smaller than the int8 kernel's, which runs them where weights are not packed; a layer of more
    pairs than a chunk holds declares no output/input overlap."""
    shape, out_c, k, values, seed, stride, bits = case
    model = conv_clustered(shape, out_c, k, values, seed, stride)
    gen = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path / "pal", "CONV_2D")
    (call,) = gen.calls
    assert call.function == _pal_function(shape, k)
    assert call.params.bits == bits
    dense = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path / "dense", "CONV_2D", target=DSP_UNPACKED)
    # int8 weights: one pixel whose window is the whole input is a fully connected layer
    one_pixel = shape[:2] == (1, 1) and k == 1
    fc = ("ek_fully_connected_dsp_s8", "ek_fully_connected_lean_dsp_s8")
    assert dense.calls[0].function in (fc if one_pixel else ("ek_conv2d_dsp_s8", "ek_conv3x3_wino_dsp_s8"))
    if dense.calls[0].function == "ek_conv2d_dsp_s8":
        assert call.params.conv.stream.nbytes < dense.calls[0].params.stream.nbytes
    if one_pixel:
        assert call.params.conv.stream.nbytes < dense.calls[0].params.weights.nbytes
    if call.function == PAL_PIXEL:  # no scratch; it reads the whole input for every pair
        assert call.scratch_bytes == 0 and call.overlaps == ()
        return
    pairs = (out_c + 1) // 2
    assert (call.params.chunk_pairs < pairs) == (out_c == 80)
    assert (call.overlaps == ()) == (call.params.chunk_pairs < pairs)


def test_conv2d_pal_dsp_clamped_once(dsp_runtime_lib, tmp_path):
    """Several chunks and a clamp narrower than int8: the chunks' walks leave it and the kernel
    clamps the whole output once at the end, bit-exact."""
    gen = assert_dsp_bit_exact(conv_clustered(*PAL_CASES[4][:5], wide=True), dsp_runtime_lib, tmp_path, "CONV_2D")
    (call,) = [c for c in gen.calls if c.op.type_name == "CONV_2D"]
    assert call.function == "ek_conv2d_pal_dsp_s8" and call.params.conv.act_full == 0
    assert call.params.chunk_pairs < (call.params.conv.live_c + 1) // 2


def test_pal_stream_layout():
    """Per channel pair: biases, the two channels' tables, the indices of the int8 kernel's weight
    bytes (even bytes the first channel's), the terms; decoding it gives conv_stream's words."""
    from edgekit.codegen.ops.dsp_conv import conv_stream, pal_stream

    rng = np.random.default_rng(3)
    w = rng.choice(np.array([-7, 0, 5, 100]), size=(3, 20))
    table = np.arange(3 * 4).reshape(3, 4)
    s, bits = pal_stream(w, table, np.arange(3), 20)
    dense = conv_stream(w, table, np.arange(3), 20)
    assert bits == 2
    per = 2 + 2 + 3 + 6  # biases, tables (2 x 4 bytes), ceil(20 * 2 / 16) index words, terms
    assert s.size == 2 * per
    for q in range(2):
        pair = s[q * per:(q + 1) * per].astype(np.int64) & 0xFFFFFFFF
        want = dense[q * 18:(q + 1) * 18]
        assert list(pair[:2]) == list(want[:2]) and list(s[q * per + 7:(q + 1) * per]) == list(want[12:])
        tables = pair[2:4].astype("<u4").view(np.int8).reshape(2, 4)
        codes = np.frombuffer(pair[4:7].astype("<u4").tobytes(), np.uint8)
        idx = (codes[:, None] >> (2 * np.arange(4))) & 3
        idx = idx.reshape(-1)[:40]
        weights = np.where(np.arange(40) % 2 == 0, tables[0][idx], tables[1][idx]).astype(np.int8)
        assert list(weights.view("<i4")) == list(want[2:12])


@pytest.fixture
def dsp_fc_for_any_size(monkeypatch):
    """The DSP fully connected kernel even for layers below SMALL_FC_MACS (the cases are small)."""
    from edgekit.codegen.ops import dsp_fully_connected

    monkeypatch.setattr(dsp_fully_connected, "SMALL_FC_MACS", 0)


def test_small_fully_connected_takes_the_portable_kernel(dsp_runtime_lib, tmp_path):
    """A classifier head of fewer than SMALL_FC_MACS MACs runs the portable kernel on DSP cores
    (smaller code, a few thousand cycles either way), bit-exact like the rest."""
    import keras

    from edgekit.codegen.ops.dsp_fully_connected import SMALL_FC_MACS

    model = keras_op(keras.layers.Dense(2), (256,), seed=8)
    assert 256 * 2 < SMALL_FC_MACS
    gen = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path, "FULLY_CONNECTED", expect_dsp=False)
    assert [c.function for c in gen.calls] == ["ek_fully_connected_s8"]


@pytest.mark.parametrize("in_f,units,act,per_tensor,bias,seed", [
    (16, 8, None, False, True, 0), (64, 10, "relu", False, True, 1), (33, 7, "relu6", True, True, 2),
    (128, 128, None, True, False, 3), (5, 50, "relu", False, False, 4), (200, 3, None, False, True, 5),
    (640, 128, "relu", False, True, 6),
])
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "scratch"])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fully_connected_host(in_f, units, act, per_tensor, bias, seed, lean, dsp_runtime_lib, tmp_path):
    """Both DSP kernels: the one widening the input once into scratch, and the lean one (no scratch,
    rows a multiple of 4 wide) that generate takes for a lone layer, whose scratch is the peak."""
    import keras

    model = keras_op(keras.layers.Dense(units, activation=act, use_bias=bias), (in_f,), seed=seed,
                     per_tensor=per_tensor)
    gen = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path, "FULLY_CONNECTED",
                               target=DSP if lean else DSP_SCRATCH)
    (call,) = [c for c in gen.calls if c.op.type_name == "FULLY_CONNECTED"]
    takes_lean = lean and in_f % 4 == 0
    assert call.function == ("ek_fully_connected_lean_dsp_s8" if takes_lean else "ek_fully_connected_dsp_s8")
    assert (call.scratch_bytes == 0) == takes_lean


@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fully_connected_batched_host(dsp_runtime_lib, tmp_path):
    import keras

    assert_dsp_bit_exact(keras_op(keras.layers.Dense(6), (4, 12), seed=7), dsp_runtime_lib, tmp_path,
                         "FULLY_CONNECTED")


def saturated_dense(in_f: int, units: int, seed: int) -> bytes:
    """A Dense layer whose weights are +-0.5..1 of each channel's largest (int8 +-64..127): paired
    words' upper rows near the int16 extremes above lower rows of either sign, every row's
    accumulator bound at least 128 * 64 * in_f."""
    import keras

    import opmodels
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(in_f,), batch_size=1)
    layer = keras.layers.Dense(units)
    model = keras.Model(inp, layer(inp))
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.5, 1.0, (in_f, units))
    layer.set_weights([np.where(rng.random((in_f, units)) < 0.5, -magnitude, magnitude).astype(np.float32),
                       rng.standard_normal(units).astype(np.float32)])
    return int8_tflite(model, opmodels._calib([(in_f,)], seed))


@pytest.mark.parametrize("in_f,paired", [(64, True), (640, False)], ids=["paired", "bound-too-wide"])
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "scratch"])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fully_connected_paired_layout_where_exact_host(in_f, paired, lean, dsp_runtime_lib, tmp_path):
    """Weights at +-64..127: 64 wide, every odd row's sum stays below 2^22 and the layer takes the
    paired layout (one SXTB16 per word); 640 wide it could reach 2^22 and the layer keeps the
    plain one. Both bit-exact."""
    gen = assert_dsp_bit_exact(saturated_dense(in_f, 12, 3), dsp_runtime_lib, tmp_path, "FULLY_CONNECTED",
                               target=DSP if lean else DSP_SCRATCH)
    (call,) = gen.calls
    assert call.function == ("ek_fully_connected_lean_dsp_s8" if lean else "ek_fully_connected_dsp_s8")
    assert call.params.paired == int(paired)


def narrow_dense(in_f: int, units: int, seed: int) -> bytes:
    """A Dense layer with a fused ReLU whose output is quantized over [-8, 8] (a fake-quant range,
    as QAT leaves): its output zero point is 0, so the kernels clamp at 0, not at int8's -128."""
    import tensorflow as tf

    from opmodels import fn_op

    rng = np.random.default_rng(seed)
    w = tf.constant((rng.standard_normal((in_f, units)) * 0.5).astype(np.float32))
    b = tf.constant(rng.standard_normal(units).astype(np.float32))

    def body(x):
        return tf.quantization.fake_quant_with_min_max_args(tf.nn.relu(tf.matmul(x, w) + b), -8.0, 8.0)

    return fn_op(body, [(in_f,)], seed=seed)


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "scratch"])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fully_connected_narrow_activation_host(lean, dsp_runtime_lib, tmp_path):
    """An activation range narrower than int8 (act_full 0) on both kernels, a partial last block."""
    gen = assert_dsp_bit_exact(narrow_dense(32, 10, 4), dsp_runtime_lib, tmp_path, "FULLY_CONNECTED",
                               target=DSP if lean else DSP_SCRATCH)
    (call,) = gen.calls
    assert (call.params.act_full, call.params.act_min) == (0, 0)


def test_paired_words_give_back_both_rows():
    """The paired layout's arithmetic as the kernel does it (SMLAD modulo 2^32, then (upper - lower)
    >> 8) gives each row's exact sum, up to an upper row's sum just below the limit, where the
    word's own sum leaves int32 and wraps; and paired_words refuses what it cannot do."""
    from edgekit.codegen.ops.dsp_common import PAIRED_ROW_LIMIT, gemm_weights, pair_order, paired_words

    def s8(v):
        return (v + 2**7) % 2**8 - 2**7

    def s16(v):
        return (v + 2**15) % 2**16 - 2**15

    def wrap32(v):
        return (v + 2**31) % 2**32 - 2**31

    rng = np.random.default_rng(5)
    k = 256
    rows = rng.integers(-128, 128, (8, k))
    rows[1] = -127  # the bottom of int16 above a lower row of either sign
    rows[3] = np.where(rows[2] < 0, 127, -128)  # -128 only above weights >= 0: still an int16
    xi = rng.choice([-128, 127], k)
    x = 2 * xi  # the doubled input the scratch kernel reads
    rows[7] = np.where(xi < 0, -127, 127)  # its sum near the most 256 rows can reach
    start = rng.integers(-1000, 1000, 8) * 2
    # the last pair: the upper row's doubled sum 2 (limit - 1), the lower's 4096: the word's sum,
    # 256 times the first plus the second, leaves int32 while both starts keep inside it
    start[7] = 2 * (PAIRED_ROW_LIMIT - 1) - int(rows[7] @ x)
    start[6] = 4096 - int(rows[6] @ x)
    assert 256 * (start[7] + rows[7] @ x) + (start[6] + rows[6] @ x) >= 2**31
    table = np.zeros((8, 4), np.int64)
    table[:, 0] = start
    bound = np.abs(start) // 2 + 128 * np.abs(rows).sum(axis=1)
    bound[7] = PAIRED_ROW_LIMIT - 1

    words, paired = paired_words(gemm_weights(rows, k, 4), table, bound)
    w = words.reshape(-1, 4).astype(np.int64)  # [block][k pair][row pair] words, four bytes each
    lo_half, hi_half = s16(w[:, 0] % 256 + 256 * (w[:, 1] % 256)), s16(w[:, 2] % 256 + 256 * (w[:, 3] % 256))
    ka, kb = pair_order(k).T
    for r in range(0, 8, 2):
        sel = slice((r // 4) * k + (r // 2) % 2, (r // 4 + 1) * k, 2)
        lo, hi = lo_half[sel], hi_half[sel]
        lower = int(start[r] + s8(lo) @ x[ka] + s8(hi) @ x[kb])  # SXTB16 of the word: the low bytes
        word_sum = wrap32(int(paired[r + 1, 0]) + int(lo @ x[ka] + hi @ x[kb]))  # SMLAD on the word as it is
        assert lower == start[r] + rows[r] @ x
        assert wrap32(word_sum - lower) >> 8 == start[r + 1] + rows[r + 1] @ x
    assert (paired[0::2, 0] == start[0::2]).all()

    refused = rows.copy()
    refused[1, 0], refused[0, 0] = -128, -1  # -128 above a negative weight: not an int16
    assert paired_words(gemm_weights(refused, k, 4), table, bound) is None
    wide = bound.copy()
    wide[5] = PAIRED_ROW_LIMIT
    assert paired_words(gemm_weights(rows, k, 4), table, wide) is None
    big = table.copy()
    big[3, 0] = 2**24  # 256 times it leaves int32
    assert paired_words(gemm_weights(rows, k, 4), big, bound) is None


def add_model(shape, seed: int, relu: bool = False, scales=(1.0, 3.0)) -> bytes:
    """Two inputs of different ranges added (optionally with a ReLU)."""
    import keras

    import opmodels
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    a, b = keras.Input(shape=shape, batch_size=1), keras.Input(shape=shape, batch_size=1)
    y = keras.layers.Add()([a, b])
    model = keras.Model([a, b], keras.layers.ReLU()(y) if relu else y)
    rng = np.random.default_rng(seed)
    calib = [[(rng.standard_normal((1, *shape)) * s).astype(np.float32) for s in scales]
             for _ in range(opmodels.CALIB_SAMPLES)]
    return int8_tflite(model, calib)


@pytest.mark.parametrize("shape,seed,relu,scales", [
    ((8, 8, 16), 41, False, (1.0, 3.0)), ((9, 7, 5), 42, True, (2.0, 0.5)), ((333,), 43, False, (1.0, 1.0)),
])
def test_add_host(shape, seed, relu, scales, dsp_runtime_lib, tmp_path):
    assert_dsp_bit_exact(add_model(shape, seed, relu, scales), dsp_runtime_lib, tmp_path, "ADD")


# ---------------------------------------------------------------------------- average pool

AVG_POOL_CASES = [  # input (H, W, C), pool, strides, padding, seed
    ((25, 5, 64), (25, 5), (1, 1), "valid", 60),    # kws's whole-map pool: whole rows, one run of pixels
    ((9, 7, 12), (3, 3), (2, 2), "same", 61),       # windows clipped at the border; channels 8 + 4
    ((11, 13, 13), (5, 5), (1, 1), "same", 62),     # channels 8 + 4 + 1 (the last one alone)
    ((20, 20, 8), (20, 20), (1, 1), "valid", 63),   # 400 pixels: two runs of the halfword lanes
    ((12, 30, 4), (12, 25), (1, 5), "valid", 64),   # 300 pixels of part rows, one group of four
]


def avg_pool_model(shape, pool, strides, padding, seed: int) -> bytes:
    import keras

    return keras_op(keras.layers.AveragePooling2D(pool_size=pool, strides=strides, padding=padding), shape,
                    seed=seed, calib_scale=0.5 + seed % 4)


@pytest.mark.parametrize("shape,pool,strides,padding,seed", AVG_POOL_CASES)
def test_avg_pool_host(shape, pool, strides, padding, seed, dsp_runtime_lib, tmp_path):
    assert_dsp_bit_exact(avg_pool_model(shape, pool, strides, padding, seed), dsp_runtime_lib, tmp_path,
                         "AVERAGE_POOL_2D")


@pytest.mark.parametrize("case", [3, 4], ids=["400-whole-rows", "300-part-rows"])
def test_avg_pool_lanes_hold_the_extremes(case, dsp_runtime_lib, tmp_path):
    """Windows of more than 256 pixels all at -128 or all at 127 (a halfword lane holds 256 of
    either, not 257), and the two alternating, equal to tflite-micro."""
    from edgekit.codegen import generate
    from edgekit.frontend import reference
    from edgekit.ir import parse_tflite
    from edgekit.target.host import build_host_runner, run_host

    model = avg_pool_model(*AVG_POOL_CASES[case])
    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model", target=DSP)
    assert [c.function for c in gen.calls] == ["ek_avg_pool_dsp_s8"]
    shape = graph.tensors[graph.inputs[0]].shape
    alternating = np.where(np.indices(shape).sum(axis=0) % 2 == 0, -128, 127).astype(np.int8)
    data = [[np.full(shape, -128, np.int8)], [np.full(shape, 127, np.int8)], [alternating]]
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=dsp_runtime_lib)
    for s, (o, w) in enumerate(zip(run_host(exe, gen.inputs, gen.outputs, data), reference.run_tflm(model, data))):
        np.testing.assert_array_equal(o[0], w[0].reshape(o[0].shape), err_msg=f"sample {s}")


MAX_POOL_CASES = [  # input (H, W, C), pool, strides, padding, seed
    ((8, 8, 4), (2, 2), (2, 2), "valid", 70),       # one word of channels
    ((9, 7, 12), (3, 3), (2, 2), "same", 71),       # windows clipped at the border, three words
    ((10, 10, 13), (3, 2), (1, 2), "valid", 72),    # three words and a channel alone
    ((16, 16, 16), (4, 4), (4, 4), "same", 73),
]


def max_pool_model(shape, pool, strides, padding, seed: int) -> bytes:
    import keras

    return keras_op(keras.layers.MaxPooling2D(pool_size=pool, strides=strides, padding=padding), shape,
                    seed=seed, calib_scale=0.5 + seed % 4)


def max_pool_relu6_model(seed: int) -> bytes:
    """A max pool with ReLU6 fused (its activation range narrower than int8): the clamp, four a word."""
    import tensorflow as tf

    from opmodels import fn_op

    return fn_op(lambda x: tf.nn.relu6(tf.nn.max_pool2d(x, ksize=3, strides=2, padding="SAME")), [(9, 9, 7)],
                 seed=seed, calib_scale=4.0)


@pytest.mark.parametrize("shape,pool,strides,padding,seed", MAX_POOL_CASES)
def test_max_pool_host(shape, pool, strides, padding, seed, dsp_runtime_lib, tmp_path):
    assert_dsp_bit_exact(max_pool_model(shape, pool, strides, padding, seed), dsp_runtime_lib, tmp_path,
                         "MAX_POOL_2D")


def test_max_pool_clamps_a_fused_relu6_host(dsp_runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(max_pool_relu6_model(74), dsp_runtime_lib, tmp_path, "MAX_POOL_2D")
    (call,) = gen.calls
    assert (call.params.act_min, call.params.act_max) != (-128, 127)


def test_avg_pool_of_few_channels_keeps_the_portable_kernel(dsp_runtime_lib, tmp_path):
    """Under four channels there is no word to sum: the portable kernel, exact."""
    gen = assert_dsp_bit_exact(avg_pool_model((9, 7, 3), (3, 3), (2, 2), "same", 65), dsp_runtime_lib, tmp_path,
                               "AVERAGE_POOL_2D", expect_dsp=False)
    assert [c.function for c in gen.calls] == ["ek_avg_pool_s8"]


def test_small_add_keeps_the_portable_kernel(dsp_runtime_lib, tmp_path):
    """Below ADD_DSP_MIN_SIZE elements the DSP add's 2 KB of tables do not pay: portable, still exact."""
    from edgekit.codegen.ops.dsp_add import ADD_DSP_MIN_SIZE

    shape = (5, 7, 3)
    assert np.prod(shape) < ADD_DSP_MIN_SIZE
    gen = assert_dsp_bit_exact(add_model(shape, 44, True, (2.0, 0.5)), dsp_runtime_lib, tmp_path, "ADD",
                               expect_dsp=False)
    assert [c.function for c in gen.calls if c.op.type_name == "ADD"] == ["ek_add_s8"]
    assert gen.weight_bytes < 1024


# ---------------------------------------------------------------------------- 16x8 (int16 activations)

S16_CONV_CASES = [  # input shape, filters, kernel, strides, padding, dilation, groups, activation, seed
    ((9, 9, 3), 4, 3, 1, "same", 1, 1, None, 0),  # k 27: a tail of three taps, padding skipped
    ((10, 8, 2), 5, (3, 2), (2, 1), "valid", 1, 1, "relu", 1),  # an odd last channel alone
    ((11, 11, 4), 3, 3, 2, "same", 1, 1, "relu6", 2),
    ((12, 12, 2), 6, 3, 1, "same", 2, 1, None, 3),  # dilation: taps gathered one by one
    ((8, 8, 32), 32, 1, 1, "valid", 1, 1, None, 4),  # pointwise: one run of 32 taps per pixel
    ((7, 7, 16), 16, 3, 1, "same", 1, 1, "relu", 5),  # rows of 48 taps
    ((6, 6, 6), 9, 1, 1, "valid", 1, 3, None, 6),  # grouped, 3 channels a group: pairs split at groups
    ((6, 6, 8), 8, 3, 1, "same", 1, 2, None, 7),  # grouped 3x3
]


@pytest.mark.parametrize("case", S16_CONV_CASES, ids=str)
def test_conv2d_s16_dsp_host(case, dsp_runtime_lib, tmp_path):
    """ek_conv2d_dsp_s16: the int16 test cases and the kernel's own paths (tails, odd channels, groups)."""
    import keras

    shape, filters, k, strides, padding, dilation, groups, act, seed = case
    layer = keras.layers.Conv2D(filters, k, strides=strides, padding=padding, dilation_rate=dilation,
                                groups=groups, activation=act)
    model = keras_op(layer, shape, seed=seed, activations="int16")
    assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path, "CONV_2D", functions_of=DSP_S16_FUNCTIONS)


@pytest.mark.parametrize("in_f,units,act,per_tensor,seed", [
    (16, 8, None, False, 0), (64, 10, "relu", True, 1), (33, 7, "relu6", False, 2), (200, 3, None, False, 3),
    (128, 64, None, False, 4),
])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fully_connected_s16_dsp_host(in_f, units, act, per_tensor, seed, dsp_runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Dense(units, activation=act), (in_f,), seed=seed, per_tensor=per_tensor,
                     activations="int16")
    assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path, "FULLY_CONNECTED", functions_of=DSP_S16_FUNCTIONS)


def test_small_s16_fully_connected_takes_the_portable_kernel(dsp_runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Dense(2), (256,), seed=8, activations="int16")
    gen = assert_dsp_bit_exact(model, dsp_runtime_lib, tmp_path, "FULLY_CONNECTED", expect_dsp=False)
    assert [c.function for c in gen.calls] == ["ek_fully_connected_s16"]


# ---------------------------------------------------------------------------- requantization


def test_requant2_equals_tflite_arithmetic():
    """ek_requant2 (SMMLAR, sign fix, shift, offset folded in c) == MultiplyByQuantizedMultiplier
    + offset, for multipliers and shifts as quantize_multiplier makes them and accumulators
    within the bound the generator enforces."""
    from edgekit.codegen.ops.dsp_common import requant_table
    from edgekit.codegen.arith import multiply_by_quantized_multiplier, quantize_multiplier

    rng = np.random.default_rng(5)
    for trial in range(300):
        real = float(np.exp(rng.uniform(np.log(1e-7), np.log(0.49))))
        m, s = quantize_multiplier(real)
        offset = int(rng.integers(-128, 128))
        amax = int(rng.integers(1, 2**29))
        table = requant_table(np.array([0]), np.array([m]), np.array([s]), offset, np.array([amax]))
        assert table is not None, (real, m, s, amax)
        _, mm, c, right = (int(v) for v in table[0])
        acc = rng.integers(-amax, amax + 1, 2000, dtype=np.int64)
        acc = np.concatenate([acc, [0, 1, -1, amax, -amax]])
        a2 = 2 * acc
        t = ((a2 * mm + (1 << 31)) >> 32) + c + (a2 >> 63)  # SMMLAR, then + (acc2 >> 31)
        ours = t >> right
        want = multiply_by_quantized_multiplier(acc, m, s) + offset
        np.testing.assert_array_equal(ours, want, err_msg=f"real {real} m {m} shift {s}")


def test_requant2_clamped_equals_tflite_where_the_clamp_starts_at_the_zero_point():
    """Without its sign term (ek_requant2_clamped, EK_REQUANT_BELOW_ZERO_POINT 0) the requantization
    can differ from TFLite's, but never after a clamp whose act_min is at or above the output
    offset: the values it changes are the offset or below. Ties are made likely (small shifts,
    accumulators on the rounding boundary) so that the sign term matters before the clamp."""
    from edgekit.codegen.ops.dsp_common import requant_table
    from edgekit.codegen.arith import multiply_by_quantized_multiplier, quantize_multiplier

    rng = np.random.default_rng(6)
    differs_unclamped = 0
    for trial in range(300):
        real = float(np.exp(rng.uniform(np.log(1e-4), np.log(0.49))))
        m, s = quantize_multiplier(real)
        offset = int(rng.integers(-128, 100))
        act_min = int(rng.integers(offset, 128))
        amax = int(rng.integers(1, 2**24))
        table = requant_table(np.array([0]), np.array([m]), np.array([s]), offset, np.array([amax]))
        _, mm, c, right = (int(v) for v in table[0])
        acc = rng.integers(-amax, amax + 1, 2000, dtype=np.int64)
        acc = np.concatenate([acc, [0, 1, -1, amax, -amax]])
        a2 = 2 * acc
        ours = (((a2 * mm + (1 << 31)) >> 32) + c) >> right  # SMMLAR, shift: no sign term
        want = multiply_by_quantized_multiplier(acc, m, s) + offset
        differs_unclamped += int(np.any(ours != want))
        np.testing.assert_array_equal(np.clip(ours, act_min, 127), np.clip(want, act_min, 127),
                                      err_msg=f"real {real} m {m} shift {s} offset {offset} act_min {act_min}")
    assert differs_unclamped > 0  # the sign term was needed before the clamp in some trials


@pytest.mark.parametrize("case,switch", [
    (CC((9, 9), 3, 8, (3, 3), (2, 2), "same", (1, 1), 1, "relu", False, True, 24), 0),
    (CC((5, 5), 8, 16, (1, 1), (1, 1), "valid", (1, 1), 1, "relu6", False, True, 41), 0),
    (CC((1, 2), 5, 3, (1, 1), (1, 1), "valid", (1, 1), 1, "n1to1", False, False, 26), 1),
    (CC((6, 6), 16, 32, (3, 3), (1, 1), "same", (1, 1), 1, None, False, True, 25), 1),
    (Case((11, 11), 8, 1, (3, 3), (2, 2), "same", (1, 1), "relu", False, True, 42), 0),
    (Case((7, 9), 8, 1, (3, 3), (1, 1), "same", (1, 1), None, False, True, 44), 1),
], ids=["relu", "relu6", "n1to1", "none", "dw-relu", "dw-none"])
def test_requant_switch_follows_the_activations_host(case, switch, tmp_path):
    """The generator turns EK_REQUANT_BELOW_ZERO_POINT off when every DSP conv and depthwise call
    clamps at or above its output zero point, and the kernels compiled from the generated
    directory (ek_config.h included: not the session's library) stay bit-exact with tflite-micro
    (dw-relu: the general depthwise kernel, rows of 6 at stride 2; dw-none: the rows kernel)."""
    model = conv_cases.build_conv(case) if isinstance(case, CC) else dw_cases.build_depthwise(case)
    gen = assert_switch_and_bit_exact(model, "EK_REQUANT_BELOW_ZERO_POINT", switch, 4, tmp_path)
    assert [c.function for c in gen.calls] in (["ek_conv2d_dsp_s8"], ["ek_depthwise_rows_dsp_s8"],
                                               ["ek_depthwise_dsp_s8"])


def assert_switch_and_bit_exact(model: bytes, switch: str, value: int, samples: int, tmp_path: Path):
    """Generate ``model`` for the DSP target; its ek_config.h sets ``switch`` to ``value``; the
    kernels compiled from the generated directory (that ek_config.h, not the session's library)
    give tflite-micro's outputs on ``samples`` random inputs; and where the model needs the switch,
    kernels configured without it (another model's) do not compile with it. Returns the model."""
    from edgekit.frontend import reference
    from edgekit.codegen import generate
    from edgekit.errors import ToolchainError
    from edgekit.ir import parse_tflite
    from edgekit.target.host import build_host_runner, random_inputs, run_host

    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model", target=DSP)
    config = gen.out_dir / "ek" / "ek_config.h"
    assert f"#define {switch} {value}" in config.read_text(), config.read_text()
    data = random_inputs(graph, samples, 0)
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1")
    for o, w in zip(run_host(exe, gen.inputs, gen.outputs, data), reference.run_tflm(model, data)):
        np.testing.assert_array_equal(o[0], w[0].reshape(o[0].shape))
    if value:
        config.write_text(config.read_text().replace(f"#define {switch} 1", f"#define {switch} 0"))
        with pytest.raises(ToolchainError, match=switch):
            build_host_runner(gen, tmp_path)
    return gen


@pytest.mark.parametrize("in_f,switch", [(64, 0), (640, 1)], ids=["paired", "plain"])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_fc_plain_weights_switch_follows_the_layout_host(in_f, switch, tmp_path):
    """EK_FC_PLAIN_WEIGHTS is on only where some fully connected call keeps the plain layout; the
    kernels compiled from the generated directory (its ek_config.h) stay bit-exact either way, and
    kernels configured without the plain loops refuse a model that needs them."""
    gen = assert_switch_and_bit_exact(saturated_dense(in_f, 12, 3), "EK_FC_PLAIN_WEIGHTS", switch, 3, tmp_path)
    (call,) = gen.calls
    assert call.params.paired == 1 - switch


def test_requant_table_refuses_what_it_cannot_do():
    from edgekit.codegen.ops.dsp_common import requant_table

    one = np.array([0])
    assert requant_table(one, np.array([1 << 30]), np.array([1]), 0, np.array([100])) is None  # left shift
    assert requant_table(one, np.array([1 << 30]), np.array([0]), 0, np.array([100])) is None  # right 0
    assert requant_table(one, np.array([1 << 30]), np.array([-3]), 0, np.array([2**30])) is None  # overflow
    dead = requant_table(one, np.array([0]), np.array([0]), -5, np.array([100]))
    assert dead is not None and dead[0, 1] == 0


# ---------------------------------------------------------------------------- on the emulated board

needs_board = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                 reason="needs qemu-system-arm and arm-none-eabi-gcc")


def assert_bit_exact_on_board(model: bytes, tmp_path: Path, board_name: str, op_type: str, samples: int = 3,
                              winograd_min_pixels: int | None = WINOGRAD_MIN_PIXELS, lean_kernels: bool = True,
                              banded_ops: frozenset[int] = frozenset(), direct_dw_ops: frozenset[int] = frozenset(),
                              winograd_block_tiles: int | None = None):
    """Build the firmware (DSP kernels: the board's core has the extension), run it in QEMU through
    the serial harness, compare every output with tflite-micro (``banded_ops``: operators lowered
    for bands, as a streamed segment's are; ``direct_dw_ops``: depthwise ones of them on the
    general kernel; ``winograd_block_tiles``: Winograd's blocks, else the board's)."""
    from edgekit.target.boards import load_board
    from edgekit.target.build import build_firmware
    from edgekit.harness.deploy import connect
    from edgekit.harness.profile import profile

    path = tmp_path / "case.tflite"
    path.write_bytes(model)
    board = load_board(board_name)
    target = dataclasses.replace(target_for_cpu(board.cpu), winograd_min_pixels=winograd_min_pixels,
                                 lean_kernels=lean_kernels, banded_ops=banded_ops, direct_dw_ops=direct_dw_ops)
    if winograd_block_tiles is not None:
        target = dataclasses.replace(target, winograd_block_tiles=winograd_block_tiles)
    fw = build_firmware(path, board, tmp_path / "fw", target=target)
    functions = {c.op.type_name: c.function for c in fw.generated.calls}
    assert functions.get(op_type) in DSP_FUNCTIONS[op_type] + DSP_S16_FUNCTIONS.get(op_type, ()), functions
    with connect(board, None, fw.elf, log=lambda m: None) as dev:
        rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift,
                      samples=samples, seed=1)
    assert rep.reference == "tflite-micro"
    assert rep.passed, [s["max_abs_diff"] for s in rep.samples]
    return fw


BOARD_CASES = [
    ("conv-pointwise", lambda: conv_cases.build_conv(CONV_DSP_CASES[0]), "CONV_2D"),
    ("conv-odd-channels", lambda: conv_cases.build_conv(CONV_DSP_CASES[1]), "CONV_2D"),
    ("conv-3x3-s2-k27", lambda: conv_cases.build_conv(CONV_DSP_CASES[3]), "CONV_2D"),
    ("conv-3x3-k144", lambda: conv_cases.build_conv(CONV_DSP_CASES[4]), "CONV_2D"),
    ("conv-kws-first", lambda: conv_cases.build_conv(conv_cases.CASES[-8]), "CONV_2D"),
    ("conv-dead-channels", lambda: conv_with_dead_channels(32), "CONV_2D"),
    ("conv-one-pixel-fc", lambda: conv_cases.build_conv(CONV_FC_CASES[1]), "CONV_2D"),
    ("conv-c3-s2-odd", lambda: conv_cases.build_conv(CONV_DSP_CASES[6]), "CONV_2D"),
    ("conv-c3-valid", lambda: conv_cases.build_conv(CONV_DSP_CASES[7]), "CONV_2D"),
    ("conv-1x5-c1", lambda: conv_cases.build_conv(CONV_DSP_CASES[8]), "CONV_2D"),
    ("conv-tail-two-words", lambda: conv_cases.build_conv(CONV_DSP_CASES[9]), "CONV_2D"),
    ("conv-c1-dilated", lambda: conv_cases.build_conv(CONV_DSP_CASES[10]), "CONV_2D"),
    ("conv-straddling-blocks", lambda: conv_cases.build_conv(CONV_DSP_CASES[12]), "CONV_2D"),
    ("conv-grouped-1x1", lambda: conv_cases.build_conv(CONV_DSP_CASES[14]), "CONV_2D"),
    ("conv-grouped-odd", lambda: conv_cases.build_conv(CONV_DSP_CASES[16]), "CONV_2D"),
    ("conv-grouped-3x3", lambda: conv_cases.build_conv(CONV_DSP_CASES[17]), "CONV_2D"),
    ("conv-sparse-1x1", lambda: conv_with_zero_blocks(*SPARSE_CASES[0]), "CONV_2D"),
    ("conv-sparse-odd", lambda: conv_with_zero_blocks(*SPARSE_CASES[1]), "CONV_2D"),
    ("conv-sparse-3x3-s2", lambda: conv_with_zero_blocks(*SPARSE_CASES[2]), "CONV_2D"),
    ("conv-pal-1x1", lambda: conv_clustered(*PAL_CASES[0][:-1]), "CONV_2D"),
    ("conv-pal-3x3-s2", lambda: conv_clustered(*PAL_CASES[2][:-1]), "CONV_2D"),
    ("conv-pal-chunks", lambda: conv_clustered(*PAL_CASES[4][:-1]), "CONV_2D"),
    ("conv-pal-chunks-clamped", lambda: conv_clustered(*PAL_CASES[4][:5], wide=True), "CONV_2D"),
    ("conv-pal-pixel", lambda: conv_clustered(*PAL_CASES[5][:-1]), "CONV_2D"),
    ("conv-pal-pixel-2bit", lambda: conv_clustered(*PAL_CASES[6][:-1]), "CONV_2D"),
    ("dw-kws", lambda: dw_cases.build_depthwise(DW_DSP_CASES[0]), "DEPTHWISE_CONV_2D"),
    ("dw-s2-relu6", lambda: dw_cases.build_depthwise(DW_DSP_CASES[1]), "DEPTHWISE_CONV_2D"),
    ("dw-5x3-n1to1", lambda: dw_cases.build_depthwise(DW_DSP_CASES[3]), "DEPTHWISE_CONV_2D"),
    ("fc-640", lambda: __import__("opmodels").keras_op(__import__("keras").layers.Dense(128, activation="relu"),
                                                       (640,), seed=6), "FULLY_CONNECTED"),
    ("fc-640-scratch", lambda: __import__("opmodels").keras_op(
        __import__("keras").layers.Dense(128, activation="relu"), (640,), seed=6), "FULLY_CONNECTED"),
    ("fc-640-unpaired", lambda: saturated_dense(640, 12, 3), "FULLY_CONNECTED"),
    ("fc-narrow-activation", lambda: narrow_dense(32, 10, 4), "FULLY_CONNECTED"),
    ("fc-odd", lambda: __import__("opmodels").keras_op(__import__("keras").layers.Dense(7), (33,), seed=2,
                                                       per_tensor=True), "FULLY_CONNECTED"),
    ("dw-rows-odd-channels", lambda: dw_cases.build_depthwise(DW_DSP_CASES[7]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-s2", lambda: dw_cases.build_depthwise(DW_DSP_CASES[8]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-width-1", lambda: dw_cases.build_depthwise(DW_DSP_CASES[10]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-narrow-s21", lambda: dw_cases.build_depthwise(DW_DSP_CASES[11]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-width-3-s2", lambda: dw_cases.build_depthwise(DW_DSP_CASES[13]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-4+2-relu6", lambda: dw_cases.build_depthwise(DW_DSP_CASES[14]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-width-2", lambda: dw_cases.build_depthwise(DW_DSP_CASES[15]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-s2-4+2", lambda: dw_cases.build_depthwise(DW_DSP_CASES[16]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-s2-groups", lambda: dw_cases.build_depthwise(DW_DSP_CASES[17]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-clamp-direct", lambda: dw_cases.build_depthwise(DW_DSP_CASES[19]), "DEPTHWISE_CONV_2D"),
    ("dw-rows-width-7", lambda: dw_cases.build_depthwise(DW_DSP_CASES[21]), "DEPTHWISE_CONV_2D"),
    ("add", lambda: add_model((8, 8, 16), 41), "ADD"),
    ("conv-s16-3x3", lambda: _s16_conv(S16_CONV_CASES[5]), "CONV_2D"),
    ("conv-s16-grouped", lambda: _s16_conv(S16_CONV_CASES[6]), "CONV_2D"),
    ("fc-s16", lambda: _s16_dense(33, 7), "FULLY_CONNECTED"),
    ("add-relu", lambda: add_model((9, 7, 5), 42, True, (2.0, 0.5)), "ADD"),
    ("avg-pool-kws", lambda: avg_pool_model(*AVG_POOL_CASES[0]), "AVERAGE_POOL_2D"),
    ("avg-pool-8+4+1", lambda: avg_pool_model(*AVG_POOL_CASES[2]), "AVERAGE_POOL_2D"),
    ("avg-pool-400", lambda: avg_pool_model(*AVG_POOL_CASES[3]), "AVERAGE_POOL_2D"),
    ("max-pool-3-words+1", lambda: max_pool_model(*MAX_POOL_CASES[2]), "MAX_POOL_2D"),
    ("max-pool-relu6", lambda: max_pool_relu6_model(74), "MAX_POOL_2D"),
]


def _s16_conv(case) -> bytes:
    import keras

    shape, filters, k, strides, padding, dilation, groups, act, seed = case
    return keras_op(keras.layers.Conv2D(filters, k, strides=strides, padding=padding, dilation_rate=dilation,
                                        groups=groups, activation=act), shape, seed=seed, activations="int16")


def _s16_dense(in_f: int, units: int) -> bytes:
    import keras

    return keras_op(keras.layers.Dense(units, activation="relu"), (in_f,), seed=9, activations="int16")


@needs_board
@pytest.mark.parametrize("name,build,op_type", BOARD_CASES, ids=[c[0] for c in BOARD_CASES])
@pytest.mark.usefixtures("dsp_fc_for_any_size")
def test_on_emulated_cortex_m4(name, build, op_type, tmp_path):
    fw = assert_bit_exact_on_board(build(), tmp_path, "qemu-mps2-an386", op_type,
                                   lean_kernels=not name.endswith("-scratch"))
    if name.startswith("conv-sparse"):
        assert [c.function for c in fw.generated.calls] == ["ek_conv2d_sparse_dsp_s8"]
    if name.startswith("fc-640"):  # a lone 640-wide layer: its scratch would be the peak
        (call,) = fw.generated.calls
        assert call.function == ("ek_fully_connected_dsp_s8" if name.endswith("-scratch")
                                 else "ek_fully_connected_lean_dsp_s8")
        assert call.params.paired == (0 if name.endswith("-unpaired") else 1)


@needs_board
def test_on_emulated_cortex_m7(tmp_path):
    assert_bit_exact_on_board(conv_cases.build_conv(CONV_DSP_CASES[4]), tmp_path, "qemu-mps2-an500", "CONV_2D")


@needs_board
def test_depthwise_on_emulated_cortex_m7(tmp_path):
    """The rows kernel's assembly on the Cortex-M7 (blocks of four and of two, stride 1)."""
    assert_bit_exact_on_board(dw_cases.build_depthwise(DW_DSP_CASES[0]), tmp_path, "qemu-mps2-an500",
                              "DEPTHWISE_CONV_2D")

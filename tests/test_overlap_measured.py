"""Declared overlap leads against the leads the compiled C needs, measured (tests/memtrace.py).

Every kernel function that declares ``KernelCall.overlaps`` runs on cases of its conformance
tests (their case lists and builders), the portable family for ``HOST`` and the DSP family
for ``Target("host-dsp", dsp=True)``; the lead the planner is given must be at least the one
measured from the C's own reads and writes. A larger declaration is allowed (it only wastes
arena) and is printed with its slack. Shapes are the conformance tests' small ones: lackey
runs the model some fifty times slower.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest

import test_compress as compress_tests
import test_int16x8 as int16x8_tests
import test_kernels_binary as binary_tests
import test_kernels_compare_select as compare_tests
import test_kernels_conv as conv_tests
import test_kernels_depthwise as dw_tests
import test_kernels_div as div_tests
import test_kernels_dsp as dsp_tests
import test_kernels_int4 as int4_tests
import test_kernels_l2norm as l2norm_tests
import test_kernels_log_softmax as log_softmax_tests
import test_kernels_mean as mean_tests
import test_kernels_minmax as minmax_tests
import test_kernels_pairwise as pairwise_tests
import test_kernels_pool as pool_tests
import test_kernels_reduce as reduce_tests
import test_kernels_softmax as softmax_tests
import test_kernels_unary as unary_tests
import test_kernels_winograd as wino_tests
from memtrace import OPT, generate_apart, measure, measure_generated
from opmodels import fn_op, int4_op, keras_graph, keras_op

from edgekit.codegen.overlap import sliding_window_lead
from edgekit.codegen.core import HOST, Target
from edgekit.ir import parse_tflite
from edgekit.target.host import build_runtime_lib

DSP = Target("host-dsp", dsp=True)


@pytest.fixture(scope="module")
def traced_lib(tmp_path_factory):
    """The runtime kernels as the traced runs link them: at memtrace.OPT, no sanitizers."""
    return build_runtime_lib(tmp_path_factory.mktemp("traced-runtime"), sanitize=False, opt=OPT)


class Case(NamedTuple):
    function: str  # the kernel the case must lower to
    target: Target
    id: str
    build: Callable[[], bytes]  # the .tflite model


def params(test_fn) -> list[tuple]:
    """The argument tuples of a conformance test's ``pytest.mark.parametrize``."""
    (mark,) = [m for m in test_fn.pytestmark if m.name == "parametrize"]
    return list(mark.args[1])


# ---------------------------------------------------------------------------- the cases


def _conv(c, function, target):
    # dense weights: a small random filter may be smaller palettized (ek_conv2d_pal_s8, its own cases)
    return Case(function, dataclasses.replace(target, weight_packing=False), c.id, lambda: conv_tests.build_conv(c))


def _dw(c, function, target):
    return Case(function, target, c.id, lambda: dw_tests.build_depthwise(c))


def _dw_dsp_function(c) -> str | None:
    """The DSP kernel a depthwise case lowers to (None: the portable one)."""
    if c.depth_multiplier != 1:
        return None
    from edgekit.codegen.ops.dsp_depthwise import DWR_MIN_OUTPUT_W

    s = c.strides[1]
    out_w = -(-c.hw[1] // s) if c.padding == "same" else (c.hw[1] - c.kernel[1]) // s + 1
    if c.kernel == (3, 3) and c.dilation == (1, 1) and s in (1, 2) and (out_w >= DWR_MIN_OUTPUT_W[s] or c.cin % 4):
        return "ek_depthwise_rows_dsp_s8"
    return "ek_depthwise_dsp_s8" if c.cin % 4 == 0 else None


def _pool(kind, shape, pool, strides, padding, seed):
    import keras

    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    return keras_op(cls(pool_size=pool, strides=strides, padding=padding), shape, seed=seed,
                    calib_scale=0.5 + seed % 4)


def _global_average(layer, shape, keepdims, calib, seed):
    import keras

    return keras_op(getattr(keras.layers, layer)(keepdims=keepdims), shape, seed=seed, calib_scale=calib)


def _reduce_mean(shape, axes, keepdims, calib, seed):
    import tensorflow as tf

    return fn_op(lambda x: tf.reduce_mean(x, axis=axes, keepdims=keepdims), [shape], seed=seed, calib_scale=calib)


def _reduce(kind, shape, axes, keepdims, calib, seed):
    fn = reduce_tests._reduce(kind)
    return fn_op(lambda x: fn(x, axis=axes, keepdims=keepdims), [shape], seed=seed, calib_scale=calib)


def _softmax(shape, calib, seed):
    import keras

    return keras_op(keras.layers.Softmax(), shape, seed=seed, calib_scale=calib)


def _binary_equal(kind, shape, seed):
    import keras

    layer = getattr(keras.layers, binary_tests.KERAS_LAYERS[kind])()
    return keras_graph(lambda a, b: layer([a, b]), [shape, shape], seed=seed, calib_scale=1.0 + seed)


def _binary_broadcast(kind, sa, sb, seed):
    import tensorflow as tf

    fn = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply}[kind]
    return fn_op(lambda a, b: fn(a, b), [sa, sb], seed=seed, calib_scale=0.5 + (seed % 3))


def _minmax(kind, sa, sb, seed):
    fn = minmax_tests._op(kind)
    return fn_op(lambda a, b: fn(a, b), [sa, sb], seed=seed, calib_scale=0.5 + (seed % 3))


def _packed_conv(shape, filters, k, s, pad, dil, groups, make, per_tensor):
    import keras

    layer = keras.layers.Conv2D(filters, k, strides=s, padding=pad, dilation_rate=dil, groups=groups,
                                activation="relu6")
    return compress_tests._model_with_kernel(layer, shape, sum(shape) + filters, make, per_tensor)


def _float_io_sigmoid(calib_scale, seed):
    import keras

    return unary_tests._float_io_model(lambda x: keras.layers.Activation("sigmoid")(x), unary_tests.SHAPE,
                                       seed, calib_scale)


LUT_OPS = sorted({c[0] for c in unary_tests.CASES})
_lut_cases = [next(c for c in unary_tests.CASES if c[0] == op) for op in LUT_OPS]  # one per operator

# a 5x5 window of 16 channels (400 bytes) takes ek_conv2d_s8's other path: no column, the window
# read again for every output channel (the conformance windows all fit the 256-byte column)
WIDE_WINDOW = conv_tests.Case((6, 7), 16, 6, (5, 5), (1, 1), "same", (1, 1), 1, "relu", False, True, 90)

# Lackey runs some fifty times slower and every case converts its model: the conv and depthwise
# conformance lists alternate between the two families (each case is measured once), the
# palettized and Winograd lists leave out their largest cases.
CASES = [
    *[_conv(c, "ek_conv2d_s8", HOST) for c in (*conv_tests.CASES[::2], WIDE_WINDOW)],
    *[Case("ek_conv2d_pal_s8", HOST, f"packed{i}", lambda a=compress_tests.CONV_CASES[i]: _packed_conv(*a))
      for i in (1, 2, 5)],  # palettes of 4 and 2 values, sparse
    *[_dw(c, "ek_depthwise_conv2d_s8", HOST) for c in dw_tests.CASES[::2]],
    *[Case(f"ek_{kind}_pool_s8", HOST, f"{kind}-{'x'.join(map(str, shape))}-p{pool[0]}{pool[1]}-s{st[0]}{st[1]}-"
           f"{pad}", lambda a=(kind, shape, pool, st, pad, seed): _pool(*a))
      for kind, shape, pool, st, pad, seed in pool_tests.CASES],
    *[Case("ek_mean_s8", HOST, f"{a[0]}-{'x'.join(map(str, a[1]))}", lambda a=a: _global_average(*a))
      for a in params(mean_tests.test_keras_global_average)],
    *[Case("ek_mean_s8", HOST, f"{'x'.join(map(str, a[0]))}-axes{''.join(map(str, a[1]))}", lambda a=a: _reduce_mean(*a))
      for a in params(mean_tests.test_reduce_mean)],
    *[Case({"REDUCE_MAX": "ek_reduce_max_s8", "REDUCE_MIN": "ek_reduce_min_s8", "SUM": "ek_mean_s8"}[a[0]], HOST,
           f"{a[0]}-{'x'.join(map(str, a[1]))}-axes{''.join(map(str, a[2]))}", lambda a=a: _reduce(*a))
      for a in reduce_tests.CASES[::2]],
    *[Case("ek_softmax_s8", HOST, f"{'x'.join(map(str, a[0]))}-x{a[1]}", lambda a=a: _softmax(*a))
      for a in softmax_tests.CASES[::2]],
    *[Case("ek_lut_s8", HOST, f"{op}-x{scale}", lambda a=(kind, arg, scale, seed): keras_op(
        unary_tests.layer(a[0], a[1]), unary_tests.SHAPE, seed=a[3], calib_scale=a[2]))
      for op, kind, arg, scale, seed in _lut_cases],
    *[Case(f"ek_lut_{'u8s8' if a[0] == 'uint8' else 's8u8'}", HOST, f"{a[0]}-{a[1]}-zp{a[2]}-{a[3]}",
           lambda a=a: unary_tests._quantize_model(0.02, a[2], a[4], a[3], a[0], a[1]))
      for a in params(unary_tests.test_requantize_uint8_handbuilt)],
    *[Case("ek_quantize_f32_s8", HOST, f"float-io-x{a[0]}", lambda a=a: _float_io_sigmoid(*a))
      for a in params(unary_tests.test_float_io_quantize_dequantize)],
    *[Case({"ADD": "ek_add_s8", "SUB": "ek_sub_s8", "MUL": "ek_mul_s8"}[a[0]], HOST,
           f"{a[0]}-{'x'.join(map(str, a[1]))}", lambda a=a: _binary_equal(*a))
      for a in params(binary_tests.test_keras_equal_shapes)],
    *[Case({"ADD": "ek_add_s8", "SUB": "ek_sub_s8", "MUL": "ek_mul_s8"}[a[0]], HOST,
           f"{a[0]}-{'x'.join(map(str, a[1]))}-{'x'.join(map(str, a[2]))}", lambda a=a: _binary_broadcast(*a))
      for a in binary_tests.BROADCASTS if np.broadcast_shapes(a[1], a[2]) in (a[1], a[2])],  # one input full size
    *[Case(f"ek_{a[0].lower()}_s8", HOST, f"{a[0]}-{'x'.join(map(str, a[1]))}-{'x'.join(map(str, a[2]))}",
           lambda a=a: _minmax(*a)) for a in params(minmax_tests.test_broadcast)],
    *[Case("ek_l2norm_s8", HOST, f"L2-{'x'.join(map(str, a[0]))}", lambda a=a: l2norm_tests.l2norm_model(*a))
      for a in l2norm_tests.CASES[::2]],
    *[Case("ek_log_softmax_s8", HOST, f"LOG_SOFTMAX-{'x'.join(map(str, a[0]))}",
           lambda a=a: log_softmax_tests.log_softmax_model(*a)) for a in log_softmax_tests.CASES[::2]],
    *[Case("ek_prelu_s8", HOST, f"PRELU-{'x'.join(map(str, a[0]))}-shared{a[1]}",
           lambda a=a: pairwise_tests.prelu_model(*a)) for a in pairwise_tests.PRELU_CASES[:3]],
    *[Case("ek_squared_difference_s8", HOST, f"SQD-{'x'.join(map(str, a[0]))}-{'x'.join(map(str, a[1]))}",
           lambda a=a: pairwise_tests.squared_difference_model(*a))
      for a in pairwise_tests.SQUARED_DIFFERENCE_CASES if np.broadcast_shapes(a[0], a[1]) in (a[0], a[1])],
    *[Case({"ADD": "ek_add_s16", "SUB": "ek_sub_s16", "MUL": "ek_mul_s16"}[a[0]], HOST,
           f"16x8-{a[0]}-{'x'.join(map(str, a[1]))}-{'x'.join(map(str, a[2]))}", lambda a=a: int16x8_tests._binary(*a))
      for a in int16x8_tests.BINARY if np.broadcast_shapes(a[1], a[2]) in (a[1], a[2])],
    *[Case("ek_mean_s16", HOST, f"16x8-{a[0]}-{'x'.join(map(str, a[1]))}-axes{''.join(map(str, a[2]))}",
           lambda a=a: int16x8_tests._reduction(*a)) for a in int16x8_tests.REDUCTIONS],
    *[Case("ek_div_s8", HOST, f"DIV-{'x'.join(map(str, a[0]))}-{'x'.join(map(str, a[1]))}",
           lambda a=a: div_tests._div_model(a[0], a[1], *a[2], a[4], a[3]))
      for a in div_tests.CASES if np.broadcast_shapes(a[0], a[1]) in (a[0], a[1])],
    *[Case("ek_compare_s8", HOST, f"{a[0]}-{'x'.join(map(str, a[1]))}-{'x'.join(map(str, a[2]))}",
           lambda a=a: compare_tests.where_model(a[0], a[1], a[2], a[4], a[3]))
      for a in compare_tests.CASES if np.broadcast_shapes(a[1], a[2]) in (a[1], a[2])],
    # the DSP family, on the host with the C twins of the DSP instructions
    # grouped, the DSP conv declares no overlap (test_kernels_dsp.py checks it)
    *[_conv(c, "ek_conv2d_dsp_s8", DSP) for c in conv_tests.CASES[1::2] if dsp_tests._conv_takes_dsp(c) and c.groups == 1],
    *[_conv(c, "ek_conv2d_dsp_s8", DSP) for c in dsp_tests.CONV_DSP_CASES if c.groups == 1],
    Case("ek_conv2d_dsp_s8", DSP, "dead-channels", lambda: dsp_tests.conv_with_dead_channels(31)),
    *[Case("ek_conv2d_sparse_dsp_s8", DSP, f"sparse{i}", lambda a=a: dsp_tests.conv_with_zero_blocks(*a))
      for i, a in enumerate(dsp_tests.SPARSE_CASES)],
    # palettized in one chunk: the int8 walk's overlap (several chunks declare none, test_kernels_dsp.py)
    *[Case("ek_conv2d_pal_dsp_s8", DSP, f"pal{i}", lambda a=a: dsp_tests.conv_clustered(*a[:-1]))
      for i, a in enumerate(dsp_tests.PAL_CASES[:4])],
    *[Case(int4_tests.INT4_CONV, DSP, f"int4-{'x'.join(map(str, a[0]))}-{a[1]}-k{a[2]}-s{a[3]}-{a[4]}",
           lambda a=a: int4_op("conv", a[0], a[1], seed=a[5], kernel=a[2], stride=a[3], padding=a[4]))
      for a in int4_tests.CONV_DSP_CASES[1:]],
    *[Case(wino_tests.WINO, wino_tests.ALWAYS, f"{'x'.join(map(str, c.hw))}x{c.c_in}-{c.c_out}-{c.padding}",
           lambda c=c: wino_tests.build(c)) for c in wino_tests.CASES[:5]],
    *[Case(wino_tests.WINO, wino_tests.ALWAYS4, f"{'x'.join(map(str, c.hw))}x{c.c_in}-{c.c_out}-{c.padding}-4",
           lambda c=c: wino_tests.build(c)) for c in wino_tests.CASES[:5:2]],
    *[_dw(c, _dw_dsp_function(c), dsp_tests.DSP_SCRATCH) for c in (*dw_tests.CASES[1::2], *dsp_tests.DW_DSP_CASES)
      if _dw_dsp_function(c)],
    *[Case("ek_add_dsp_s8", DSP, f"ADD-{'x'.join(map(str, a[0]))}", lambda a=a: dsp_tests.add_model(*a))
      for a in params(dsp_tests.test_add_host)],
    *[Case("ek_avg_pool_dsp_s8", DSP, f"avg-{'x'.join(map(str, a[0]))}-p{a[1][0]}{a[1][1]}-s{a[2][0]}{a[2][1]}",
           lambda a=a: dsp_tests.avg_pool_model(*a)) for a in dsp_tests.AVG_POOL_CASES[1:3]],
    *[Case("ek_max_pool_dsp_s8", DSP, f"max-{'x'.join(map(str, a[0]))}-p{a[1][0]}{a[1][1]}-s{a[2][0]}{a[2][1]}",
           lambda a=a: dsp_tests.max_pool_model(*a)) for a in dsp_tests.MAX_POOL_CASES[:3]],
]


KERNELS = Path(__file__).resolve().parents[1] / "firmware" / "kernels"
# kernels whose lowerings declare no overlap: their outputs never share bytes with an input
NO_OVERLAP = {"ek_concatenation_s8", "ek_dequantize_s8_f32", "ek_fully_connected_s8", "ek_fully_connected_pal_s8",
              "ek_conv2d_pal_dsp_pixel_s8",  # reads the whole input for every channel pair
              "ek_fully_connected_dsp_s8", "ek_fully_connected_lean_dsp_s8",
              "ek_fully_connected_int4_dsp_s8", "ek_pad_s8", "ek_strided_slice_s8",
              "ek_transpose_s8",
              "ek_resize_nearest_s8", "ek_resize_bilinear_s8",
              "ek_transpose_conv_s8", "ek_batch_matmul_s8", "ek_transpose_conv_dsp_s8", "ek_batch_matmul_dsp_s8",
              "ek_split_s8", "ek_gather_s8", "ek_arg_max_s8", "ek_arg_min_s8", "ek_space_to_batch_s8",
              "ek_batch_to_space_s8",
              "ek_lstm_s8", "ek_lstm_s16", "ek_svdf_s8",
              # 16x8: the planner keeps output and input apart (no lead declared for 2-byte elements)
              "ek_conv2d_s16", "ek_depthwise_conv2d_s16", "ek_fully_connected_s16", "ek_max_pool_s16",
              "ek_conv2d_dsp_s16", "ek_fully_connected_dsp_s16",
              "ek_avg_pool_s16", "ek_softmax_s16", "ek_quantize_f32_s16",
              "ek_dequantize_s16_f32", "ek_requant_s16", "ek_requant_s16_s8", "ek_requant_s8_s16", "ek_pad_s16",
              "ek_concatenation_s16", "ek_logistic_s16", "ek_tanh_s16", "ek_maximum_s16",
              "ek_minimum_s16", "ek_transpose_s16", "ek_strided_slice_s16",
              "ek_resize_nearest_s16", "ek_split_s16", "ek_transpose_conv_s16", "ek_batch_matmul_s16", "ek_pack_s16",
              "ek_select_s8", "ek_pack_s8",
              "ek_pool_sum_dsp_s8"}  # not a kernel: ek_avg_pool_dsp_s8's summing, which the DSP global pool shares
# streamed segments (ek_stream.h, dsp/ek_stream_dsp.h): each band call runs one of the kernels above on
# row buffers apart from one another; the only overlap is a segment's whole output over a whole input,
# declared from the row schedule (plan/stream.output_lead) and checked by tests/test_stream.py
# (ek_conv2d_dsp_s8_span: ek_conv2d_dsp_s8 on a span of output pixels, the ahead wrapper's kernel)
STREAM = {"ek_rows_keep", "ek_global_avg_pool_s8_rows", "ek_conv2d_dsp_s8_span"} | {
    f for h in ("ek_stream.h", "dsp/ek_stream_dsp.h")
    for f in re.findall(r"^void (ek_\w+_(?:rows|pixels|ahead))\(", (KERNELS / h).read_text(), re.M)}


def test_every_kernel_is_measured_or_declares_no_overlap():
    """A new kernel lands on one side: measured here, or listed as declaring no overlap."""
    functions = {f for h in KERNELS.rglob("*.h") for f in re.findall(r"^void (ek_\w+)\(", h.read_text(), re.M)}
    assert len(functions) > 20
    assert functions == {c.function for c in CASES} | NO_OVERLAP | STREAM
    assert {f[:-len("_rows")] for f in STREAM if f.endswith("_rows")} - {"ek_global_avg_pool_s8", "ek_global_avg_pool_dsp_s8"} <= functions


def _slack_note(m) -> str:
    slack = m.declared - m.lead
    return f" (declared {slack} bytes more than measured)" if slack > max(m.lead, 64) else ""


@pytest.mark.parametrize("case", CASES, ids=[f"{c.function}-{c.id}" for c in CASES])
def test_declared_lead_covers_the_measured_one(case, traced_lib, tmp_path):
    graph = parse_tflite(case.build(), name="case")
    found = measure(graph, tmp_path, traced_lib, case.target)
    assert case.function in {m.function for m in found}, f"no declaration of {case.function}: {found}"
    for m in found:
        where = f"{m.function} (op {m.op_index}, input {m.input})"
        print(f"{where}: declared {m.declared}, measured {m.lead}{_slack_note(m)}")
        assert m.reads and m.writes, f"{where}: {m.reads} reads, {m.writes} writes recorded"
        assert m.unwritten_output_bytes() == 0, f"{where}: stores missed output bytes"
        assert m.input_writes == 0, f"{where}: {m.input_writes} stores to its input"
    short = [(m.function, m.input, m.declared, m.lead) for m in found if m.declared < m.lead]
    assert not short, f"declared lead below the measured one (function, input, declared, measured): {short}"


# ---------------------------------------------------------------------------- the measurement itself


def test_measured_lead_follows_the_c_order(traced_lib, tmp_path):
    """A 1x1 convolution from 4 to 16 channels over 25 pixels: ek_conv2d_s8 reads a pixel's 4
    bytes, then writes its 16, so after pixel p's writes (ending at 16 (p + 1)) input pixel
    p + 1 (from 4 (p + 1)) is still read: the output must start 12 * 24 bytes below the input.
    A declared lead of 0 would be caught."""
    import keras

    graph = parse_tflite(keras_op(keras.layers.Conv2D(16, 1), (5, 5, 4), seed=3), name="case")
    (m,) = measure(graph, tmp_path, traced_lib, HOST)
    assert m.function == "ek_conv2d_s8"
    assert (m.reads, m.writes) == (25 * 4, 25 * 16)  # byte loads of the gathered column, byte stores
    assert m.lead == 12 * 24 > 0
    assert m.declared == sliding_window_lead((5, 5, 4), (5, 5, 16), (1, 1), (0, 0), (1, 1)) >= m.lead


def test_dsp_pointwise_keeping_its_channels_measures_zero(traced_lib, tmp_path):
    """The fact a streamed segment's in-place stage relies on (ek_conv2d_dsp.h, ek_conv2d_dsp_s8_pixels):
    a 1x1 DSP convolution from 16 to 16 channels over 25 pixels (six blocks of four, then one pixel)
    reads every pixel of a block before it writes any of the block's outputs, so its output may start
    at its input (measured lead 0)."""
    import keras

    graph = parse_tflite(keras_op(keras.layers.Conv2D(16, 1, activation="relu"), (5, 5, 16), seed=5), name="case")
    (m,) = measure(graph, tmp_path, traced_lib, dataclasses.replace(DSP, weight_packing=False))
    assert m.function == "ek_conv2d_dsp_s8" and m.reads and m.writes
    assert m.lead == 0 and m.declared >= m.lead


def test_in_place_kernel_measures_zero(traced_lib, tmp_path):
    """ek_lut_s8 reads element i before writing it, in ascending order: lead 0 measured."""
    import keras

    graph = parse_tflite(keras_op(keras.layers.ReLU(), (7, 9), seed=4), name="case")
    (m,) = measure(graph, tmp_path, traced_lib, HOST)
    assert (m.function, m.declared, m.lead) == ("ek_lut_s8", 0, 0)
    assert m.reads == m.writes == 63


def test_a_loop_turned_around_is_caught(tmp_path):
    """The failure the measurement exists for: ek_lut_s8's loop turned to walk downwards while
    its declaration still allows the output anywhere at or below the input (lead 0). An output
    1 to 62 bytes below the input would then overwrite input bytes still to be read; the
    measurement sees that the output must stay a whole tensor (63 bytes) below, and the check
    rejects the declaration."""
    import keras

    gen = generate_apart(parse_tflite(keras_op(keras.layers.ReLU(), (7, 9), seed=4), name="case"),
                         tmp_path / "model")
    lut = gen.out_dir / "ek" / "ek_lut.c"
    forward = "for (int32_t i = 0; i < p->size; ++i) {\n        output[i] = table[(uint8_t)input[i]];"
    assert forward in lut.read_text(), "ek_lut_s8's loop is not the one this test turns around"
    lut.write_text(lut.read_text().replace(forward, forward.replace(
        "int32_t i = 0; i < p->size; ++i", "int32_t i = p->size - 1; i >= 0; --i"), 1))
    (m,) = measure_generated(gen, tmp_path, runtime_lib=None)  # the kernels of gen.out_dir/ek
    assert (m.function, m.declared) == ("ek_lut_s8", 0)
    assert m.lead == 63 > m.declared

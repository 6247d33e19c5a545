"""int4 weights (TFLite's INT4 tensors, two values per byte, the first in the low nibble) for
FULLY_CONNECTED and CONV_2D, bit-exact with tflite-micro (which unpacks them to int8 at each
invoke): models converted at test time with TFLite's low-bit QAT option (``opmodels.int4_op``).

* the reader unpacks them (an odd count too) and the portable kernels run them widened to int8;
* on a DSP target FULLY_CONNECTED takes ek_fully_connected_int4_dsp_s8 and CONV_2D
  ek_conv2d_int4_dsp_s8, which keep them packed (half the flash of int8) and unpack them in
  registers: on the host with the C twins of the DSP instructions under ASan + UBSan, and on the
  emulated Cortex-M4 with their assembly.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from opmodels import assert_bit_exact, int4_op
from test_kernels_dsp import DSP, DSP_SCRATCH, assert_bit_exact_on_board, assert_dsp_bit_exact

from edgekit.ir import DType, parse_tflite

INT4_FC = "ek_fully_connected_int4_dsp_s8"
INT4_CONV = "ek_conv2d_int4_dsp_s8"

FC_CASES = [  # in_features, out_features, seed
    (40, 12, 0), (33, 7, 1), (16, 1, 2), (130, 10, 3), (5, 9, 4), (640, 128, 5),
]
CONV_CASES = [  # input shape, out channels, kernel, stride, padding, seed
    ((8, 8, 5), 6, 3, 1, "SAME", 10), ((9, 7, 1), 1, 3, 2, "VALID", 11), ((6, 6, 4), 3, 1, 1, "SAME", 12),
    ((10, 10, 3), 8, 3, 2, "SAME", 13),
]


def _int4_weights(model: bytes):
    graph = parse_tflite(model, name="case")
    (w,) = [t for t in graph.tensors if t.dtype == DType.INT4]
    return graph, w


@pytest.mark.parametrize("case", CONV_CASES[:2], ids=str)
def test_reader_unpacks_like_tflite(case):
    """The reader's values are the packed bytes' nibbles, low first (an odd count's last byte
    holds one value), and the tensor keeps its int4 type."""
    from tensorflow.lite.python import schema_py_generated as schema

    shape, out_c, k, stride, pad, seed = case
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad)
    graph, w = _int4_weights(model)
    raw = schema.Model.GetRootAsModel(model, 0)
    t = raw.Subgraphs(0).Tensors(w.index)
    packed = raw.Buffers(t.Buffer()).DataAsNumpy().view(np.int8)
    assert t.Type() == schema.TensorType.INT4 and packed.size == (w.data.size + 1) // 2
    flat = w.data.reshape(-1)
    np.testing.assert_array_equal(flat[0::2], (packed.astype(np.int16) << 12 >> 12)[:(flat.size + 1) // 2])
    np.testing.assert_array_equal(flat[1::2], packed[:flat.size // 2] >> 4)
    assert flat.min() >= -8 and flat.max() <= 7


@pytest.mark.parametrize("case", FC_CASES[:3], ids=str)
def test_fully_connected_portable_host(case, runtime_lib, tmp_path):
    in_f, out_f, seed = case
    assert_bit_exact(int4_op("dense", (in_f,), out_f, seed=seed), runtime_lib, tmp_path,
                     expect_ops=["FULLY_CONNECTED"])


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_portable_host(case, runtime_lib, tmp_path):
    shape, out_c, k, stride, pad, seed = case
    assert_bit_exact(int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad),
                     runtime_lib, tmp_path, expect_ops=["CONV_2D"])


@pytest.mark.parametrize("case", FC_CASES, ids=str)
def test_fully_connected_dsp_host(case, runtime_lib, tmp_path, monkeypatch):
    """The int4 DSP kernel (C twins), its weights half the int8 DSP kernel's bytes."""
    from edgekit.codegen.ops import dsp_fully_connected

    monkeypatch.setattr(dsp_fully_connected, "SMALL_FC_MACS", 0)
    in_f, out_f, seed = case
    model = int4_op("dense", (in_f,), out_f, seed=seed, bias=seed % 2 == 0)
    if in_f * out_f > 1000:  # the nibble whose sign extension matters most is there
        assert (_int4_weights(model)[1].data == -8).any()
    gen = assert_dsp_bit_exact(model, runtime_lib, tmp_path, "FULLY_CONNECTED",
                               target=DSP if seed % 2 else DSP_SCRATCH)
    (call,) = gen.calls
    assert call.function == INT4_FC
    k_pad = -(-in_f // 4) * 4
    assert call.params.weights.nbytes == -(-out_f // 4) * 4 * k_pad // 2
    assert call.scratch_bytes > 0


DW_CASES = [((8, 8, 6), 3, 1, "SAME", 20), ((9, 7, 5), 3, 2, "VALID", 21), ((6, 6, 16), 3, 1, "SAME", 22)]


@pytest.mark.parametrize("case", DW_CASES, ids=str)
def test_depthwise_host(case, runtime_lib, tmp_path):
    """DEPTHWISE_CONV_2D with int4 weights: portable, and on a DSP target its int8 DSP kernels
    on the widened weights."""
    shape, k, stride, pad, seed = case
    model = int4_op("depthwise", shape, shape[-1], seed=seed, kernel=k, stride=stride, padding=pad)
    assert _int4_weights(model)[1].dtype == DType.INT4
    assert_bit_exact(model, runtime_lib, tmp_path / "portable", expect_ops=["DEPTHWISE_CONV_2D"])
    assert_dsp_bit_exact(model, runtime_lib, tmp_path / "dsp", "DEPTHWISE_CONV_2D", expect_dsp=False, target=DSP)


# input shape, out channels, kernel, stride, padding, seed: 1x1 and 3x3, strides 1 and 2, SAME and
# VALID, odd channel counts, pixel counts not a multiple of 4, and columns of 1 to 18 words of
# int4 weights (every entry into the assembly's four-word loop: words % 4 = 0, 1, 2, 3)
CONV_DSP_CASES = [
    ((16, 16, 32), 64, 1, 1, "SAME", 30),   # pointwise, 8 words, 256 pixels
    ((5, 7, 12), 7, 1, 1, "VALID", 31),     # 3 words, 7 channels, 35 pixels
    ((6, 6, 20), 9, 1, 2, "SAME", 32),      # 5 words, stride 2, 9 pixels
    ((6, 6, 4), 3, 1, 1, "SAME", 12),       # 1 word
    ((8, 8, 5), 6, 3, 1, "SAME", 10),       # row of 15 taps: gathered last bytes, 12 words
    ((9, 7, 1), 1, 3, 2, "VALID", 11),      # one input and one output channel
    ((10, 10, 3), 8, 3, 2, "SAME", 13),     # c_in 3 (the quick column), 7 words, 25 pixels
    ((7, 9, 8), 5, 3, 1, "SAME", 33),       # 18 words, 63 pixels
]


def _without_int4_conv(monkeypatch):
    """CONV_2D's table without the int4 row: the int8 DSP kernels on the widened filter."""
    from edgekit.codegen.ops import conv

    monkeypatch.setattr(conv, "CONV_2D_KERNELS",
                        tuple(c for c in conv.CONV_2D_KERNELS if c.kernel != INT4_CONV))


@pytest.mark.parametrize("case", CONV_DSP_CASES, ids=str)
def test_conv_dsp_host(case, runtime_lib, tmp_path, monkeypatch):
    """The int4 DSP convolution (C twins), bit-exact; its stream is the int8 DSP kernel's with
    the weights' bytes halved."""
    shape, out_c, k, stride, pad, seed = case
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad, bias=seed % 2 == 0)
    gen = assert_dsp_bit_exact(model, runtime_lib, tmp_path / "int4", "CONV_2D",
                               target=DSP if seed % 2 else DSP_SCRATCH)
    (call,) = gen.calls
    assert call.function == INT4_CONV
    _without_int4_conv(monkeypatch)
    int8 = assert_dsp_bit_exact(model, runtime_lib, tmp_path / "int8", "CONV_2D",
                                target=dataclasses.replace(DSP, winograd_min_pixels=None))
    (call8,) = int8.calls
    assert call8.function == "ek_conv2d_dsp_s8"
    assert call.scratch_bytes == call8.scratch_bytes
    pairs = -(-call.params.live_c // 2)
    weight_bytes = pairs * 2 * call.params.k_pad  # the int8 kernel's: a byte per weight, two channels a pair
    assert call8.params.stream.nbytes - call.params.stream.nbytes == weight_bytes // 2
    assert gen.weight_bytes < int8.weight_bytes


#: one output pixel whose window is the whole input: the int4 fully connected kernel (input shape,
#: out channels, kernel, seed): a 1x1 filter on a 1x1 map (k a multiple of 4, and not), a filter the input's size
CONV_PIXEL_CASES = [((1, 1, 64), 48, 1, 40), ((1, 1, 30), 41, 1, 41), ((3, 3, 8), 24, 3, 42)]


@pytest.mark.parametrize("case", CONV_PIXEL_CASES, ids=str)
def test_one_pixel_conv_takes_the_int4_fully_connected_kernel(case, runtime_lib, tmp_path):
    """The int4 convolution kernel computes a block of four pixels for one; a one-pixel layer runs
    the int4 fully connected kernel on the flattened input, the weights still two per byte."""
    shape, out_c, k, seed = case
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, padding="VALID")
    gen = assert_dsp_bit_exact(model, runtime_lib, tmp_path, "CONV_2D")
    (call,) = gen.calls
    assert call.function == INT4_FC and call.overlaps == ()
    k_pad = -(-shape[0] * shape[1] * shape[2] // 4) * 4
    assert call.params.weights.values.size == -(-out_c // 4) * 4 * k_pad // 2  # two weights a byte


def test_conv_dsp_refuses_an_accumulator_that_could_leave_int32(runtime_lib, tmp_path, monkeypatch):
    """Where 32 (W x + b') could leave int32 the int4 kernel's row is passed over: the int8 DSP
    kernel runs the widened filter, bit-exact."""
    from edgekit.codegen.ops import dsp_conv

    monkeypatch.setattr(dsp_conv, "INT32_MAX", 1000)
    shape, out_c, k, stride, pad, seed = CONV_DSP_CASES[1]
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad)
    gen = assert_dsp_bit_exact(model, runtime_lib, tmp_path, "CONV_2D", target=DSP)
    assert gen.calls[0].function == "ek_conv2d_dsp_s8"


needs_board = pytest.mark.skipif(not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
                                 reason="needs qemu-system-arm and arm-none-eabi-gcc")


@needs_board
@pytest.mark.parametrize("case", [FC_CASES[1], FC_CASES[5]], ids=str)
def test_fully_connected_on_emulated_cortex_m4(case, tmp_path, monkeypatch):
    """The int4 kernel's assembly on the Cortex-M4 (odd step count and padding; 640x128)."""
    from edgekit.codegen.ops import dsp_fully_connected

    monkeypatch.setattr(dsp_fully_connected, "SMALL_FC_MACS", 0)
    in_f, out_f, seed = case
    fw = assert_bit_exact_on_board(int4_op("dense", (in_f,), out_f, seed=seed), tmp_path, "qemu-mps2-an386",
                                   "FULLY_CONNECTED")
    assert [c.function for c in fw.generated.calls] == [INT4_FC]


@needs_board
@pytest.mark.parametrize("case", [CONV_DSP_CASES[i] for i in (0, 1, 2, 3, 4, 6, 7)], ids=str)
def test_conv_on_emulated_cortex_m4(case, tmp_path):
    """The int4 convolution's assembly on the Cortex-M4: every entry into its four-word loop,
    1x1 and 3x3, strides, odd channel counts, partial four-pixel blocks."""
    shape, out_c, k, stride, pad, seed = case
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad, bias=seed % 2 == 0)
    fw = assert_bit_exact_on_board(model, tmp_path, "qemu-mps2-an386", "CONV_2D")
    assert [c.function for c in fw.generated.calls] == [INT4_CONV]


@needs_board
def test_one_pixel_conv_on_emulated_cortex_m4(tmp_path):
    shape, out_c, k, seed = CONV_PIXEL_CASES[1]
    fw = assert_bit_exact_on_board(int4_op("conv", shape, out_c, seed=seed, kernel=k, padding="VALID"), tmp_path,
                                   "qemu-mps2-an386", "CONV_2D")
    assert [c.function for c in fw.generated.calls] == [INT4_FC]


@needs_board
def test_conv_on_emulated_cortex_m7(tmp_path):
    """The same assembly on the Cortex-M7 (3x3, 18 words of weights: the loop entered at its third word)."""
    shape, out_c, k, stride, pad, seed = CONV_DSP_CASES[7]
    model = int4_op("conv", shape, out_c, seed=seed, kernel=k, stride=stride, padding=pad)
    fw = assert_bit_exact_on_board(model, tmp_path, "qemu-mps2-an500", "CONV_2D")
    assert [c.function for c in fw.generated.calls] == [INT4_CONV]


def _grouped_int4_conv(shape, out_c, groups, kernel, seed) -> bytes:
    """A grouped CONV_2D whose float weights lie on a 4-bit grid (per output channel k * s, k in
    -7..7, each channel's largest |k| 7), converted to int8 and stored as INT4 by edgekit's
    rewrite (``compress.int4.int4_weights``; the converter's low-bit option takes no groups)."""
    import keras

    from edgekit.compress.int4 import int4_weights
    from opmodels import _calib, _randomize_weights
    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    conv = keras.layers.Conv2D(out_c, kernel, padding="same", groups=groups, activation="relu")
    model = keras.Model(inp, conv(inp))
    _randomize_weights(model, seed)
    rng = np.random.default_rng(seed)
    w, b = conv.get_weights()
    k = rng.integers(-7, 8, w.shape)
    k[0, 0, 0, :] = 7 * rng.choice([-1, 1], out_c)  # every channel's largest |k| is 7
    conv.set_weights([(k * rng.uniform(0.02, 0.1, out_c)).astype(np.float32), b])
    t4, changed = int4_weights(int8_tflite(model, _calib([shape], seed)))
    assert changed, "the weights were not stored as int4"
    return t4


@pytest.mark.parametrize("case", [((8, 8, 32), 24, 2, 1, 40), ((7, 9, 12), 9, 3, 3, 41)], ids=str)
def test_grouped_conv_dsp_host(case, runtime_lib, tmp_path):
    """A grouped convolution with int4 weights takes the int4 DSP kernel (a group's part of the
    stream after another's), bit-exact."""
    shape, out_c, groups, k, seed = case
    gen = assert_dsp_bit_exact(_grouped_int4_conv(shape, out_c, groups, k, seed), runtime_lib, tmp_path,
                               "CONV_2D")
    (call,) = gen.calls
    assert call.function == INT4_CONV and call.params.groups == groups

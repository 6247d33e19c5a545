"""Element-wise operators (lookup-table kernels) and the float edges, bit-exact with tflite-micro.

Every int8 case feeds all 256 input bytes (``np.arange(-128, 128)`` in one sample) besides seeded
random samples, so the whole table is checked against TFLM. The calibration scale varies so the
quantization parameters (and with them the fixed-point paths: saturation radius, multiplier
shifts) differ between cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.ir import parse_tflite
from opmodels import _calib, keras_op

SHAPE = (16, 16)  # 256 elements: one sample holds every int8 value


def run_bit_exact(model: bytes, runtime_lib, tmp_path, extra=(), expect_ops=(), seed=0):
    """Generate, compile (ASan+UBSan), run on ``extra`` samples plus seeded random ones and
    compare with tflite-micro bit for bit."""
    from edgekit.frontend import reference
    from edgekit.codegen import generate
    from edgekit.target.host import build_host_runner, random_inputs, run_host

    graph = parse_tflite(model, name="case")
    kinds = [op.type_name for op in graph.ops]
    for k in expect_ops:
        assert k in kinds, f"converter did not produce {k}: {kinds}"
    data = [list(s) for s in extra] + random_inputs(graph, 2, seed)
    gen = generate(graph, tmp_path / "model")
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
    ours = run_host(exe, gen.inputs, gen.outputs, data)
    want = reference.run_tflm(model, data)
    for s, (o, w) in enumerate(zip(ours, want)):
        for k, (a, b) in enumerate(zip(o, w)):
            np.testing.assert_array_equal(a, b.reshape(a.shape), err_msg=f"sample {s} output {k}")
    return graph


def all_bytes(shape=SHAPE):
    return [np.arange(-128, 128, dtype=np.int8).reshape((1, *shape))]


def layer(kind: str, arg):
    import keras

    if kind == "activation":
        return keras.layers.Activation(arg)
    if kind == "relu":
        return keras.layers.ReLU(max_value=arg)
    if kind == "leaky":
        return keras.layers.LeakyReLU(negative_slope=arg)
    raise AssertionError(kind)


CASES = [
    # (op, layer kind, layer argument, calibration scale, seed)
    ("LOGISTIC", "activation", "sigmoid", 1.0, 0),
    ("LOGISTIC", "activation", "sigmoid", 0.2, 1),
    ("LOGISTIC", "activation", "sigmoid", 4.0, 2),
    ("LOGISTIC", "activation", "sigmoid", 12.0, 3),
    ("TANH", "activation", "tanh", 1.0, 0),
    ("TANH", "activation", "tanh", 0.1, 1),
    ("TANH", "activation", "tanh", 3.0, 2),
    ("TANH", "activation", "tanh", 10.0, 3),
    ("RELU", "relu", None, 1.0, 0),
    ("RELU", "relu", None, 0.05, 1),
    ("RELU", "relu", None, 7.0, 2),
    ("RELU6", "relu", 6.0, 1.0, 0),
    ("RELU6", "relu", 6.0, 3.0, 1),
    ("RELU6", "relu", 6.0, 0.3, 2),
    ("LEAKY_RELU", "leaky", 0.2, 1.0, 0),
    ("LEAKY_RELU", "leaky", 0.01, 2.0, 1),
    ("LEAKY_RELU", "leaky", 0.5, 0.2, 2),
    ("LEAKY_RELU", "leaky", 0.9, 5.0, 3),
    ("HARD_SWISH", "activation", "hard_swish", 1.0, 0),
    ("HARD_SWISH", "activation", "hard_swish", 3.0, 1),
    ("HARD_SWISH", "activation", "hard_swish", 0.2, 2),
    ("HARD_SWISH", "activation", "hard_swish", 10.0, 3),
]


@pytest.mark.parametrize("op,kind,arg,calib_scale,seed", CASES,
                         ids=[f"{c[0]}-x{c[3]}-{c[2]}" for c in CASES])
def test_activation_all_bytes(op, kind, arg, calib_scale, seed, runtime_lib, tmp_path):
    model = keras_op(layer(kind, arg), SHAPE, seed=seed, calib_scale=calib_scale)
    run_bit_exact(model, runtime_lib, tmp_path, extra=[all_bytes()], expect_ops=[op], seed=seed)


@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (2, 3, 4, 9)])
def test_logistic_odd_shapes(shape, runtime_lib, tmp_path):
    """The table kernel walks any element count (random samples only)."""
    model = keras_op(layer("activation", "sigmoid"), shape, seed=5)
    run_bit_exact(model, runtime_lib, tmp_path, expect_ops=["LOGISTIC"], seed=5)


def test_relu6_fused_before_requantize(runtime_lib, tmp_path):
    """A Dense followed by RELU6 on a 2-D input: the converter keeps RELU6 (no fusion into FC
    when batch dims differ) or fuses it; both must match."""
    import keras

    def build(x):
        return keras.layers.ReLU(max_value=6.0)(keras.layers.Dense(24)(x))

    from opmodels import keras_graph

    model = keras_graph(build, [(4, 12)], seed=9)
    run_bit_exact(model, runtime_lib, tmp_path, seed=9)


# ---------------------------------------------------------------------------- QUANTIZE, DEQUANTIZE


def _float_io_model(build, shape, seed, calib_scale=1.0):
    import keras

    from edgekit.frontend.quantize import int8_tflite

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    model = keras.Model(inp, build(inp))
    return int8_tflite(model, _calib([shape], seed, calib_scale), io_type="float32")


def _float_samples(graph, seed):
    """Values across and beyond the input range, exact halves between quantization steps (the
    rounding cases), zeros, and large values that saturate."""
    x = graph.tensors[graph.inputs[0]]
    q = graph.tensors[graph.ops[0].outputs[0]]
    rng = np.random.default_rng(seed)
    n = x.num_elements
    k = rng.integers(-140, 140, size=n)
    halves = ((k - q.zero_point) + 0.5 * rng.choice([-1, 1], size=n)).astype(np.float32) * np.float32(q.scale)
    wide = (rng.standard_normal(n) * 300 * q.scale).astype(np.float32)
    # |x / scale| >= 2**31 is undefined behaviour in TFLM (a float -> int32 cast out of range;
    # x86 gives -128 for +1e30); edgekit saturates. Stay inside the defined range here.
    special = np.resize(np.array([0.0, -0.0, 1e6 * q.scale, -1e6 * q.scale, 2e9 * q.scale,
                                  -2e9 * q.scale, q.scale / 2, -q.scale / 2, 1e-30],
                                 dtype=np.float32), n)
    return [[a.reshape(x.shape)] for a in (halves, wide, special)]


@pytest.mark.parametrize("calib_scale,seed", [(1.0, 0), (0.05, 1), (20.0, 2)])
def test_float_io_quantize_dequantize(calib_scale, seed, runtime_lib, tmp_path):
    """A model with float32 input and output: QUANTIZE at the input, DEQUANTIZE at the output."""
    import keras

    model = _float_io_model(lambda x: keras.layers.Activation("sigmoid")(x), SHAPE, seed, calib_scale)
    graph = parse_tflite(model)
    assert graph.tensors[graph.inputs[0]].dtype.name == "FLOAT32"
    run_bit_exact(model, runtime_lib, tmp_path, extra=_float_samples(graph, seed),
                  expect_ops=["QUANTIZE", "DEQUANTIZE", "LOGISTIC"], seed=seed)


def test_dequantize_every_byte(runtime_lib, tmp_path):
    """DEQUANTIZE of every int8 value: an int8 RELU feeds it all 256 bytes."""
    import keras

    model = _float_io_model(lambda x: keras.layers.Dense(256)(keras.layers.Flatten()(x)), SHAPE, 4)
    graph = parse_tflite(model)
    run_bit_exact(model, runtime_lib, tmp_path, extra=_float_samples(graph, 4),
                  expect_ops=["QUANTIZE", "DEQUANTIZE"], seed=4)


def test_requantize_int8_to_int8(runtime_lib, tmp_path):
    """QUANTIZE int8 -> int8 appears where the converter must change scale: LOGISTIC's output
    scale is fixed at 1/256, so concatenating it with a RELU output requantizes it."""
    import tensorflow as tf

    from opmodels import fn_op

    model = fn_op(lambda a: tf.concat([tf.nn.relu(a), tf.sigmoid(a)], axis=-1), [SHAPE], seed=6)
    run_bit_exact(model, runtime_lib, tmp_path, extra=[all_bytes()],
                  expect_ops=["QUANTIZE", "LOGISTIC", "RELU", "CONCATENATION"], seed=6)


@pytest.mark.parametrize("in_scale,in_zp,out_scale,out_zp", [
    (0.02, 3, 0.05, -10), (0.05, -128, 0.02, 5), (0.1, 0, 0.1, 0), (0.013, 77, 0.0007, -128),
    (1.5, -3, 0.004, 127), (0.004, 20, 1.5, -1)])
def test_requantize_int8_handbuilt(in_scale, in_zp, out_scale, out_zp, runtime_lib, tmp_path):
    """QUANTIZE int8 -> int8 with chosen parameters, on a hand-built one-op model (the converter
    rarely emits one): every input byte, saturation at both ends, scale up and down."""
    model = _quantize_model(in_scale, in_zp, out_scale, out_zp)
    x = [np.arange(-128, 128, dtype=np.int8).reshape(1, 256)]
    run_bit_exact(model, runtime_lib, tmp_path, extra=[x], expect_ops=["QUANTIZE"])


@pytest.mark.parametrize("in_type,out_type,in_zp,out_zp,out_scale", [
    ("uint8", "int8", 128, 0, 0.02), ("uint8", "int8", 120, -5, 0.03), ("uint8", "int8", 0, -128, 0.011),
    ("int8", "uint8", 0, 128, 0.02), ("int8", "uint8", -7, 130, 0.05), ("int8", "uint8", -128, 0, 0.013)])
def test_requantize_uint8_handbuilt(in_type, out_type, in_zp, out_zp, out_scale, runtime_lib, tmp_path):
    """QUANTIZE between uint8 and int8 (TFLM's shift-by-128 fast path when only the zero point
    moves by 128, the general requantization otherwise), every input byte."""
    model = _quantize_model(0.02, in_zp, out_scale, out_zp, in_type, out_type)
    x = [np.arange(256).astype(in_type).reshape(1, 256)]
    run_bit_exact(model, runtime_lib, tmp_path, extra=[x], expect_ops=["QUANTIZE"])


def test_uint8_io_model(runtime_lib, tmp_path):
    """A model converted with uint8 input and output: QUANTIZE at both edges."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(8)
    inp = keras.Input(shape=SHAPE, batch_size=1)
    model = keras.Model(inp, keras.layers.Activation("tanh")(inp))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = _calib([SHAPE], 8)
    conv.representative_dataset = lambda: iter(samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    tfl = conv.convert()
    x = [np.arange(256).astype(np.uint8).reshape((1, *SHAPE))]
    graph = run_bit_exact(tfl, runtime_lib, tmp_path, extra=[x], expect_ops=["QUANTIZE", "TANH"], seed=8)
    assert graph.tensors[graph.inputs[0]].dtype.name == "UINT8"


def _quantize_model(in_scale, in_zp, out_scale, out_zp, in_type="int8", out_type="int8") -> bytes:
    import tflite

    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    tensors = [TensorSpec("x", (1, 256), in_type, scale=in_scale, zero_point=in_zp),
               TensorSpec("y", (1, 256), out_type, scale=out_scale, zero_point=out_zp)]
    return build_model(tensors, [OpSpec(tflite.BuiltinOperator.QUANTIZE, [0], [1])], [0], [1])


def test_logistic_output_zero_point_rejected(tmp_path):
    """TFLM refuses an int8 LOGISTIC whose output zero point is not -128; so does edgekit."""
    import tflite

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    tensors = [TensorSpec("x", (1, 8), scale=0.1, zero_point=0),
               TensorSpec("y", (1, 8), scale=1 / 256, zero_point=0)]
    model = build_model(tensors, [OpSpec(tflite.BuiltinOperator.LOGISTIC, [0], [1])], [0], [1])
    with pytest.raises(UnsupportedModelError, match="-128"):
        generate(parse_tflite(model), tmp_path / "model")

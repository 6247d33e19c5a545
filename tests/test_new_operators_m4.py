"""Every operator kind edgekit lowers runs on the emulated Cortex-M4 (firmware build, QEMU
mps2-an386, the serial harness) in some model whose every output, for every inference, equals
the reference's. (Each operator's conformance cases run on the host, test_kernels_*.)

A few composite models, built and converted at test time, each covering many operators, are
deployed here; ``test_every_supported_kind_runs_on_the_m4`` takes the union of their operator
kinds with those of the models other tests deploy to the M4 (the MLPerf Tiny models in
test_deploy, the LSTM and SVDF models in test_recurrent) and fails if a kind that
``supported_kinds()`` names is in none of them. One more model runs the 16x8 scheme's int16
kernels that the digits model of test_int16x8 does not.

The reference is tflite-micro, except for the model of the operators tflite-micro has no int8
kernel for (TILE, GELU, EXP, LOG, SQRT, RELU_N1_TO_1, SELECT): its interpreter refuses that
model, and the harness then compares with LiteRT's reference kernels, as the host tests of
those operators do (``want=reference.run_litert``). That model holds no FULLY_CONNECTED or
SOFTMAX, which LiteRT rounds differently from tflite-micro in places.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, REAL_MODELS
from opmodels import fn_op, keras_graph

from edgekit.codegen.lower import supported_kinds
from edgekit.ir import parse_tflite

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")

TFLM = "tflite-micro"
LITERT = "LiteRT reference kernels"


# ---------------------------------------------------------------------------- the models


def _image_model() -> bytes:
    """PRELU, RESIZE_BILINEAR, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, REDUCE_MAX: conv, upsample,
    transposed conv, resize, two global poolings, a classifier."""
    import keras

    def build(x):
        h = keras.layers.Conv2D(8, 3, padding="same")(x)
        h = keras.layers.PReLU()(h)
        h = keras.layers.Resizing(10, 10)(h)
        h = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Resizing(14, 14, interpolation="nearest")(h)
        pooled = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling2D()(h),
                                             keras.layers.GlobalAveragePooling2D()(h)])
        return keras.layers.Dense(5, activation="softmax")(pooled)

    return keras_graph(build, [(8, 8, 3)], seed=21)


def _sequence_model() -> bytes:
    """BATCH_MATMUL (attention), SPLIT, MAXIMUM: a self-attention block whose two halves of the
    features are merged by their maximum."""
    import keras

    def build(x):
        q, k, v = (keras.layers.Dense(8)(x) for _ in range(3))
        scores = keras.layers.Softmax()(keras.layers.Dot(axes=(2, 2))([q, k]))
        att = keras.layers.Dot(axes=(2, 1))([scores, v])
        left, right = keras.ops.split(att, 2, axis=-1)
        return keras.layers.Maximum()([left, right])

    return keras_graph(build, [(10, 12)], seed=22)


def _movement_model() -> bytes:
    """Data movement, reductions, arg-min/max (int32 outputs) and ELU on one 8x8x4 input.

    TensorFlow's converter keeps ELU in float32 (DEQUANTIZE, ELU, QUANTIZE); ``int8_only``
    makes it the one int8 ELU that models from other tools carry, as test_kernels_activations
    does."""
    import tensorflow as tf

    from test_kernels_activations import int8_only

    def fn(x):
        s2d = tf.nn.space_to_depth(x, 2)
        d2s = tf.nn.depth_to_space(tf.nn.relu6(s2d), 2)
        s2b = tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])
        b2s = tf.batch_to_space(tf.abs(s2b), [2, 2], [[0, 0], [0, 0]])
        picked = tf.gather(d2s, tf.constant([3, 0, 0, 2]), axis=3)
        sliced = tf.transpose(b2s, [0, 3, 1, 2])[:, 1:4, 7:0:-2, ::2]
        one, three = tf.split(picked, [1, 3], axis=-1)
        r0, r1, r2 = tf.unstack(three, axis=-1)
        return [tf.stack([r2, tf.nn.relu(r0), r1], axis=1),
                tf.pad(one, [[0, 0], [1, 1], [2, 0], [0, 0]]),
                tf.pad(sliced, [[0, 0], [0, 0], [1, 0], [0, 2]], constant_values=0.7),
                tf.reduce_sum(x, axis=[1, 2]), tf.reduce_min(x, axis=[1]),
                tf.argmax(x, axis=-1, output_type=tf.int32), tf.argmin(x, axis=1, output_type=tf.int32),
                tf.nn.elu(x[:, ::2])]  # ELU's own input: the converter dequantizes a shared one for all

    return int8_only(fn_op(fn, [(8, 8, 4)], seed=31), "ELU")


def _elementwise_model() -> bytes:
    """Binary operators with a broadcast operand, the comparisons (each choosing with
    SELECT_V2), activations and normalisations, a max pool; float32 inputs and outputs, so
    QUANTIZE (float to int8, and int8 to int8 where the converter rescales) and DEQUANTIZE run
    on the device's FPU."""
    import tensorflow as tf

    def fn(a, b):
        c = b * 0.5
        where = [tf.raw_ops.SelectV2(condition=rel(a, b), t=a, e=c)
                 for rel in (tf.equal, tf.greater, tf.greater_equal, tf.less, tf.less_equal)]
        return [a - c, a * b, a / (tf.abs(b) + 1.0), tf.math.squared_difference(a, b), tf.minimum(a, c), *where,
                tf.nn.leaky_relu(a, 0.2), tf.sigmoid(a), tf.tanh(a), a * tf.nn.relu6(a + 3.0) * (1.0 / 6.0),
                tf.math.rsqrt(tf.abs(a) + 0.25),  # RSQRT's input positive: tflite-micro fails on a negative one
                tf.nn.log_softmax(a, axis=-1), tf.math.l2_normalize(a, axis=-1), tf.nn.max_pool2d(a, 2, 2, "VALID")]

    return fn_op(fn, [(6, 6, 4), (4,)], seed=32, io_type="float32")


def _no_micro_kernel_model() -> bytes:
    """The operators tflite-micro has no int8 kernel for: compared with LiteRT. LOG and SQRT
    get non-negative inputs (ABS; LiteRT fails SQRT on a negative one); ``tf.where`` on equal
    shapes is SELECT (v1)."""
    import tensorflow as tf

    def fn(x, y):
        pos = tf.abs(x)
        return [tf.tile(x, [1, 2, 1, 3]), tf.nn.gelu(x), tf.exp(x), tf.math.log(pos + 0.1), tf.sqrt(pos),
                tf.clip_by_value(x, -1.0, 1.0), tf.where(x > y, x, y)]

    return fn_op(fn, [(4, 4, 3), (4, 4, 3)], seed=33)


def _int16x8_model() -> bytes:
    """The 16x8 scheme (int16 activations, int8 weights) through the int16 kernels the digits
    model of test_int16x8 does not run on the M4 (it runs CONV_2D, DEPTHWISE_CONV_2D, the pools,
    FULLY_CONNECTED and SOFTMAX); float32 edges: QUANTIZE and DEQUANTIZE to and from int16, and
    QUANTIZE int16 to int16 where the converter rescales."""
    import tensorflow as tf

    w = np.random.default_rng(34).standard_normal((3, 3, 2, 3)).astype(np.float32) * 0.5  # [h, w, out, in]

    def fn(a, b):
        h = tf.nn.relu(a) + b
        joined = tf.concat([tf.sigmoid(a), tf.tanh(h)], axis=-1)
        return [tf.maximum(a, b) * tf.minimum(a, b), a - b, tf.nn.leaky_relu(a, 0.2),
                tf.transpose(joined, [0, 2, 1, 3])[:, 1:5, ::2],
                tf.compat.v1.image.resize_nearest_neighbor(tf.nn.relu6(a), (8, 10)),
                tf.pad(a, [[0, 0], [1, 0], [0, 2], [0, 0]]), tf.reduce_mean(h, axis=[1, 2]), tf.reduce_sum(a, axis=[1]),
                tf.linalg.matmul(a, h, transpose_b=True), tf.stack([a, tf.nn.relu(a)], axis=2),
                tf.nn.conv2d_transpose(a, tf.constant(w), [1, 8, 10, 2], 2, padding="SAME")]

    return fn_op(fn, [(4, 5, 3), (1, 1, 3)], seed=34, activations="int16", io_type="float32")


#: the hand-built model's quantizations: x and y share one, z has twice its scale
_Q = dict(scale=0.04, zero_point=5)
_QZ = dict(scale=0.08, zero_point=-3)


def _hand_built_model() -> bytes:
    """SQUEEZE, EXPAND_DIMS and NOT_EQUAL, which TensorFlow's converter never emits in int8
    (it makes tf.squeeze and tf.expand_dims RESHAPE, and leaves NOT_EQUAL in float32), in a
    flatbuffer written by hand as other tools write them:
    x -> RELU -> SQUEEZE -> b; where(b != z, b, y) -> EXPAND_DIMS -> out."""
    import tflite

    from test_kernels_reshape import OpSpec, TensorSpec, build_model, expand_dims_options, squeeze_options

    op = tflite.BuiltinOperator
    tensors = [TensorSpec("x", (1, 6, 1, 5), **_Q), TensorSpec("y", (1, 6, 5), **_Q), TensorSpec("z", (1, 5), **_QZ),
               TensorSpec("a", (1, 6, 1, 5), **_Q), TensorSpec("b", (1, 6, 5), **_Q),
               TensorSpec("ne", (1, 6, 5), "bool"), TensorSpec("c", (1, 6, 5), **_Q),
               TensorSpec("out", (1, 1, 6, 5), **_Q),
               TensorSpec("axis", (), "int32", data=np.array(1, dtype=np.int32))]
    ops = [OpSpec(op.RELU, [0], [3]),
           OpSpec(op.SQUEEZE, [3], [4], *squeeze_options([2])),
           OpSpec(op.NOT_EQUAL, [4, 2], [5]),
           OpSpec(op.SELECT_V2, [5, 4, 1], [6]),
           OpSpec(op.EXPAND_DIMS, [6, 8], [7], *expand_dims_options())]
    return build_model(tensors, ops, [0, 1, 2], [7])


def _hand_built_inputs(path: Path) -> Path:
    """Inputs where b == z often (random bytes seldom meet): z = (b - 5) / 2 - 3 wherever b - 5
    is even in a row of x (RELU keeps x at or above its zero point 5)."""
    rng = np.random.default_rng(7)
    xs = rng.integers(-128, 128, (4, 1, 6, 1, 5)).astype(np.int8)
    ys = rng.integers(-128, 128, (4, 1, 6, 5)).astype(np.int8)
    zs = rng.integers(-128, 128, (4, 1, 5)).astype(np.int8)
    for k in range(4):
        b = np.maximum(xs[k, 0, k, 0].astype(int), 5)  # row k of b
        meet = (b - 5) % 2 == 0
        zs[k, 0, meet] = (b[meet] - 5) // 2 - 3
    np.savez(path, x=xs, y=ys, z=zs)
    return path


# name -> (builder, kinds it must hold, the reference its outputs are compared with)
MODELS = {
    "image": (_image_model, {"PRELU", "RESIZE_BILINEAR", "TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "REDUCE_MAX"},
              TFLM),
    "sequence": (_sequence_model, {"BATCH_MATMUL", "SPLIT", "MAXIMUM"}, TFLM),
    "movement": (_movement_model, {"SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND",
                                   "GATHER", "TRANSPOSE", "STRIDED_SLICE", "SPLIT_V", "UNPACK", "PACK", "PAD",
                                   "PADV2", "SUM", "REDUCE_MIN", "ARG_MAX", "ARG_MIN", "ABS", "RELU", "RELU6",
                                   "ELU"}, TFLM),
    "elementwise": (_elementwise_model, {"SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MINIMUM", "EQUAL", "GREATER",
                                         "GREATER_EQUAL", "LESS", "LESS_EQUAL", "SELECT_V2", "LEAKY_RELU",
                                         "LOGISTIC", "TANH", "HARD_SWISH", "RSQRT", "LOG_SOFTMAX",
                                         "L2_NORMALIZATION", "MAX_POOL_2D", "QUANTIZE", "DEQUANTIZE"}, TFLM),
    "no-micro-kernel": (_no_micro_kernel_model, {"TILE", "GELU", "EXP", "LOG", "SQRT", "RELU_N1_TO_1", "SELECT"},
                        LITERT),
    "hand-built": (_hand_built_model, {"SQUEEZE", "EXPAND_DIMS", "NOT_EQUAL", "SELECT_V2"}, TFLM),
    "int16x8": (_int16x8_model, {"ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "MEAN", "SUM", "LOGISTIC", "TANH", "RELU",
                                 "RELU6", "LEAKY_RELU", "PAD", "CONCATENATION", "TRANSPOSE", "STRIDED_SLICE",
                                 "RESIZE_NEAREST_NEIGHBOR", "BATCH_MATMUL", "PACK", "TRANSPOSE_CONV", "QUANTIZE",
                                 "DEQUANTIZE"}, TFLM),
}
#: models whose activations are all int16 (besides their float32 edges)
INT16 = {"int16x8"}
INPUTS = {"hand-built": _hand_built_inputs}


@functools.cache
def model(name: str) -> bytes:
    """A model of MODELS, converted once per process (the deploy and the census share it)."""
    return MODELS[name][0]()


def kinds_of(tflite: bytes) -> set[str]:
    return {op.type_name for op in parse_tflite(tflite, name="m").ops}


def activation_dtypes(tflite: bytes) -> set[str]:
    """The dtypes of the tensors operators pass to each other (not the model's inputs and
    outputs, not constants)."""
    g = parse_tflite(tflite, name="m")
    edges = set(g.inputs) | set(g.outputs)
    return {g.tensors[i].dtype.name for op in g.ops for i in (*op.inputs, *op.outputs)
            if i >= 0 and i not in edges and not g.tensors[i].is_constant}


# ---------------------------------------------------------------------------- on the M4


@needs_qemu
@pytest.mark.parametrize("name", list(MODELS))
def test_operators_on_the_emulated_m4(name, tmp_path):
    from edgekit.harness.deploy import deploy

    _, expect, ref = MODELS[name]
    tflite = model(name)
    assert expect <= kinds_of(tflite), expect - kinds_of(tflite)
    if name in INT16:
        assert activation_dtypes(tflite) == {"INT16"}, activation_dtypes(tflite)
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite)
    inputs = INPUTS[name](tmp_path / "inputs.npz") if name in INPUTS else None
    rep = deploy(path, "qemu-mps2-an386", samples=4, seed=5, inputs=inputs, out_dir=tmp_path / "build").profile
    assert rep is not None, "no profile"
    assert rep.reference == ref, rep.reference_note
    if ref == LITERT:  # only because tflite-micro refuses the model
        assert "tflite-micro could not run this model" in rep.reference_note, rep.reference_note
    samples = 4 + (4 if inputs is not None else 0)
    assert rep.passed and rep.equal_count == len(rep.samples) == samples, rep.summary()


def test_hand_built_inputs_meet(tmp_path):
    """The hand-built model's inputs make NOT_EQUAL false in places, so both of its results
    reach the device's output."""
    data = np.load(_hand_built_inputs(tmp_path / "inputs.npz"))
    b = np.maximum(data["x"][:, 0, :, 0].astype(int), 5)  # (4, 6, 5)
    real_b = _Q["scale"] * (b - _Q["zero_point"])
    real_z = _QZ["scale"] * (data["z"].astype(int) - _QZ["zero_point"])  # (4, 1, 5): broadcast over rows
    meets = np.isclose(real_b, real_z).sum()
    assert 5 <= meets < real_b.size, meets


# ---------------------------------------------------------------------------- the census


#: supported kinds no M4 model holds, each with the reason (keep this short)
NOT_ON_M4: dict[str, str] = {}


def elsewhere_on_m4() -> dict[str, bytes]:
    """The models other tests deploy to the emulated M4 and compare with tflite-micro."""
    from test_recurrent import m4_svdf, stacked_lstm

    found = {f"test_deploy {n}": (MLPERF_MODELS / f"{n}.tflite").read_bytes() for n in REAL_MODELS}
    found["test_recurrent stacked_lstm"] = stacked_lstm()
    found["test_recurrent svdf"] = m4_svdf()
    return found


def test_every_supported_kind_runs_on_the_m4():
    """Every kind edgekit lowers is in a model deployed to the emulated M4, or in NOT_ON_M4 with
    its reason."""
    covered = set()
    for name in MODELS:
        covered |= kinds_of(model(name))
    for tflite in elsewhere_on_m4().values():
        covered |= kinds_of(tflite)
    supported = {k.name for k in supported_kinds()}
    assert not set(NOT_ON_M4) & covered, f"now run on the M4, drop from NOT_ON_M4: {set(NOT_ON_M4) & covered}"
    missing = supported - covered - set(NOT_ON_M4)
    assert not missing, f"supported but run on no M4 model: {sorted(missing)}"

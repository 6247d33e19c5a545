"""REDUCE_MAX, REDUCE_MIN, SUM conformance: seeded reductions (Keras global max pooling and
tf.reduce_max / reduce_min / reduce_sum over various axes, keep_dims either way), bit-exact with
tflite-micro."""

import pytest

from opmodels import assert_bit_exact, fn_op, keras_op


@pytest.mark.parametrize("layer,shape,keepdims,calib,seed", [
    ("GlobalMaxPooling2D", (7, 7, 8), False, 1.0, 0),
    ("GlobalMaxPooling2D", (5, 3, 16), True, 3.0, 1),
    ("GlobalMaxPooling1D", (20, 8), False, 0.5, 2),
])
def test_keras_global_max(layer, shape, keepdims, calib, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(getattr(keras.layers, layer)(keepdims=keepdims), shape, seed=seed, calib_scale=calib)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["REDUCE_MAX"])
    assert graph.ops[0].options.keep_dims == keepdims


def _reduce(kind):
    import tensorflow as tf

    return {"REDUCE_MAX": tf.reduce_max, "REDUCE_MIN": tf.reduce_min, "SUM": tf.reduce_sum}[kind]


CASES = [
    ("REDUCE_MAX", (5, 5, 3), [1, 2], True, 1.0, 10),
    ("REDUCE_MAX", (4, 5, 6), [-1], False, 2.0, 11),       # channels
    ("REDUCE_MAX", (6, 7, 5), [1, 3], False, 1.5, 12),     # non-adjacent axes
    ("REDUCE_MIN", (5, 5, 3), [1, 2], False, 1.0, 13),
    ("REDUCE_MIN", (10, 4), [1], True, 0.5, 14),           # 3-D input, middle axis
    ("REDUCE_MIN", (3, 4, 5), [1, 2, 3], False, 4.0, 15),  # everything but the batch
    ("SUM", (5, 5, 3), [1, 2], True, 1.0, 20),
    ("SUM", (4, 6, 10), [1, 2], False, 5.0, 21),
    ("SUM", (4, 5, 6), [-1], False, 0.3, 22),
    ("SUM", (6, 7, 5), [1, 3], True, 1.5, 23),
    ("SUM", (6, 7, 5), [2], False, 1.0, 24),               # width only
    ("SUM", (16, 16, 4), [1, 2], False, 2.0, 25),          # 256 elements per sum
    ("SUM", (3, 4, 5), [1, 2, 3], True, 0.2, 26),
]


@pytest.mark.parametrize("kind,shape,axes,keepdims,calib,seed", CASES)
def test_reduce(kind, shape, axes, keepdims, calib, seed, runtime_lib, tmp_path):
    fn = _reduce(kind)
    model = fn_op(lambda x: fn(x, axis=axes, keepdims=keepdims), [shape], seed=seed, calib_scale=calib)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])
    assert graph.ops[0].options.keep_dims == keepdims


def test_sum_of_relu(runtime_lib, tmp_path):
    """A sum of non-negative values (input zero point -128): the zero-point term is large."""
    import tensorflow as tf

    model = fn_op(lambda x: tf.reduce_sum(tf.nn.relu(x), axis=[1, 2]), [(8, 8, 4)], seed=30)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SUM"])


def test_max_requantizing_rejected(tmp_path):
    """TFLM's int8 REDUCE_MAX requires the output quantized as the input; edgekit refuses the
    model in one line rather than compute something TFLM would not."""
    import numpy as np
    import tflite

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite
    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    def options(b):
        tflite.ReducerOptionsStart(b)
        tflite.ReducerOptionsAddKeepDims(b, False)
        return tflite.ReducerOptionsEnd(b)

    tensors = [TensorSpec("x", (1, 4, 4, 3), scale=0.1, zero_point=3),
               TensorSpec("axes", (2,), "int32", data=np.array([1, 2], np.int32)),
               TensorSpec("y", (1, 3), scale=0.2, zero_point=3)]
    op = OpSpec(tflite.BuiltinOperator.REDUCE_MAX, [0, 1], [2], tflite.BuiltinOptions.ReducerOptions, options)
    with pytest.raises(UnsupportedModelError, match="unlike the input"):
        generate(parse_tflite(build_model(tensors, [op], [0], [2])), tmp_path / "model")

"""Comparisons (int8 in, bool out) and SELECT_V2 / SELECT, bit-exact with TFLite.

A bool tensor is never a model input or output here (edgekit's model boundary is numeric), so
every comparison case is a SelectV2 (tf.where) on it: relation(a, b) chooses between a and a scaled b.
Comparisons and SELECT_V2 are compared with tflite-micro; Keras's selu, soft_shrink and
sparse_plus also produce SELECT (v1), which TFLM has no kernel for, so those compare with LiteRT.
Seeded cases vary shapes, broadcasting (condition, x and y each) and quantization parameters;
one case compares every pair of input bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

from edgekit.frontend import reference

# TensorFlow's converter leaves NOT_EQUAL in float32 (Keras's Masking): it is tested on a
# hand-built model (test_not_equal_every_byte_pair)
RELATIONS = ["EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]


def _relation(name):
    import tensorflow as tf

    return {"EQUAL": tf.equal, "GREATER": tf.greater,
            "GREATER_EQUAL": tf.greater_equal, "LESS": tf.less, "LESS_EQUAL": tf.less_equal}[name]


def where_model(name, shape1, shape2, seed, scale=1.0):
    """relation(a, b) ? a : b / 2 -- or, for equal shapes (which the converter makes a SELECT,
    TFLM having none), relation(a, b) ? a : a constant scalar, so that SELECT_V2 broadcasts."""
    import tensorflow as tf

    rel = _relation(name)
    if shape1 == shape2:
        fn = lambda a, b: tf.raw_ops.SelectV2(condition=rel(a, b), t=a, e=tf.constant(-2.5 * scale))  # noqa: E731
    else:
        fn = lambda a, b: tf.raw_ops.SelectV2(condition=rel(a, b), t=a, e=b * 0.5)  # noqa: E731
    return fn_op(fn, [shape1, shape2], seed=seed, calib_scale=scale)


@pytest.mark.parametrize("name", RELATIONS)
def test_every_byte_pair(name, runtime_lib, tmp_path):
    """Every (a, b) byte pair; EQUAL and NOT_EQUAL hold on the pairs whose reals meet exactly."""
    model = where_model(name, (2048,), (2048,), seed=RELATIONS.index(name))
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8).reshape(32, 1, 2048)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8).reshape(32, 1, 2048)
    assert_bit_exact(model, runtime_lib, tmp_path, data=[[a[i], b[i]] for i in range(0, 32, 4)],
                     expect_ops=[name, "SELECT_V2"])


# (relation, a shape, b shape, calibration scale, seed)
CASES = [
    ("GREATER", (6, 5, 4), (6, 5, 4), 1.0, 10),
    ("LESS", (6, 5, 4), (4,), 3.0, 11),           # b per channel: condition and y broadcast
    ("LESS_EQUAL", (3, 7), (1,), 0.5, 12),        # a scalar
    ("EQUAL", (3, 4, 5), (3, 1, 5), 1.0, 13),        # 4-D with the batch: TFLite compares up to 4-D
    ("GREATER_EQUAL", (5, 1, 4), (1, 6, 1), 2.0, 14),  # both broadcast: x, y and condition all differ
]


@pytest.mark.parametrize("name,shape1,shape2,scale,seed", CASES)
def test_where(name, shape1, shape2, scale, seed, runtime_lib, tmp_path):
    model = where_model(name, shape1, shape2, seed, scale)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=3, seed=seed, expect_ops=[name, "SELECT_V2"])


@pytest.mark.parametrize("activation,ops,seed", [
    ("selu", ["GREATER", "SELECT", "EXP"], 20),
    ("soft_shrink", ["GREATER", "LESS", "SELECT", "SELECT_V2"], 21),
    ("sparse_plus", ["LESS", "LESS_EQUAL", "SELECT", "SELECT_V2"], 22),
])
def test_keras_activation(activation, ops, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Activation(activation), (6, 6, 4), seed=seed, calib_scale=1.5)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=seed, expect_ops=ops, want=reference.run_litert)


def not_equal_model(n, qa, qb) -> bytes:
    """(a != b) ? a : a constant, hand-built (the converter never emits an int8 NOT_EQUAL)."""
    import tflite

    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    op = tflite.BuiltinOperator
    tensors = [TensorSpec("a", (1, n), scale=qa[0], zero_point=qa[1]),
               TensorSpec("b", (1, n), scale=qb[0], zero_point=qb[1]),
               TensorSpec("ne", (1, n), "bool"), TensorSpec("out", (1, n), scale=qa[0], zero_point=qa[1]),
               TensorSpec("e", (), scale=qa[0], zero_point=qa[1], data=np.array(-100, dtype=np.int8))]
    ops = [OpSpec(op.NOT_EQUAL, [0, 1], [2]), OpSpec(op.SELECT_V2, [2, 0, 4], [3])]
    return build_model(tensors, ops, [0, 1], [3])


@pytest.mark.parametrize("qa,qb", [((0.04, 5), (0.04, 5)), ((0.04, 5), (0.08, -3)), ((0.05, -20), (0.03, 7))])
def test_not_equal_every_byte_pair(qa, qb, runtime_lib, tmp_path):
    """Every (a, b) byte pair, with equal quantizations, with b's scale twice a's (half of a's
    bytes meet one of b's) and with scales that meet rarely. (1024 elements a sample: the
    tflite-micro interpreter sizes its arena from the model, too small for 2048 in this one.)"""
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8).reshape(64, 1, 1024)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8).reshape(64, 1, 1024)
    assert_bit_exact(not_equal_model(1024, qa, qb), runtime_lib, tmp_path,
                     data=[[a[i], b[i]] for i in range(64)], expect_ops=["NOT_EQUAL", "SELECT_V2"])

"""PRELU and SQUARED_DIFFERENCE (``ops/pairwise.py``): seeded models with broadcasting, varied
quantization and constant operands, bit-exact with tflite-micro."""

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

PRELU_CASES = [
    # (input shape, shared axes, calibration scale, seed): Keras's alpha has the input's shape
    # without the batch, with 1 on the shared axes
    ((4, 4, 3), None, 1.0, 0),
    ((6, 5, 8), (1, 2), 0.5, 1),  # alpha [1, 1, 8]
    ((7, 3, 4), (2,), 3.0, 2),    # alpha [7, 1, 4]
    ((9, 6), (1,), 2.0, 3),       # alpha [9, 1]
    ((33,), None, 0.2, 4),
]


def prelu_model(shape, shared, calib_scale, seed) -> bytes:
    import keras

    layer = keras.layers.PReLU(shared_axes=list(shared) if shared else None)
    return keras_op(layer, shape, seed=seed, calib_scale=calib_scale)


@pytest.mark.parametrize("shape,shared,calib_scale,seed", PRELU_CASES)
def test_prelu_keras(shape, shared, calib_scale, seed, runtime_lib, tmp_path):
    graph = assert_bit_exact(prelu_model(shape, shared, calib_scale, seed), runtime_lib, tmp_path,
                             seed=seed, expect_ops=["PRELU"])
    alpha = graph.op_inputs(graph.ops[0])[1]
    assert alpha.is_constant and alpha.shape[-len(shape):] == tuple(1 if i + 1 in (shared or ()) else d
                                                                    for i, d in enumerate(shape))


def _squared_difference(a, b):
    import tensorflow as tf

    return tf.math.squared_difference(a, b)


SQUARED_DIFFERENCE_CASES = [
    # (shape a, shape b, calibration scale, seed)
    ((8, 8, 4), (8, 8, 4), 1.0, 0),
    ((37,), (37,), 3.0, 1),
    ((4, 4, 3), (1, 1, 3), 0.5, 2),
    ((1, 6, 1), (5, 6, 7), 2.0, 3),        # both inputs broadcast
    ((3, 4, 5), (3, 1, 5), 1.5, 4),
    ((5, 7, 4), (5, 7, 1), 0.3, 5),        # LayerNormalization's x against its mean
]


def squared_difference_model(sa, sb, calib_scale, seed) -> bytes:
    return fn_op(_squared_difference, [sa, sb], seed=seed, calib_scale=calib_scale)


@pytest.mark.parametrize("sa,sb,calib_scale,seed", SQUARED_DIFFERENCE_CASES)
def test_squared_difference(sa, sb, calib_scale, seed, runtime_lib, tmp_path):
    assert_bit_exact(squared_difference_model(sa, sb, calib_scale, seed), runtime_lib, tmp_path, seed=seed,
                     expect_ops=["SQUARED_DIFFERENCE"])


def test_squared_difference_unequal_scales(runtime_lib, tmp_path):
    """Inputs of very different ranges: one input's multiplier far below the other's."""
    model = fn_op(lambda a, b: _squared_difference(a * 20.0, b), [(6, 6), (6, 6)], seed=6)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=6, expect_ops=["SQUARED_DIFFERENCE"])


def test_squared_difference_constant_operand(runtime_lib, tmp_path):
    import tensorflow as tf

    c = tf.constant((np.random.default_rng(7).standard_normal((3,)) * 0.5).astype(np.float32))
    graph = assert_bit_exact(fn_op(lambda a: _squared_difference(a, c), [(5, 4, 3)], seed=7), runtime_lib,
                             tmp_path, seed=7, expect_ops=["SQUARED_DIFFERENCE"])
    assert any(graph.tensors[i].is_constant for op in graph.ops for i in op.inputs)

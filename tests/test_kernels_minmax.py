"""MAXIMUM / MINIMUM conformance: seeded elementwise models with broadcasting and constant
operands, bit-exact with tflite-micro (and the in-place plan they allow)."""

import numpy as np
import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph


def _op(kind):
    import tensorflow as tf

    return {"MAXIMUM": tf.maximum, "MINIMUM": tf.minimum}[kind]


@pytest.mark.parametrize("kind,layer,shape,seed", [
    ("MAXIMUM", "Maximum", (8, 8, 4), 0),
    ("MINIMUM", "Minimum", (37,), 1),
    ("MAXIMUM", "Maximum", (6, 5, 3), 2),
])
def test_keras_equal_shapes(kind, layer, shape, seed, runtime_lib, tmp_path):
    import keras

    lay = getattr(keras.layers, layer)()
    model = keras_graph(lambda a, b: lay([a, b]), [shape, shape], seed=seed, calib_scale=1.0 + seed)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


@pytest.mark.parametrize("kind,sa,sb,seed", [
    ("MAXIMUM", (4, 4, 3), (1, 1, 3), 10),
    ("MINIMUM", (1, 6, 1), (5, 6, 7), 11),       # both inputs broadcast
    ("MAXIMUM", (2, 3, 4, 5), (2, 1, 4, 1), 12),  # 5-D
    ("MINIMUM", (5, 7, 4), (1, 1, 1), 13),
])
def test_broadcast(kind, sa, sb, seed, runtime_lib, tmp_path):
    fn = _op(kind)
    model = fn_op(lambda a, b: fn(a, b), [sa, sb], seed=seed, calib_scale=0.5 + (seed % 3))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


@pytest.mark.parametrize("kind,seed", [("MAXIMUM", 20), ("MINIMUM", 21)])
def test_constant_operand(kind, seed, runtime_lib, tmp_path):
    """max(x, c) with a per-channel constant: a clamp the converter keeps as MAXIMUM/MINIMUM."""
    import tensorflow as tf

    c = tf.constant((np.random.default_rng(seed).standard_normal((3,)) * 0.5).astype(np.float32))
    fn = _op(kind)
    graph = assert_bit_exact(fn_op(lambda a: fn(a, c), [(5, 4, 3)], seed=seed), runtime_lib, tmp_path,
                             expect_ops=[kind])
    assert any(graph.tensors[i].is_constant for op in graph.ops for i in op.inputs)

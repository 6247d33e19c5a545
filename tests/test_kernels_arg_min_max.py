"""ARG_MAX and ARG_MIN: every axis (negative ones too), int32 outputs bit-exact with
tflite-micro, int64 outputs (the converter's default, which tflite-micro refuses) refused;
ties (few distinct values) must give the first index; a Keras classifier ending in an argmax."""

from __future__ import annotations

import numpy as np
import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph

ARG_CASES = [
    # (kind, input shape without batch, axis)
    ("ARG_MAX", (4, 5, 6), -1),
    ("ARG_MIN", (4, 5, 6), -1),
    ("ARG_MAX", (4, 5, 6), 1),
    ("ARG_MIN", (4, 5, 6), 2),
    ("ARG_MAX", (7, 3), -2),
    ("ARG_MIN", (9,), 1),
    ("ARG_MAX", (2, 3, 1, 4), 3),  # an axis of one element: index 0
]


def _fn(kind):
    import tensorflow as tf

    return {"ARG_MAX": tf.math.argmax, "ARG_MIN": tf.math.argmin}[kind]


@pytest.mark.parametrize("kind,shape,axis", ARG_CASES)
def test_arg_int32(kind, shape, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    fn = _fn(kind)
    model = fn_op(lambda x: fn(x, axis=axis, output_type=tf.int32), [shape], seed=len(shape))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


def test_int64_output_is_refused():
    from edgekit.codegen.lower import lower_graph
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite

    graph = parse_tflite(fn_op(lambda x: _fn("ARG_MAX")(x, axis=-1), [(3, 8)], seed=4))
    with pytest.raises(UnsupportedModelError, match="output is INT64; tflite-micro runs only int32"):
        lower_graph(graph)


@pytest.mark.parametrize("kind", ["ARG_MAX", "ARG_MIN"])
def test_ties_give_the_first_index(kind, runtime_lib, tmp_path):
    """Inputs of three distinct values: most rows hold several maxima and minima."""
    import tensorflow as tf

    fn = _fn(kind)
    model = fn_op(lambda x: fn(x, axis=-1, output_type=tf.int32), [(6, 10)], seed=5)
    rng = np.random.default_rng(5)
    data = [[rng.choice(np.array([-100, 0, 100], dtype=np.int8), (1, 6, 10))] for _ in range(3)]
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind], data=data)


def test_keras_classifier_argmax(runtime_lib, tmp_path):
    """A small convolutional classifier that returns its class index."""
    import keras
    import tensorflow as tf

    def build(x):
        x = keras.layers.Conv2D(6, 3, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        logits = keras.layers.Dense(5)(x)
        return keras.layers.Lambda(lambda t: tf.math.argmax(t, axis=-1, output_type=tf.int32))(logits)

    assert_bit_exact(keras_graph(build, [(8, 8, 2)], seed=8), runtime_lib, tmp_path, expect_ops=["ARG_MAX"])

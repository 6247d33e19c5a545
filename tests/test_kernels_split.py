"""SPLIT, SPLIT_V, UNPACK and PACK, bit-exact with tflite-micro.

Pure data movement along one axis: every axis (negative ones too), even and uneven splits,
unstacking and stacking, and realistic Keras graphs (channels split into two branches and
joined again; a sequence unstacked into time steps, processed, and stacked back).
"""

from __future__ import annotations

import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph

SPLIT_CASES = [
    # (input shape without batch, num splits, axis)
    ((6, 4, 8), 2, -1),
    ((6, 4, 8), 3, 1),
    ((6, 4, 8), 4, 3),
    ((12,), 4, 1),
    ((5, 9), 3, -1),
    ((2, 3, 4), 1, 2),
]


@pytest.mark.parametrize("shape,num,axis", SPLIT_CASES)
def test_split(shape, num, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: [t * 1.0 for t in tf.split(x, num, axis=axis)], [shape], seed=num)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SPLIT"] if num > 1 else None)


SPLIT_V_CASES = [
    # (input shape without batch, sizes, axis)
    ((6, 4, 8), [1, 5, 2], -1),
    ((7, 4, 3), [4, 3], 1),
    ((7, 4, 3), [1, 2, 1], -2),
    ((10,), [3, 1, 6], 1),
]


@pytest.mark.parametrize("shape,sizes,axis", SPLIT_V_CASES)
def test_split_v(shape, sizes, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.split(x, sizes, axis=axis), [shape], seed=len(sizes))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SPLIT_V"])


UNPACK_CASES = [
    # (input shape without batch, axis)
    ((5, 3, 4), 1),
    ((5, 3, 4), -1),
    ((5, 3, 4), 2),
    ((6, 2), 2),
]


@pytest.mark.parametrize("shape,axis", UNPACK_CASES)
def test_unpack(shape, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.unstack(x, axis=axis), [shape], seed=len(shape) + axis)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["UNPACK"])


PACK_CASES = [
    # (input shape without batch, number of inputs, axis of the output)
    ((4, 3), 2, 1),
    ((4, 3), 3, -1),
    ((4, 3), 2, 2),
    ((5,), 4, -2),
]


@pytest.mark.parametrize("shape,num,axis", PACK_CASES)
def test_pack(shape, num, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda *xs: tf.stack(list(xs), axis=axis), [shape] * num, seed=num)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["PACK"])


def test_keras_channel_branches(runtime_lib, tmp_path):
    """A convolution's channels split into two branches, each convolved, joined again."""
    import keras
    import tensorflow as tf

    def build(x):
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        a, b = keras.layers.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
        a = keras.layers.Conv2D(4, 3, padding="same")(a)
        b = keras.layers.DepthwiseConv2D(3, padding="same")(b)
        return keras.layers.Concatenate()([a, b])

    assert_bit_exact(keras_graph(build, [(8, 8, 3)], seed=5), runtime_lib, tmp_path, expect_ops=["SPLIT"])


def test_keras_time_steps(runtime_lib, tmp_path):
    """A sequence unstacked into its time steps, one shared dense layer on each, stacked back."""
    import keras
    import tensorflow as tf

    def build(x):
        dense = keras.layers.Dense(6, activation="relu")
        steps = keras.layers.Lambda(lambda t: tf.unstack(t, axis=1))(x)
        return keras.layers.Lambda(lambda ts: tf.stack(ts, axis=1))([dense(s) for s in steps])

    assert_bit_exact(keras_graph(build, [(5, 4)], seed=6), runtime_lib, tmp_path, expect_ops=["UNPACK", "PACK"])


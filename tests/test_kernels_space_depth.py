"""DEPTH_TO_SPACE and SPACE_TO_DEPTH (TRANSPOSE's kernel with their own constants), bit-exact
with tflite-micro: block sizes 2 to 4, one and several output channels, and a Keras
sub-pixel upsampling head."""

from __future__ import annotations

import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph

CASES = [
    # (kind, input shape without batch, block size)
    ("DEPTH_TO_SPACE", (3, 4, 8), 2),
    ("DEPTH_TO_SPACE", (2, 3, 9), 3),
    ("DEPTH_TO_SPACE", (5, 2, 4), 2),  # one output channel
    ("DEPTH_TO_SPACE", (2, 2, 32), 4),
    ("SPACE_TO_DEPTH", (4, 6, 3), 2),
    ("SPACE_TO_DEPTH", (6, 3, 2), 3),
    ("SPACE_TO_DEPTH", (8, 8, 1), 4),
    ("SPACE_TO_DEPTH", (4, 10, 5), 2),
]


@pytest.mark.parametrize("kind,shape,block", CASES)
def test_space_depth(kind, shape, block, runtime_lib, tmp_path):
    import tensorflow as tf

    fn = {"DEPTH_TO_SPACE": tf.nn.depth_to_space, "SPACE_TO_DEPTH": tf.nn.space_to_depth}[kind]
    model = fn_op(lambda x: fn(x, block), [shape], seed=block)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


def test_keras_subpixel_upsampling(runtime_lib, tmp_path):
    """A space-to-depth stem, a convolution, and a sub-pixel (depth-to-space) upsampling head."""
    import keras
    import tensorflow as tf

    def build(x):
        x = keras.layers.Lambda(lambda t: tf.nn.space_to_depth(t, 2))(x)
        x = keras.layers.Conv2D(12, 3, padding="same", activation="relu")(x)
        return keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)

    assert_bit_exact(keras_graph(build, [(8, 8, 3)], seed=9), runtime_lib, tmp_path,
                     expect_ops=["SPACE_TO_DEPTH", "DEPTH_TO_SPACE"])

"""TRANSPOSE_CONV conformance (Keras Conv2DTranspose): seeded layers over strides, kernel sizes,
paddings, fused activations, per-tensor and per-channel weights, and a decoder-shaped model,
each bit-exact with tflite-micro; the kernel needs no scratch where TFLM keeps an int32 copy of
the whole output."""

import pytest

from opmodels import assert_bit_exact, keras_graph, keras_op


# (filters, kernel, strides, padding, activation, input shape, per-tensor weights, seed)
CASES = [
    (5, 3, 2, "same", None, (6, 7, 4), False, 0),
    (4, 3, 1, "same", "relu", (5, 5, 3), False, 1),
    (3, 2, 2, "valid", None, (4, 6, 2), False, 2),
    (6, (3, 5), (2, 3), "valid", "relu6", (3, 4, 5), False, 3),
    (2, 4, 2, "same", None, (5, 3, 1), True, 4),
    (7, 5, 3, "same", None, (3, 3, 8), False, 5),
    (3, 1, 2, "valid", None, (4, 4, 3), False, 6),   # taps that reach only every other pixel
    (8, 3, (1, 2), "same", "relu", (1, 9, 4), False, 7),  # a 1-D signal upsampled along width
]


def build_transpose_conv(filters, kernel, strides, padding, activation, shape, per_tensor, seed) -> bytes:
    import keras

    layer = keras.layers.Conv2DTranspose(filters, kernel, strides=strides, padding=padding, activation=activation)
    return keras_op(layer, shape, seed=seed, per_tensor=per_tensor, calib_scale=0.5 + seed % 3)


@pytest.mark.parametrize("filters,kernel,strides,padding,activation,shape,per_tensor,seed", CASES)
def test_conv2d_transpose(filters, kernel, strides, padding, activation, shape, per_tensor, seed, runtime_lib,
                          tmp_path):
    model = build_transpose_conv(filters, kernel, strides, padding, activation, shape, per_tensor, seed)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TRANSPOSE_CONV"])
    assert [op.type_name for op in graph.ops] == ["TRANSPOSE_CONV"]  # the activation is fused


def test_without_bias(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False), (4, 4, 3), seed=9)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TRANSPOSE_CONV"])


def test_decoder(runtime_lib, tmp_path):
    """An autoencoder's decoder as users write it: conv down, two transposed convs back up."""
    import keras

    def build(x):
        h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
        return keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)

    graph = assert_bit_exact(keras_graph(build, [(16, 16, 1)], seed=11), runtime_lib, tmp_path,
                             expect_ops=["TRANSPOSE_CONV"])
    assert [op.type_name for op in graph.ops].count("TRANSPOSE_CONV") == 2

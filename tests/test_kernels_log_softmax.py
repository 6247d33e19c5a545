"""LOG_SOFTMAX (``ops/log_softmax.py``): seeded models over the last dimension, bit-exact with
tflite-micro, the calibration scale moving the input scale (and TFLM's input radius)."""

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

CASES = [
    # (input shape, calibration scale, seed)
    ((4, 4, 3), 1.0, 0),
    ((10,), 0.1, 1),
    ((6, 40), 3.0, 2),
    ((2, 3, 5), 0.5, 3),
    ((7, 1), 1.0, 4),  # one element a row: log 1 = 0
    ((3, 300), 20.0, 5),
    ((5, 64), 0.02, 6),
]


def log_softmax_model(shape, calib_scale, seed) -> bytes:
    import tensorflow as tf

    return fn_op(lambda x: tf.nn.log_softmax(x, axis=-1), [shape], seed=seed, calib_scale=calib_scale)


@pytest.mark.parametrize("shape,calib_scale,seed", CASES)
def test_log_softmax(shape, calib_scale, seed, runtime_lib, tmp_path):
    assert_bit_exact(log_softmax_model(shape, calib_scale, seed), runtime_lib, tmp_path, seed=seed,
                     expect_ops=["LOG_SOFTMAX"])


@pytest.mark.parametrize("calib_scale", [0.3, 2.0, 8.0])
def test_every_input_byte(calib_scale, runtime_lib, tmp_path):
    """One row holding all 256 input values, rows of one value each, rows of two values."""
    shape = (16, 16)
    same = np.repeat(np.arange(-128, 128, 16, dtype=np.int8), 16).reshape((1, *shape))
    two = np.where(np.arange(256) % 3 == 0, 127, -128).astype(np.int8).reshape((1, *shape))
    extra = [[np.arange(-128, 128, dtype=np.int8).reshape((1, *shape))], [same], [two]]
    assert_bit_exact(log_softmax_model(shape, calib_scale, 7), runtime_lib, tmp_path, seed=7, extra=extra,
                     expect_ops=["LOG_SOFTMAX"])


def test_keras_activation(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Activation("log_softmax"), (5, 12), seed=8, calib_scale=2.0)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=8, expect_ops=["LOG_SOFTMAX"])

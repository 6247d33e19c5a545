"""FULLY_CONNECTED conformance: seeded random Dense layers, bit-exact with tflite-micro."""

import pytest

from opmodels import assert_bit_exact, keras_op

CASES = [
    # (in_features, units, activation, per_tensor, use_bias, seed)
    (16, 8, None, False, True, 0),
    (64, 10, "relu", False, True, 1),
    (33, 7, "relu6", True, True, 2),
    (128, 128, None, True, False, 3),
    (5, 50, "relu", False, False, 4),
    (200, 3, None, False, True, 5),
]


@pytest.mark.parametrize("in_f,units,act,per_tensor,bias,seed", CASES)
def test_dense(in_f, units, act, per_tensor, bias, seed, runtime_lib, tmp_path):
    import keras

    layer = keras.layers.Dense(units, activation=act, use_bias=bias)
    model = keras_op(layer, (in_f,), seed=seed, per_tensor=per_tensor)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["FULLY_CONNECTED"])


def test_dense_batched_3d(runtime_lib, tmp_path):
    """A Dense on a (1, 4, 12) input runs 4 rows through the same weights."""
    import keras

    model = keras_op(keras.layers.Dense(6), (4, 12), seed=7)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["FULLY_CONNECTED"])

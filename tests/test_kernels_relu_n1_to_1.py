"""RELU_N1_TO_1 (Keras's hard_tanh; a lookup table, ``ops/activations.py``): bit-exact with LiteRT.

tflite-micro has no RELU_N1_TO_1 kernel (its interpreter refuses these models), so the reference
is LiteRT's int8 kernel (QuantizedReluX(-1, 1)). Every case feeds all 256 input bytes; the
calibration scale varies the input and output quantizations (the converter's output range is
at most [-1, 1], the input's wider).
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

from edgekit.frontend import reference

SHAPE = (16, 16)


@pytest.mark.parametrize("calib_scale,seed", [(0.3, 0), (1.0, 1), (6.0, 2)])
def test_relu_n1_to_1(calib_scale, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.clip_by_value(x, -1.0, 1.0), [SHAPE], seed=seed, calib_scale=calib_scale)
    extra = [[np.arange(-128, 128, dtype=np.int8).reshape((1, *SHAPE))]]
    assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=extra, expect_ops=["RELU_N1_TO_1"],
                     want=reference.run_litert)


def test_keras_hard_tanh(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Activation("hard_tanh"), (6, 6, 4), seed=3, calib_scale=2.0)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=3, expect_ops=["RELU_N1_TO_1"], want=reference.run_litert)

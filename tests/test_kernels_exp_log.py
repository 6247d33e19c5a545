"""EXP, LOG and SQRT (lookup tables, ``ops/activations.py``): bit-exact with LiteRT.

tflite-micro has no int8 EXP, LOG or SQRT (its interpreter refuses these models), so the reference is
LiteRT, whose int8 kernels build a table with LUTPopulate in float32, as ``float_function_table``
does. Every case feeds all 256 input bytes in one sample; LOG's inputs at and below the zero
point (log of zero or of a negative number) are the -128 LiteRT gives them; SQRT, which LiteRT
computes in float32 per element and truncates, is fed non-negative inputs only (LiteRT fails on
a negative one).
Keras's exponential, celu, softplus, mish and squareplus activations reach them as users write
them.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op
from test_kernels_activations import SHAPE, all_bytes  # every int8 value in one sample

from edgekit.frontend import reference
from edgekit.frontend.quantize import int8_islands, int8_tflite


@pytest.mark.parametrize("calib_scale,seed", [(0.3, 0), (1.0, 1), (2.5, 2)])
def test_exp(calib_scale, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(tf.exp, [SHAPE], seed=seed, calib_scale=calib_scale)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(), expect_ops=["EXP"],
                     want=reference.run_litert)


@pytest.mark.parametrize("offset,spread,seed", [(0.1, 3.0, 3), (5.0, 1.0, 4), (-1.0, 2.0, 5), (0.001, 0.02, 6)])
def test_log(offset, spread, seed, runtime_lib, tmp_path):
    """Positive calibration data (input zero point -128: only the lowest byte is log 0) and data
    reaching below zero (bytes below the zero point: log of negative numbers)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    fn = tf.function(tf.math.log, input_signature=[tf.TensorSpec((1, *SHAPE), tf.float32)])
    calib = [[(np.abs(rng.standard_normal((1, *SHAPE))) * spread + offset).astype(np.float32)] for _ in range(16)]
    assert_bit_exact(int8_tflite(fn, calib), runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(),
                     expect_ops=["LOG"], want=reference.run_litert)


@pytest.mark.parametrize("offset,spread,seed", [(0.0, 3.0, 11), (2.0, 0.5, 12), (0.01, 40.0, 13)])
def test_sqrt(offset, spread, seed, runtime_lib, tmp_path):
    """Non-negative calibration data (input zero point -128): LiteRT fails the invoke on a
    negative input."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    fn = tf.function(tf.sqrt, input_signature=[tf.TensorSpec((1, *SHAPE), tf.float32)])
    calib = [[(np.abs(rng.standard_normal((1, *SHAPE))) * spread + offset).astype(np.float32)] for _ in range(16)]
    assert_bit_exact(int8_tflite(fn, calib), runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(),
                     expect_ops=["SQRT"], want=reference.run_litert)


@pytest.mark.parametrize("activation,ops,seed", [
    ("exponential", ["EXP"], 7),
    ("celu", ["EXP", "MINIMUM", "RELU"], 8),
    ("softplus", ["EXP", "LOG"], 9),
    ("mish", ["EXP", "LOG", "TANH"], 10),
    ("squareplus", ["SQRT", "MUL"], 14),  # its SQUARE, left in float, made an int8 MUL
])
def test_keras_activation(activation, ops, seed, runtime_lib, tmp_path):
    import keras

    model, _ = int8_islands(keras_op(keras.layers.Activation(activation), (6, 6, 4), seed=seed, calib_scale=1.5))
    assert_bit_exact(model, runtime_lib, tmp_path, seed=seed, expect_ops=ops, want=reference.run_litert)

"""ABS (a lookup table, ``ops/activations.py``): bit-exact with tflite-micro.

Every case feeds all 256 input bytes in one sample besides seeded random ones, so the whole table
is compared; the calibration (scale, offset) varies the input and output quantizations, among
them the case where the converter gives both the same scale (no requantization in TFLM).
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op
from test_kernels_activations import SHAPE, all_bytes  # every int8 value in one sample

from edgekit.frontend.quantize import int8_tflite


@pytest.mark.parametrize("calib_scale,seed", [(0.2, 0), (1.0, 1), (7.0, 2)])
def test_abs(calib_scale, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(tf.abs, [SHAPE], seed=seed, calib_scale=calib_scale)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(), expect_ops=["ABS"])


@pytest.mark.parametrize("offset,seed", [(3.0, 3), (-2.0, 4)])
def test_abs_offset_input(offset, seed, runtime_lib, tmp_path):
    """An input range off centre: zero points far from 0 on both sides."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    fn = tf.function(tf.abs, input_signature=[tf.TensorSpec((1, *SHAPE), tf.float32)])
    calib = [[(rng.standard_normal((1, *SHAPE)) + offset).astype(np.float32)] for _ in range(16)]
    assert_bit_exact(int8_tflite(fn, calib), runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(),
                     expect_ops=["ABS"])


def test_abs_then_add(runtime_lib, tmp_path):
    """|x| + x: ABS between int8 operators of a larger graph."""
    import tensorflow as tf

    model = fn_op(lambda x: tf.abs(x) + x, [(6, 6, 4)], seed=5, calib_scale=1.5)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=5, expect_ops=["ABS", "ADD"])

"""L2_NORMALIZATION (``ops/l2norm.py``): seeded models over the last dimension, bit-exact with
tflite-micro; the sums of squares range from one element's to hundreds'. (Keras's
UnitNormalization converts to SQUARE, SUM, RSQRT, MINIMUM and MUL, the SQUARE left in float.)"""

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op

CASES = [
    # (input shape, calibration scale, seed)
    ((4, 4, 3), 1.0, 0),
    ((10,), 0.1, 1),
    ((6, 40), 3.0, 2),
    ((2, 3, 5), 0.5, 3),
    ((7, 1), 1.0, 4),  # one element a row: +-1 or 0
    ((3, 256), 20.0, 5),
]


def l2norm_model(shape, calib_scale, seed) -> bytes:
    import tensorflow as tf

    return fn_op(lambda x: tf.math.l2_normalize(x, axis=-1), [shape], seed=seed, calib_scale=calib_scale)


@pytest.mark.parametrize("shape,calib_scale,seed", CASES)
def test_l2_normalize(shape, calib_scale, seed, runtime_lib, tmp_path):
    assert_bit_exact(l2norm_model(shape, calib_scale, seed), runtime_lib, tmp_path, seed=seed,
                     expect_ops=["L2_NORMALIZATION"])


def test_every_input_byte(runtime_lib, tmp_path):
    """One row holding all 256 input values, rows of one value each, and an all-zero-point row."""
    shape = (16, 16)
    rows = np.repeat(np.arange(-128, 128, 16, dtype=np.int8), 16).reshape((1, *shape))
    extra = [[np.arange(-128, 128, dtype=np.int8).reshape((1, *shape))], [rows]]
    assert_bit_exact(l2norm_model(shape, 2.0, 6), runtime_lib, tmp_path, seed=6, extra=extra,
                     expect_ops=["L2_NORMALIZATION"])


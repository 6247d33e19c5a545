"""DIV conformance: int8 x1 / x2 bit-exact with the tflite-micro interpreter.

Every pair of input bytes (zero divisors included) is run once through a 2048-element model, so
the kernel's integer reciprocal and its shifts (past 31 places for small quotients, as the x86
interpreter computes them) are compared whole; seeded cases vary the shapes, broadcasting (a
divisor per channel, a scalar), the divisor's sign and the quantization parameters; Keras's softsign (x / (1 + |x|): ABS, ADD,
DIV) comes from the converter as users meet it. (A constant divisor never reaches DIV: the
converter makes it a MUL.)
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, keras_op

from edgekit.frontend.quantize import int8_tflite


def _div_model(shape1, shape2, lo, hi, seed, scale=1.0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    fn = tf.function(lambda a, b: a / b, input_signature=[tf.TensorSpec((1, *shape1), tf.float32),
                                                          tf.TensorSpec((1, *shape2), tf.float32)])
    calib = [[(rng.standard_normal((1, *shape1)) * scale).astype(np.float32),
              rng.uniform(lo, hi, (1, *shape2)).astype(np.float32)] for _ in range(16)]
    return int8_tflite(fn, calib)


@pytest.mark.parametrize("lo,hi,seed", [(0.5, 3.0, 0), (-4.0, -0.25, 1)])
def test_every_byte_pair(lo, hi, seed, runtime_lib, tmp_path):
    model = _div_model((2048,), (2048,), lo, hi, seed)
    a = np.repeat(np.arange(-128, 128), 256).astype(np.int8).reshape(32, 1, 2048)
    b = np.tile(np.arange(-128, 128), 256).astype(np.int8).reshape(32, 1, 2048)
    assert_bit_exact(model, runtime_lib, tmp_path, data=[[a[i], b[i]] for i in range(32)], expect_ops=["DIV"])


# (numerator shape, divisor shape, divisor range, calibration scale, seed)
CASES = [
    ((6, 5, 4), (6, 5, 4), (0.2, 2.0), 1.0, 2),
    ((6, 5, 4), (4,), (1.0, 8.0), 3.0, 3),           # a divisor per channel
    ((3, 7), (1,), (0.05, 0.5), 0.5, 4),             # a scalar divisor: large quotients
    ((2, 3, 4, 5), (3, 1, 5), (-2.0, 2.0), 1.0, 5),  # either sign, some near zero
    ((5, 1, 4), (1, 6, 1), (2.0, 30.0), 10.0, 6),    # both inputs broadcast
]


@pytest.mark.parametrize("shape1,shape2,lohi,scale,seed", CASES)
def test_div(shape1, shape2, lohi, scale, seed, runtime_lib, tmp_path):
    model = _div_model(shape1, shape2, *lohi, seed, scale)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=3, seed=seed, expect_ops=["DIV"])


@pytest.mark.parametrize("calib_scale,seed", [(1.0, 8), (6.0, 9)])
def test_softsign_keras_layer(calib_scale, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Activation("softsign"), (8, 8, 4), seed=seed, calib_scale=calib_scale)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=seed, expect_ops=["ABS", "ADD", "DIV"])

"""PACK of more inputs than CONCATENATION takes (``ek_pack_s8``), bit-exact with tflite-micro.

TFLM's PACK has no limit on its inputs; Keras's TimeDistributed converts to one slice and one
layer per time step, stacked by one PACK, so a sequence of 12 or 49 steps (keyword spotting's
49 frames) makes a PACK of that many inputs.
"""

from __future__ import annotations

import pytest
from opmodels import assert_bit_exact, fn_op, keras_op


@pytest.mark.parametrize("shape,num,axis", [((4, 3), 11, 1), ((5,), 16, -1), ((2, 3), 12, 2)])
def test_stack(shape, num, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda *xs: tf.stack(list(xs), axis=axis), [shape] * num, seed=num)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["PACK"])


@pytest.mark.parametrize("steps,seed", [(12, 1), (49, 2)])
def test_keras_time_distributed(steps, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.TimeDistributed(keras.layers.Dense(4)), (steps, 8), seed=seed)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=seed, expect_ops=["PACK", "FULLY_CONNECTED"])


def test_too_many_inputs_refused(tmp_path):
    import tensorflow as tf

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite

    model = fn_op(lambda x: tf.stack([x * (k + 1) for k in range(65)], axis=1), [(3,)], seed=3)
    with pytest.raises(UnsupportedModelError, match="PACK: 65 inputs"):
        generate(parse_tflite(model), tmp_path / "model")

"""TILE on 6-D tensors: Keras's UpSampling3D converts to RESHAPE, TILE (6-D), RESHAPE, and edgekit
tiles any rank whose walk, once axes without a multiple have merged, fits ``ek_transpose_s8``'s
ten dimensions. tflite-micro has no TILE, so the reference is LiteRT and numpy's repeat.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

from edgekit.frontend import reference


@pytest.mark.parametrize("size,shape,seed", [(2, (3, 4, 5, 2), 0), ((1, 2, 3), (2, 3, 4, 3), 1)])
def test_upsampling3d(size, shape, seed, runtime_lib, tmp_path):
    import keras

    sz = (size,) * 3 if isinstance(size, int) else size
    model = keras_op(keras.layers.UpSampling3D(size), shape, seed=seed)
    want = lambda m, data: [[np.repeat(np.repeat(np.repeat(s[0], sz[0], 1), sz[1], 2), sz[2], 3)] for s in data]  # noqa: E731
    assert_bit_exact(model, runtime_lib, tmp_path, seed=seed, expect_ops=["TILE"], want=want)
    assert_bit_exact(model, runtime_lib, tmp_path / "litert", seed=seed, expect_ops=["TILE"], want=reference.run_litert)


def test_six_dimensions(runtime_lib, tmp_path):
    import tensorflow as tf

    multiples = [1, 2, 1, 3, 1, 2]
    model = fn_op(lambda x: tf.tile(x, multiples), [(2, 3, 2, 2, 3)], seed=2)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TILE"],
                     want=lambda m, data: [[np.tile(s[0], multiples)] for s in data])

"""TILE conformance: seeded tiles of 1-D to 5-D inputs (6-D: test_kernels_tile_3d.py), any multiples, and Keras 3's
UpSampling2D(interpolation="nearest"), which converts to RESHAPE, TILE, RESHAPE.

tflite-micro has no TILE kernel (its interpreter refuses these models), so the reference is
LiteRT (``reference.run_litert``: its builtin TILE, the reference resolver lacking int8 TILE)
and, for single TILE models, numpy's ``np.tile`` of the input bytes: TILE copies them unchanged.
"""

import numpy as np
import pytest

from edgekit.frontend import reference
from opmodels import assert_bit_exact, fn_op, keras_op

# (input shape without batch, multiples including batch, calib, seed)
CASES = [
    ((4, 5, 3), [1, 2, 3, 1], 1.0, 0),
    ((4, 5, 3), [1, 1, 1, 4], 2.0, 1),         # channels: rows of 3 bytes repeated
    ((7,), [1, 5], 0.5, 2),                    # 1-D after the batch
    ((3, 4), [2, 3, 2], 1.0, 3),               # the batch tiled too
    ((2, 3, 4, 5), [1, 2, 3, 2, 2], 1.0, 4),   # 5-D, four axes tiled
    ((2, 3, 2, 3), [3, 2, 2, 3, 2], 1.5, 5),   # 5-D, every axis tiled: eight walk dimensions
    ((5, 6, 2), [3, 1, 1, 1], 1.0, 6),         # the whole input repeated
]


def _numpy_tile(multiples):
    def want(model, data):
        return [[np.tile(sample[0], multiples)] for sample in data]
    return want


@pytest.mark.parametrize("shape,multiples,calib,seed", CASES)
def test_tile(shape, multiples, calib, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.tile(x, multiples), [shape], seed=seed, calib_scale=calib)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TILE"], want=_numpy_tile(multiples))
    assert_bit_exact(model, runtime_lib, tmp_path / "litert", expect_ops=["TILE"], want=reference.run_litert)


@pytest.mark.parametrize("size,shape,seed", [(2, (4, 5, 3), 10), ((2, 3), (3, 4, 2), 11), ((3, 1), (5, 5, 8), 12)])
def test_upsampling_nearest(size, shape, seed, runtime_lib, tmp_path):
    """Keras 3 UpSampling2D(nearest): the input repeated along height and width, which is what
    both the C and LiteRT must give."""
    import keras

    sy, sx = (size, size) if isinstance(size, int) else size
    model = keras_op(keras.layers.UpSampling2D(size, interpolation="nearest"), shape, seed=seed)
    want_repeat = lambda m, data: [[np.repeat(np.repeat(s[0], sy, axis=1), sx, axis=2)] for s in data]
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TILE"], want=want_repeat)
    assert_bit_exact(model, runtime_lib, tmp_path / "litert", expect_ops=["TILE"], want=reference.run_litert)


def test_twelve_walk_dimensions_rejected(tmp_path):
    """Every axis of a 6-D input tiled: twelve walk dimensions, more than ek_transpose_s8 has."""
    import numpy as np
    import tflite

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite
    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    tensors = [TensorSpec("x", (2, 2, 2, 2, 2, 2), scale=0.1),
               TensorSpec("multiples", (6,), "int32", data=np.full(6, 2, np.int32)),
               TensorSpec("y", (4, 4, 4, 4, 4, 4), scale=0.1)]
    op = OpSpec(tflite.BuiltinOperator.TILE, [0, 1], [2])
    with pytest.raises(UnsupportedModelError, match="12 dimensions after merging"):
        generate(parse_tflite(build_model(tensors, [op], [0], [2])), tmp_path / "model")

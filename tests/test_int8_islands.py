"""Float islands made int8 (``quantize.int8_islands``): NEG and SQUARE, which TensorFlow's
converter leaves in float32 between a DEQUANTIZE and a QUANTIZE and TFLM has no int8 kernel for,
become one int8 MUL (by a constant -1, scale 1; by the input itself) with the island's
quantizations. The normalization layers that produce them then run bit-exact with tflite-micro.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

from edgekit.frontend.quantize import int8_islands
from edgekit.ir import parse_tflite


def _islands(model: bytes, want: list[str]) -> bytes:
    out, done = int8_islands(model)
    assert sorted(done) == sorted(want), done
    kinds = [op.type_name for op in parse_tflite(out).ops]
    assert not {"NEG", "SQUARE", "DEQUANTIZE", "QUANTIZE"} & set(kinds), kinds
    return out


def _layer(name: str):
    import keras

    return {"LayerNormalization": lambda: keras.layers.LayerNormalization(),
            "RMSNormalization": lambda: keras.layers.RMSNormalization(),
            "UnitNormalization": lambda: keras.layers.UnitNormalization(),
            "GroupNormalization": lambda: keras.layers.GroupNormalization(groups=2),
            "LayerNormalization(no scale)": lambda: keras.layers.LayerNormalization(center=False, scale=False),
            }[name]()


# (layer, input shape, calibration scale, seed, the islands the converter leaves)
LAYERS = [
    ("LayerNormalization", (12, 4), 1.0, 0, ["NEG"]),
    ("LayerNormalization", (5, 16), 4.0, 1, ["NEG"]),
    ("LayerNormalization(no scale)", (6, 6, 8), 0.5, 2, ["NEG"]),
    ("RMSNormalization", (12, 4), 1.0, 3, ["SQUARE"]),
    ("UnitNormalization", (10, 6), 2.0, 4, ["SQUARE"]),
    ("GroupNormalization", (8, 8, 4), 1.0, 5, ["NEG", "SQUARE"]),
]


@pytest.mark.parametrize("name,shape,scale,seed,islands", LAYERS)
def test_normalization_layer(name, shape, scale, seed, islands, runtime_lib, tmp_path):
    model = _islands(keras_op(_layer(name), shape, seed=seed, calib_scale=scale), islands)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=3, seed=seed, expect_ops=["MUL"])


@pytest.mark.parametrize("fn,kind,scale,seed", [("neg", "NEG", 1.0, 6), ("neg", "NEG", 9.0, 7),
                                                ("square", "SQUARE", 1.0, 8), ("square", "SQUARE", 3.0, 9)])
def test_every_byte(fn, kind, scale, seed, runtime_lib, tmp_path):
    """tf.negative / tf.square alone (DEQUANTIZE, NEG or SQUARE, QUANTIZE): every input byte
    through the MUL."""
    import tensorflow as tf

    op = {"neg": tf.negative, "square": tf.square}[fn]
    model = _islands(fn_op(op, [(16, 16)], seed=seed, calib_scale=scale), [kind])
    extra = [[np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16)]]
    assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=extra, expect_ops=["MUL"])


def test_island_inside_a_graph(runtime_lib, tmp_path):
    """NEG of a mean, times the input: the island between two int8 operators."""
    import tensorflow as tf

    model = _islands(fn_op(lambda x: tf.negative(tf.reduce_mean(x, axis=-1, keepdims=True)) * x, [(6, 8)], seed=10),
                     ["NEG"])
    assert_bit_exact(model, runtime_lib, tmp_path, seed=10, expect_ops=["MEAN", "MUL"])

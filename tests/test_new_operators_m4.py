"""The operators added for the models people bring, on the emulated Cortex-M4 (firmware build,
QEMU, the serial harness), in two Keras models built and converted at test time: every output
of every inference equal to tflite-micro's. (Each operator's conformance cases run on the host.)"""

from __future__ import annotations

import shutil

import pytest

from opmodels import keras_graph

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")


def _image_model() -> bytes:
    """PRELU, RESIZE_BILINEAR, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, REDUCE_MAX: conv, upsample,
    transposed conv, resize, two global poolings, a classifier."""
    import keras

    def build(x):
        h = keras.layers.Conv2D(8, 3, padding="same")(x)
        h = keras.layers.PReLU()(h)
        h = keras.layers.Resizing(10, 10)(h)
        h = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Resizing(14, 14, interpolation="nearest")(h)
        pooled = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling2D()(h),
                                             keras.layers.GlobalAveragePooling2D()(h)])
        return keras.layers.Dense(5, activation="softmax")(pooled)

    return keras_graph(build, [(8, 8, 3)], seed=21)


def _sequence_model() -> bytes:
    """BATCH_MATMUL (attention), SPLIT, MAXIMUM: a self-attention block whose two halves of the
    features are merged by their maximum."""
    import keras

    def build(x):
        q, k, v = (keras.layers.Dense(8)(x) for _ in range(3))
        scores = keras.layers.Softmax()(keras.layers.Dot(axes=(2, 2))([q, k]))
        att = keras.layers.Dot(axes=(2, 1))([scores, v])
        left, right = keras.ops.split(att, 2, axis=-1)
        return keras.layers.Maximum()([left, right])

    return keras_graph(build, [(10, 12)], seed=22)


@pytest.mark.parametrize("make,expect", [
    (_image_model, {"PRELU", "RESIZE_BILINEAR", "TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "REDUCE_MAX"}),
    (_sequence_model, {"BATCH_MATMUL", "SPLIT", "MAXIMUM"}),
])
def test_new_operators_on_the_emulated_m4(make, expect, tmp_path):
    from edgekit.harness.deploy import deploy
    from edgekit.ir import parse_tflite

    model = make()
    kinds = {op.type_name for op in parse_tflite(model, name="m").ops}
    assert expect <= kinds, kinds
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    rep = deploy(path, "qemu-mps2-an386", samples=4, seed=5, out_dir=tmp_path / "build").profile
    assert rep is not None and rep.reference == "tflite-micro", rep.summary() if rep else "no profile"
    assert rep.passed and rep.equal_count == len(rep.samples) == 4, rep.summary()

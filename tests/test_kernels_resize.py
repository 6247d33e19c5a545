"""RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR conformance: seeded resizes up and down, odd sizes,
every align_corners / half_pixel_centers setting TFLM takes, and the Keras layers that convert to
them, bit-exact with tflite-micro."""

import pytest

from opmodels import assert_bit_exact, fn_op, keras_op

# (input height, width, depth), output (height, width), align_corners, half_pixel_centers, calib, seed
CASES = [
    ((4, 5, 3), (8, 10), False, False, 1.0, 0),   # x2
    ((4, 5, 3), (7, 9), True, False, 2.0, 1),
    ((4, 5, 3), (7, 9), False, True, 0.5, 2),
    ((9, 7, 2), (4, 3), False, False, 1.0, 3),    # down
    ((9, 7, 2), (4, 3), True, False, 3.0, 4),
    ((9, 7, 2), (5, 2), False, True, 1.0, 5),
    ((3, 3, 4), (1, 1), True, False, 1.0, 6),     # a single output pixel
    ((1, 6, 5), (3, 13), False, True, 1.5, 7),    # one input row
    ((5, 5, 8), (5, 5), False, False, 1.0, 8),    # same size
    ((6, 4, 1), (17, 11), True, False, 0.3, 9),   # depth 1, odd factors
]


def _resize(kind, size, align_corners, half_pixel_centers):
    import tensorflow as tf

    fn = {"RESIZE_NEAREST_NEIGHBOR": tf.compat.v1.image.resize_nearest_neighbor,
          "RESIZE_BILINEAR": tf.compat.v1.image.resize_bilinear}[kind]
    return lambda x: fn(x, size, align_corners=align_corners, half_pixel_centers=half_pixel_centers)


def build(kind, shape, size, align, half, calib, seed) -> bytes:
    return fn_op(_resize(kind, size, align, half), [shape], seed=seed, calib_scale=calib)


@pytest.mark.parametrize("kind", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
@pytest.mark.parametrize("shape,size,align,half,calib,seed", CASES)
def test_resize(kind, shape, size, align, half, calib, seed, runtime_lib, tmp_path):
    graph = assert_bit_exact(build(kind, shape, size, align, half, calib, seed), runtime_lib, tmp_path,
                             expect_ops=[kind])
    op = graph.ops[0]
    assert (op.options.align_corners, op.options.half_pixel_centers) == (align, half)


def test_nearest_no_half_pixel_clamp(runtime_lib, tmp_path):
    """Nearest with align_corners and half_pixel_centers both on: TFLM takes it (bilinear does not)."""
    model = build("RESIZE_NEAREST_NEIGHBOR", (5, 4, 3), (11, 7), True, True, 1.0, 20)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESIZE_NEAREST_NEIGHBOR"])


@pytest.mark.parametrize("layer,shape,kind,seed", [
    (("UpSampling2D", {"size": 2, "interpolation": "bilinear"}), (4, 5, 3), "RESIZE_BILINEAR", 30),
    (("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}), (3, 4, 2), "RESIZE_BILINEAR", 31),
    (("Resizing", {"height": 7, "width": 9, "interpolation": "nearest"}), (4, 5, 3), "RESIZE_NEAREST_NEIGHBOR", 32),
    (("Resizing", {"height": 3, "width": 2, "interpolation": "nearest"}), (8, 5, 3), "RESIZE_NEAREST_NEIGHBOR", 33),
    (("Resizing", {"height": 11, "width": 6, "interpolation": "bilinear"}), (4, 5, 3), "RESIZE_BILINEAR", 34),
    (("Resizing", {"height": 3, "width": 2, "interpolation": "bilinear"}), (7, 5, 4), "RESIZE_BILINEAR", 35),
])
def test_keras_layers(layer, shape, kind, seed, runtime_lib, tmp_path):
    import keras

    name, kwargs = layer
    model = keras_op(getattr(keras.layers, name)(**kwargs), shape, seed=seed, calib_scale=1.0 + seed % 3)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


def _handbuilt(kind, in_shape, size, align, half):
    """One resize in a hand-built model (any batch, any option pair)."""
    import numpy as np
    import tflite

    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    name = "ResizeBilinearOptions" if kind == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"

    def options(b):
        getattr(tflite, f"{name}Start")(b)
        getattr(tflite, f"{name}AddAlignCorners")(b, align)
        getattr(tflite, f"{name}AddHalfPixelCenters")(b, half)
        return getattr(tflite, f"{name}End")(b)

    out_shape = (in_shape[0], *size, in_shape[3])
    tensors = [TensorSpec("x", in_shape, scale=0.05, zero_point=-7),
               TensorSpec("size", (2,), "int32", data=np.array(size, np.int32)),
               TensorSpec("y", out_shape, scale=0.05, zero_point=-7)]
    op = OpSpec(getattr(tflite.BuiltinOperator, kind), [0, 1], [2], getattr(tflite.BuiltinOptions, name), options)
    return build_model(tensors, [op], [0], [2])


@pytest.mark.parametrize("kind", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_batch_of_three(kind, runtime_lib, tmp_path):
    """Each batch resized on its own (the converter's models have a batch of one)."""
    assert_bit_exact(_handbuilt(kind, (3, 4, 5, 2), (7, 3), False, True), runtime_lib, tmp_path,
                     expect_ops=[kind])


def test_bilinear_align_corners_with_half_pixel_rejected(tmp_path):
    """TFLM's RESIZE_BILINEAR refuses the pair; so does edgekit, in one line."""
    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite

    model = _handbuilt("RESIZE_BILINEAR", (1, 4, 5, 2), (8, 10), True, True)
    with pytest.raises(UnsupportedModelError, match="align_corners with half_pixel_centers"):
        generate(parse_tflite(model), tmp_path / "model")

"""MEAN conformance: seeded reduce-mean models (Keras global average pooling and tf.reduce_mean
over various axes), bit-exact with tflite-micro."""

import pytest

from opmodels import assert_bit_exact, fn_op, keras_op


@pytest.mark.parametrize("layer,shape,keepdims,calib,seed", [
    ("GlobalAveragePooling2D", (7, 7, 8), False, 1.0, 0),
    ("GlobalAveragePooling2D", (5, 3, 16), True, 3.0, 1),
    ("GlobalAveragePooling2D", (16, 16, 4), False, 0.3, 2),   # 256 elements per mean
    ("GlobalAveragePooling1D", (20, 8), False, 2.0, 3),
])
def test_keras_global_average(layer, shape, keepdims, calib, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(getattr(keras.layers, layer)(keepdims=keepdims), shape, seed=seed, calib_scale=calib)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["MEAN"])
    assert graph.ops[0].options.keep_dims == keepdims


@pytest.mark.parametrize("shape,axes,keepdims,calib,seed", [
    ((5, 5, 3), [1, 2], True, 1.0, 10),
    ((4, 6, 10), [1, 2], False, 5.0, 11),
    ((4, 5, 6), [-1], False, 1.0, 12),         # channels
    ((4, 5, 6), [3], True, 0.5, 13),
    ((10, 4), [1], False, 2.0, 14),            # 3-D input, middle axis
    ((6, 7, 5), [1, 3], False, 1.5, 15),       # non-adjacent axes
    ((6, 7, 5), [2], True, 1.0, 16),           # width only
    ((3, 4, 5), [1, 2, 3], False, 4.0, 17),    # everything but the batch
])
def test_reduce_mean(shape, axes, keepdims, calib, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.reduce_mean(x, axis=axes, keepdims=keepdims), [shape], seed=seed,
                  calib_scale=calib)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["MEAN"])


def _output_quant_of_input(model: bytes) -> bytes:
    """Overwrite the MEAN output's stored scale and zero point with the input's (the converter
    calibrates them separately)."""
    import struct

    import tflite

    sub = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0)
    op = sub.Operators(0)
    q_in = sub.Tensors(op.Inputs(0)).Quantization()
    q_out = sub.Tensors(op.Outputs(0)).Quantization()
    buf = bytearray(model)
    for field, fmt in ((8, "<f"), (10, "<q")):  # QuantizationParameters.scale, .zero_point
        src = q_in._tab.Vector(q_in._tab.Offset(field))
        dst = q_out._tab.Vector(q_out._tab.Offset(field))
        buf[dst:dst + struct.calcsize(fmt)] = model[src:src + struct.calcsize(fmt)]
    return bytes(buf)


@pytest.mark.parametrize("shape,axes,keepdims,seed", [((5, 5, 3), [1, 2], True, 20), ((3, 3, 9), [3], False, 21)])
def test_equal_quantization(shape, axes, keepdims, seed, runtime_lib, tmp_path):
    """Input and output quantized alike: TFLM (this version) still takes the rescaling path,
    not the plain integer division older versions used."""
    import tensorflow as tf

    model = _output_quant_of_input(fn_op(lambda x: tf.reduce_mean(x, axis=axes, keepdims=keepdims),
                                         [shape], seed=seed))
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["MEAN"])
    x, y = graph.tensors[graph.ops[0].inputs[0]], graph.tensors[graph.ops[0].outputs[0]]
    assert x.quant == y.quant

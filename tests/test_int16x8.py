"""int16x8 models (int16 activations, int8 weights), converted at test time and compared with
tflite-micro bit for bit: per-channel and per-tensor weights, strides, padding, dilation, fused
activations, broadcasting, quantization parameters; a small CNN classifier through
``edgekit convert --mode int16x8`` and ``edgekit validate``; ``inspect`` on what edgekit lacks."""

import pytest

from opmodels import assert_bit_exact, keras_graph, keras_op

I16 = dict(activations="int16")


def _graph_op_types(model):
    from edgekit.ir import parse_tflite

    g = parse_tflite(model, name="case")
    return g, [op.type_name for op in g.ops]


# ---------------------------------------------------------------------------- FULLY_CONNECTED


@pytest.mark.parametrize("in_f,units,act,per_tensor,bias,seed", [
    (16, 8, None, False, True, 0),
    (64, 10, "relu", True, True, 1),
    (33, 7, "relu6", False, False, 2),
    (200, 3, None, False, True, 3),
])
def test_dense(in_f, units, act, per_tensor, bias, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Dense(units, activation=act, use_bias=bias), (in_f,), seed=seed,
                     per_tensor=per_tensor, **I16)
    g = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["FULLY_CONNECTED"])
    assert g.tensors[g.inputs[0]].dtype.name == "INT16"


# ---------------------------------------------------------------------------- CONV_2D, DEPTHWISE_CONV_2D


@pytest.mark.parametrize("shape,filters,k,strides,padding,dilation,act,per_tensor,seed", [
    ((9, 9, 3), 4, 3, 1, "same", 1, None, False, 0),
    ((10, 8, 2), 5, (3, 2), (2, 1), "valid", 1, "relu", False, 1),
    ((11, 11, 4), 3, 3, 2, "same", 1, "relu6", True, 2),
    ((12, 12, 2), 6, 3, 1, "same", 2, None, False, 3),
    ((7, 7, 8), 8, 1, 1, "valid", 1, None, False, 4),
])
def test_conv2d(shape, filters, k, strides, padding, dilation, act, per_tensor, seed, runtime_lib, tmp_path):
    import keras

    layer = keras.layers.Conv2D(filters, k, strides=strides, padding=padding, dilation_rate=dilation,
                                activation=act)
    model = keras_op(layer, shape, seed=seed, per_tensor=per_tensor, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONV_2D"])


@pytest.mark.parametrize("shape,k,strides,padding,dm,act,per_tensor,seed", [
    ((9, 9, 4), 3, 1, "same", 1, None, False, 0),
    ((10, 8, 3), (3, 2), (2, 1), "valid", 2, "relu", False, 1),
    ((11, 11, 5), 3, 2, "same", 1, "relu6", False, 2),  # per-tensor: the 16x8 converter refuses it
])
def test_depthwise(shape, k, strides, padding, dm, act, per_tensor, seed, runtime_lib, tmp_path):
    import keras

    layer = keras.layers.DepthwiseConv2D(k, strides=strides, padding=padding, depth_multiplier=dm,
                                         activation=act)
    model = keras_op(layer, shape, seed=seed, per_tensor=per_tensor, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["DEPTHWISE_CONV_2D"])


# ---------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("kind,shape,pool,strides,padding,seed", [
    ("max", (9, 9, 3), 2, 2, "valid", 0),
    ("max", (10, 7, 4), 3, 2, "same", 1),
    ("avg", (9, 9, 3), 2, 2, "valid", 2),
    ("avg", (10, 7, 4), 3, (2, 1), "same", 3),
])
def test_pool(kind, shape, pool, strides, padding, seed, runtime_lib, tmp_path):
    import keras

    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    model = keras_op(cls(pool, strides=strides, padding=padding), shape, seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path,
                     expect_ops=["MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"])


# ---------------------------------------------------------------------------- SOFTMAX


@pytest.mark.parametrize("shape,scale,seed", [((10,), 1.0, 0), ((3, 7), 4.0, 1), ((33,), 0.2, 2)])
def test_softmax(shape, scale, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Softmax(), shape, seed=seed, calib_scale=scale, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=5, expect_ops=["SOFTMAX"])

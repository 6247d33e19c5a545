"""RESHAPE, SQUEEZE, EXPAND_DIMS: no kernel, the output shares its input's storage.

The converter turns tf.squeeze / tf.expand_dims / Flatten / Reshape into RESHAPE, so SQUEEZE and
EXPAND_DIMS come from small hand-built flatbuffers (``build_model``). The aliasing cases that
can go wrong in a planner: the alias at the graph edges (input and output are the same
storage), chains of aliases, an aliased tensor read by later operators while its alias is still
alive, and both names of one buffer being graph outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph, keras_op


# ---------------------------------------------------------------------------- hand-built models


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "int8"  # int8, uint8, int32, float32, bool
    scale: float | None = None
    zero_point: int = 0
    data: np.ndarray | None = None  # constant contents


@dataclass
class OpSpec:
    code: int  # tflite.BuiltinOperator
    inputs: list[int]
    outputs: list[int]
    options_type: int = 0  # tflite.BuiltinOptions
    options: object = None  # fn(builder) -> table offset


def build_model(tensors: list[TensorSpec], ops: list[OpSpec], inputs: list[int],
                outputs: list[int]) -> bytes:
    """A single-subgraph .tflite flatbuffer, written with the tflite schema's builders."""
    import flatbuffers
    import tflite

    types = {"int8": tflite.TensorType.INT8, "uint8": tflite.TensorType.UINT8,
             "int32": tflite.TensorType.INT32,
             "float32": tflite.TensorType.FLOAT32, "bool": tflite.TensorType.BOOL}
    b = flatbuffers.Builder(4096)

    def ivec(values, prepend="PrependInt32"):
        size = 8 if prepend == "PrependInt64" else 4
        b.StartVector(size, len(values), size)
        for v in reversed(values):
            getattr(b, prepend)(v)
        return b.EndVector()

    def tables(offsets):
        b.StartVector(4, len(offsets), 4)
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    buffers = [None]  # buffer 0 is the empty sentinel
    t_offsets = []
    for t in tensors:
        name = b.CreateString(t.name)
        shape = ivec(list(t.shape))
        q = None
        if t.scale is not None:
            scale = ivec([t.scale], "PrependFloat32")
            zp = ivec([t.zero_point], "PrependInt64")
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            q = tflite.QuantizationParametersEnd(b)
        buf = 0
        if t.data is not None:
            buffers.append(np.ascontiguousarray(t.data, dtype=t.dtype).tobytes())
            buf = len(buffers) - 1
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, types[t.dtype])
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if q is not None:
            tflite.TensorAddQuantization(b, q)
        t_offsets.append(tflite.TensorEnd(b))

    codes = sorted({o.code for o in ops})
    o_offsets = []
    for o in ops:
        opts = o.options(b) if o.options is not None else None
        ins, outs = ivec(o.inputs), ivec(o.outputs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(o.code))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, o.options_type)
            tflite.OperatorAddBuiltinOptions(b, opts)
        o_offsets.append(tflite.OperatorEnd(b))

    tvec, ovec = tables(t_offsets), tables(o_offsets)
    sg_in, sg_out = ivec(inputs), ivec(outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tvec)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, ovec)
    sg = tflite.SubGraphEnd(b)

    code_offsets = []
    for c in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddBuiltinCode(b, c)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(c, 127))
        tflite.OperatorCodeAddVersion(b, 1)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    buf_offsets = []
    for raw in buffers:
        data = None
        if raw is not None:
            b.StartVector(1, len(raw), 16)
            for byte in reversed(raw):
                b.PrependUint8(byte)
            data = b.EndVector()
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        buf_offsets.append(tflite.BufferEnd(b))
    cvec, bvec, svec = tables(code_offsets), tables(buf_offsets), tables([sg])
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, cvec)
    tflite.ModelAddSubgraphs(b, svec)
    tflite.ModelAddBuffers(b, bvec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def squeeze_options(dims):
    import tflite

    def build(b):
        b.StartVector(4, len(dims), 4)
        for d in reversed(dims):
            b.PrependInt32(d)
        vec = b.EndVector()
        tflite.SqueezeOptionsStart(b)
        tflite.SqueezeOptionsAddSqueezeDims(b, vec)
        return tflite.SqueezeOptionsEnd(b)

    return tflite.BuiltinOptions.SqueezeOptions, build


def expand_dims_options():
    import tflite

    def build(b):
        tflite.ExpandDimsOptionsStart(b)
        return tflite.ExpandDimsOptionsEnd(b)

    return tflite.BuiltinOptions.ExpandDimsOptions, build


def relu_wrapped(kind: int, in_shape, out_shape, extra_inputs=(), options=(0, None)) -> bytes:
    """x -> RELU -> kind -> RELU -> y, all int8 with the same quantization (so both RELUs are
    plain clamps): the aliased tensor sits inside the arena, between two kernels."""
    import tflite

    q = dict(scale=0.05, zero_point=-3)
    tensors = [TensorSpec("x", in_shape, **q), TensorSpec("a", in_shape, **q),
               TensorSpec("b", out_shape, **q), TensorSpec("y", out_shape, **q), *extra_inputs]
    extra = list(range(4, 4 + len(extra_inputs)))
    ops = [OpSpec(tflite.BuiltinOperator.RELU, [0], [1]),
           OpSpec(kind, [1, *extra], [2], *options),
           OpSpec(tflite.BuiltinOperator.RELU, [2], [3])]
    return build_model(tensors, ops, [0], [3])


def single(kind: int, in_shape, out_shape, extra_inputs=(), options=(0, None)) -> bytes:
    """x -> kind -> y: the alias spans the graph input and the graph output."""
    q = dict(scale=0.05, zero_point=-3)
    tensors = [TensorSpec("x", in_shape, **q), TensorSpec("y", out_shape, **q), *extra_inputs]
    op = OpSpec(kind, [0, *range(2, 2 + len(extra_inputs))], [1], *options)
    return build_model(tensors, [op], [0], [1])


# ---------------------------------------------------------------------------- SQUEEZE, EXPAND_DIMS


@pytest.mark.parametrize("in_shape,dims,out_shape", [
    ((1, 6, 1, 5), [2], (1, 6, 5)),
    ((1, 1, 1, 7), [1, 2], (1, 7)),
    ((1, 3, 1, 1), [], (3,)),  # no dims: every unit dimension goes (the batch too)
    ((1, 4, 1), [-1], (1, 4)),
])
@pytest.mark.parametrize("wrap", ["single", "between"])
def test_squeeze(in_shape, dims, out_shape, wrap, runtime_lib, tmp_path):
    import tflite

    make = single if wrap == "single" else relu_wrapped
    model = make(tflite.BuiltinOperator.SQUEEZE, in_shape, out_shape, options=squeeze_options(dims))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SQUEEZE"])


@pytest.mark.parametrize("in_shape,axis,out_shape", [
    ((1, 6, 5), 1, (1, 1, 6, 5)),
    ((1, 6, 5), -1, (1, 6, 5, 1)),
    ((7,), 0, (1, 7)),
])
@pytest.mark.parametrize("wrap", ["single", "between"])
def test_expand_dims(in_shape, axis, out_shape, wrap, runtime_lib, tmp_path):
    import tflite

    make = single if wrap == "single" else relu_wrapped
    axis_t = TensorSpec("axis", (), "int32", data=np.array(axis, dtype=np.int32))
    model = make(tflite.BuiltinOperator.EXPAND_DIMS, in_shape, out_shape, extra_inputs=[axis_t],
                 options=expand_dims_options())
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["EXPAND_DIMS"])


# ---------------------------------------------------------------------------- RESHAPE from the converter


def test_reshape_single_op(runtime_lib, tmp_path):
    import tflite

    shape_t = TensorSpec("shape", (2,), "int32", data=np.array([4, 6], dtype=np.int32))
    model = single(tflite.BuiltinOperator.RESHAPE, (1, 2, 3, 4), (4, 6), extra_inputs=[shape_t])
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])


@pytest.mark.parametrize("target", [(6, 4), (24,), (2, 3, 4), (-1, 8)])
def test_reshape_layer_between_dense(target, runtime_lib, tmp_path):
    import keras

    def build(x):
        return keras.layers.Dense(5)(keras.layers.Reshape(target)(keras.layers.Dense(12)(x)))

    model = keras_graph(build, [(2, 7)], seed=len(target))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])


def test_squeeze_and_expand_dims_become_reshape(runtime_lib, tmp_path):
    import tensorflow as tf

    def fn(x):
        y = tf.squeeze(tf.nn.relu(x), axis=2)
        return tf.expand_dims(y * 2.0, axis=1) - 1.0

    model = fn_op(fn, [(6, 1, 5)], seed=2)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])


def test_alias_chain_and_fanout(runtime_lib, tmp_path):
    """SQUEEZE -> RESHAPE -> EXPAND_DIMS in a row (one buffer, four names), the first name read
    again by an operator after the chain, and a middle name that is also a graph output."""
    import tflite

    op = tflite.BuiltinOperator
    q = dict(scale=0.04, zero_point=5)
    tensors = [TensorSpec("x", (1, 2, 1, 6), **q), TensorSpec("a", (1, 2, 1, 6), **q),
               TensorSpec("b", (1, 2, 6), **q), TensorSpec("c", (1, 12), **q),
               TensorSpec("d", (1, 1, 12), **q), TensorSpec("y1", (1, 1, 12), **q),
               TensorSpec("y2", (1, 2, 1, 6), **q),
               TensorSpec("shape", (2,), "int32", data=np.array([1, 12], dtype=np.int32)),
               TensorSpec("axis", (), "int32", data=np.array(1, dtype=np.int32))]
    ops = [OpSpec(op.RELU, [0], [1]),
           OpSpec(op.SQUEEZE, [1], [2], *squeeze_options([2])),
           OpSpec(op.RESHAPE, [2, 7], [3]),
           OpSpec(op.EXPAND_DIMS, [3, 8], [4], *expand_dims_options()),
           OpSpec(op.RELU, [4], [5]),
           OpSpec(op.RELU, [1], [6])]
    model = build_model(tensors, ops, [0], [5, 6, 3])
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SQUEEZE", "RESHAPE", "EXPAND_DIMS"])


def test_reshape_input_read_after_alias(runtime_lib, tmp_path):
    """Keras: a Dense output is both reshaped (then consumed) and read by a later Dense."""
    import keras

    def build(x):
        a = keras.layers.Dense(12)(x)  # (3, 12)
        r = keras.layers.Dense(4)(keras.layers.Reshape((36,))(a))
        return [r, keras.layers.Dense(5)(a)]

    model = keras_graph(build, [(3, 5)], seed=4)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])


def test_flatten_layer(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Flatten(), (4, 3, 2), seed=5)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])


def test_float_io_flatten(runtime_lib, tmp_path):
    """float32 model edges: QUANTIZE -> RESHAPE -> DEQUANTIZE, the alias between two kernels."""
    import keras

    from edgekit.frontend.quantize import int8_tflite
    from opmodels import _calib

    keras.utils.set_random_seed(6)
    inp = keras.Input(shape=(4, 6), batch_size=1)
    model = int8_tflite(keras.Model(inp, keras.layers.Flatten()(inp)), _calib([(4, 6)], 6),
                        io_type="float32")
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["QUANTIZE", "RESHAPE", "DEQUANTIZE"])


def test_reshape_with_different_quantization(runtime_lib, tmp_path):
    """TFLM's RESHAPE copies the bytes even when the output is quantized differently (it does
    not requantize), so the alias is still exact; edgekit used to refuse such a model."""
    import tflite

    tensors = [TensorSpec("x", (1, 2, 3), scale=0.1, zero_point=3),
               TensorSpec("y", (1, 6), scale=0.02, zero_point=-7),
               TensorSpec("shape", (2,), "int32", data=np.array([1, 6], dtype=np.int32))]
    model = build_model(tensors, [OpSpec(tflite.BuiltinOperator.RESHAPE, [0, 2], [1])], [0], [1])
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESHAPE"])

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


# ---------------------------------------------------------------------------- TRANSPOSE_CONV


@pytest.mark.parametrize("shape,filters,k,strides,padding,act,bias,per_tensor,seed", [
    ((5, 5, 2), 3, 3, 2, "same", None, True, False, 0),
    ((4, 6, 3), 4, (3, 2), (2, 3), "valid", "relu", True, False, 1),
    ((6, 6, 4), 2, 2, 1, "same", None, False, False, 2),
    ((5, 4, 3), 5, 4, 2, "same", "relu6", True, True, 3),
])
def test_transpose_conv(shape, filters, k, strides, padding, act, bias, per_tensor, seed, runtime_lib, tmp_path):
    """Keras Conv2DTranspose on int16: the gathered taps in an int64 accumulator, the int64 bias,
    TFLM's 64-bit requantization; strides above the filter size leave outputs no tap reaches."""
    import keras

    layer = keras.layers.Conv2DTranspose(filters, k, strides=strides, padding=padding, activation=act,
                                         use_bias=bias)
    model = keras_op(layer, shape, seed=seed, per_tensor=per_tensor, **I16)
    g = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TRANSPOSE_CONV"])
    assert g.tensors[g.inputs[0]].dtype.name == "INT16"


# ---------------------------------------------------------------------------- BATCH_MATMUL


@pytest.mark.parametrize("sa,sb,adj_a,adj_b,seed", [
    ((4, 6), (6, 5), False, False, 0),
    ((3, 6, 4), (3, 6, 5), True, False, 1),
    ((3, 4, 6), (3, 5, 6), False, True, 2),
    ((2, 3, 7, 4), (1, 3, 4, 2), False, False, 3),  # the right operand broadcast over the first axis
    ((1, 33, 17), (1, 17, 9), False, False, 4),
])
def test_batch_matmul(sa, sb, adj_a, adj_b, seed, runtime_lib, tmp_path):
    """Two int16 activations multiplied: TFLM's int64 sum and 64-bit requantization, with
    transposes and broadcast batch axes."""
    import tensorflow as tf

    from opmodels import fn_op

    model = fn_op(lambda a, b: tf.linalg.matmul(a, b, transpose_a=adj_a, transpose_b=adj_b), [sa, sb], seed=seed,
                  calib_scale=0.5 + seed % 3, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["BATCH_MATMUL"])


def test_attention_scores(runtime_lib, tmp_path):
    """A self-attention block on int16: query, key and value projections, their product, a
    softmax, and the weighted values (two BATCH_MATMULs)."""
    import keras

    def build(x):
        q = keras.layers.Dense(8)(x)
        k = keras.layers.Dense(8)(x)
        v = keras.layers.Dense(8)(x)
        scores = keras.layers.Softmax()(keras.layers.Dot(axes=(2, 2))([q, k]))
        return keras.layers.Dot(axes=(2, 1))([scores, v])

    graph = assert_bit_exact(keras_graph(build, [(10, 12)], seed=8, **I16), runtime_lib, tmp_path,
                             expect_ops=["BATCH_MATMUL", "SOFTMAX", "FULLY_CONNECTED"])
    assert [op.type_name for op in graph.ops].count("BATCH_MATMUL") == 2


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


# ---------------------------------------------------------------------------- a CNN classifier end to end


@pytest.fixture(scope="module")
def digits16(tmp_path_factory):
    """examples/digits.py (Conv2D, DepthwiseConv2D, max and average pooling, Dense, softmax),
    trained, then ``edgekit convert --mode int16x8`` on its held-out digits."""
    import contextlib
    import io
    import json

    from conftest import load_example
    from edgekit.cli import main

    d = tmp_path_factory.mktemp("digits16")
    trained = load_example("digits").train(d, epochs=15)
    out = d / "digits16.tflite"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(["convert", str(trained.model_path), "-o", str(out), "--calib", str(trained.calib_path),
                     "--mode", "int16x8", "--json"])
    assert code == 0
    return out, json.loads(printed.getvalue())


def test_digits_convert_int16x8(digits16):
    from edgekit.ir import DType, read_tflite

    out, _ = digits16
    graph = read_tflite(out)
    kinds = {op.type_name for op in graph.ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
            "SOFTMAX"} <= kinds, kinds
    for i in (*graph.inputs, *graph.outputs):
        assert graph.tensors[i].dtype == DType.INT16
    for op in graph.ops:  # no float between operators; int8 weights, int64 bias
        for t in (*graph.op_inputs(op), *graph.op_outputs(op)):
            if t is not None and not t.is_constant:
                assert t.dtype == DType.INT16, (op.type_name, t.name, t.dtype)
            elif t is not None and op.type_name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                assert t.dtype in (DType.INT8, DType.INT64), (op.type_name, t.name, t.dtype)


def test_digits_int16x8_agreement_report(digits16):
    _, report = digits16
    assert report["mode"] == "int16x8"
    assert report["inputs"][0]["dtype"] == "int16"
    (o,) = report["outputs"]
    assert o["dtype"] == "int16" and o["top1_agreement"] >= 0.95 and o["sqnr_db"] > 30


def test_digits_int16x8_validates_on_host(digits16, capfd):
    from edgekit.cli import main

    out, _ = digits16
    code = main(["validate", str(out), "--target", "host", "--samples", "20", "--sanitize"])
    stdout = capfd.readouterr().out
    assert code == 0, stdout
    assert "PASS: bit-exact with tflite-micro" in stdout


@pytest.mark.skipif(__import__("shutil").which("qemu-system-arm") is None, reason="needs qemu-system-arm")
def test_digits_int16x8_deploys_on_qemu(digits16, tmp_path):
    from edgekit.harness.deploy import deploy

    out, _ = digits16
    result = deploy(out, "qemu-mps2-an386", samples=5, seed=3, out_dir=tmp_path / "build")
    rep = result.profile
    assert rep is not None and rep.status == "complete", rep.summary() if rep else "no profile"
    assert rep.reference == "tflite-micro" and rep.equal_count == len(rep.samples) >= 5
    assert rep.passed


# ---------------------------------------------------------------------------- ADD, SUB, MUL


def _binary(kind, sa, sb, seed, calib_scale=1.0):
    import tensorflow as tf

    from opmodels import fn_op

    fn = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply}[kind]
    return fn_op(lambda a, b: fn(a, b), [sa, sb], seed=seed, calib_scale=calib_scale, **I16)


BINARY = [
    # (kind, shape a, shape b, seed, calibration scale): equal shapes and broadcasting
    ("ADD", (6, 5, 3), (6, 5, 3), 0, 1.0),
    ("ADD", (4, 4, 3), (1, 1, 3), 1, 3.0),
    ("ADD", (2, 3, 4, 5), (2, 1, 4, 1), 2, 0.5),
    ("SUB", (20,), (20,), 3, 2.0),
    ("SUB", (1, 6, 1), (5, 6, 7), 4, 1.0),
    ("MUL", (7, 9, 2), (7, 9, 2), 5, 1.0),
    ("MUL", (4, 4, 3), (1, 1, 3), 6, 4.0),
]


@pytest.mark.parametrize("kind,sa,sb,seed,scale", BINARY)
def test_binary(kind, sa, sb, seed, scale, runtime_lib, tmp_path):
    assert_bit_exact(_binary(kind, sa, sb, seed, scale), runtime_lib, tmp_path, expect_ops=[kind])


def test_add_of_two_scales(runtime_lib, tmp_path):
    """A residual ADD whose inputs have different scales (a Dense branch and the input)."""
    import keras

    def build(x):
        return keras.layers.Add()([x, keras.layers.Dense(12)(x)])

    model = keras_graph(build, [(12,)], seed=7, calib_scale=2.0, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["ADD", "FULLY_CONNECTED"])


# ---------------------------------------------------------------------------- QUANTIZE, DEQUANTIZE, movement


@pytest.mark.parametrize("axis,seed", [(-1, 0), (1, 1)])
def test_concatenation_requantizes(axis, seed, runtime_lib, tmp_path):
    """Branches of different scales: the converter requantizes them (QUANTIZE int16 -> int16)
    to the output's scale before CONCATENATION."""
    import keras

    def build(a, b):
        return keras.layers.Concatenate(axis=axis)([keras.layers.Add()([a, b]), keras.layers.Multiply()([a, b]), a])

    model = keras_graph(build, [(4, 5, 3), (4, 5, 3)], seed=seed, calib_scale=2.0, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONCATENATION", "QUANTIZE"])


SPLITS = [
    # (kind, shape without batch, how: a count (SPLIT), sizes (SPLIT_V) or None (UNPACK), axis with batch)
    ("SPLIT", (4, 6, 8), 2, -1),
    ("SPLIT", (6, 5, 3), 3, 1),
    ("SPLIT_V", (5, 7, 2), [2, 4, 1], 2),
    ("UNPACK", (3, 4, 5), None, 1),
]


@pytest.mark.parametrize("kind,shape,how,axis", SPLITS)
def test_split(kind, shape, how, axis, runtime_lib, tmp_path):
    """The int16 bytes cut into chunks, each output a copy (the outputs scaled to keep them apart
    from the converter folding them into the next operator)."""
    import tensorflow as tf

    from opmodels import fn_op

    def fn(x):
        parts = tf.unstack(x, axis=axis) if how is None else tf.split(x, how, axis=axis)
        return [p * (k + 1.0) for k, p in enumerate(parts)]

    model = fn_op(fn, [shape], seed=len(shape) + axis, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


def test_keras_glu(runtime_lib, tmp_path):
    """Keras's GLU activation: SPLIT into halves, LOGISTIC of one, MUL of the two."""
    import keras

    model = keras_op(keras.layers.Activation("glu"), (12, 8), seed=3, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SPLIT", "LOGISTIC", "MUL"])


@pytest.mark.parametrize("shape,num,axis", [((4, 3), 2, 1), ((4, 3), 3, -1), ((5,), 4, -2), ((4, 3), 11, 1),
                                            ((2, 3), 12, 2)])
def test_pack(shape, num, axis, runtime_lib, tmp_path):
    """tf.stack of int16 tensors: PACK, the inputs' bytes interleaved (more than ten inputs take
    ek_pack_s16, fewer CONCATENATION's walk)."""
    import tensorflow as tf

    from opmodels import fn_op

    model = fn_op(lambda *xs: tf.stack(list(xs), axis=axis), [shape] * num, seed=num, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["PACK"])


def test_keras_time_distributed(runtime_lib, tmp_path):
    """Keras TimeDistributed(Dense) over 12 steps: one FULLY_CONNECTED per step, stacked by PACK."""
    import keras

    model = keras_op(keras.layers.TimeDistributed(keras.layers.Dense(4)), (12, 8), seed=1, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=1, expect_ops=["PACK", "FULLY_CONNECTED"])


@pytest.mark.parametrize("pad,seed", [(1, 0), (((0, 2), (3, 1)), 1)])
def test_pad(pad, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.ZeroPadding2D(pad), (5, 6, 3), seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["PAD"])


@pytest.mark.parametrize("calib_scale,seed", [(1.0, 0), (20.0, 1)])
def test_float_io(calib_scale, seed, runtime_lib, tmp_path):
    """float32 input and output: QUANTIZE float32 -> int16 and DEQUANTIZE int16 -> float32."""
    import keras

    from edgekit.frontend.quantize import int8_tflite
    from opmodels import _calib

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(10,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(6)(inp))
    tfl = int8_tflite(model, _calib([(10,)], seed, calib_scale), io_type="float32", activations="int16")
    assert_bit_exact(tfl, runtime_lib, tmp_path, samples=5, expect_ops=["QUANTIZE", "DEQUANTIZE"])


# ---------------------------------------------------------------------------- LOGISTIC, TANH


@pytest.mark.parametrize("act,shape,scale,seed", [
    ("sigmoid", (7, 9), 1.0, 0), ("sigmoid", (40,), 6.0, 1), ("sigmoid", (5, 5, 3), 0.1, 2),
    ("tanh", (7, 9), 1.0, 3), ("tanh", (40,), 6.0, 4), ("tanh", (5, 5, 3), 0.1, 5),
])
def test_logistic_tanh(act, shape, scale, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Activation(act), shape, seed=seed, calib_scale=scale, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=8,
                     expect_ops=["LOGISTIC" if act == "sigmoid" else "TANH"])


# ---------------------------------------------------------------------------- MEAN, SUM


def _reduction(kind, shape, axes, keepdims, seed, calib_scale=1.0):
    import tensorflow as tf

    from opmodels import fn_op

    fn = {"MEAN": tf.reduce_mean, "SUM": tf.reduce_sum}[kind]
    return fn_op(lambda x: fn(x, axis=axes, keepdims=keepdims), [shape], seed=seed, calib_scale=calib_scale, **I16)


REDUCTIONS = [
    # (kind, shape, axes, keepdims, seed, calibration scale)
    ("MEAN", (6, 7, 5), [1, 2], True, 0, 1.0),   # Keras GlobalAveragePooling2D's
    ("MEAN", (6, 7, 5), [1, 2], False, 1, 3.0),
    ("MEAN", (4, 9), [-1], False, 2, 0.5),
    ("SUM", (5, 6, 3), [2], True, 3, 1.0),
]


@pytest.mark.parametrize("kind,shape,axes,keepdims,seed,scale", REDUCTIONS)
def test_reduction(kind, shape, axes, keepdims, seed, scale, runtime_lib, tmp_path):
    model = _reduction(kind, shape, axes, keepdims, seed, scale)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


def test_global_average_pooling(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.GlobalAveragePooling2D(), (5, 6, 4), seed=4, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["MEAN"])


# ---------------------------------------------------------------------------- inspect agrees with generate


@pytest.mark.parametrize("case", ["conv", "leaky_relu", "global_max", "resize_bilinear"])
def test_inspect_agrees_with_generate(case, tmp_path, capsys):
    """``edgekit inspect`` exits 3 on a 16x8 model exactly when ``generate`` refuses it, naming the
    operator (REDUCE_MAX and RESIZE_BILINEAR, which TFLM runs only on int8); 0 (and a generated
    model) otherwise."""
    import json

    import keras

    from edgekit.cli import main

    layer = {"conv": keras.layers.Conv2D(4, 3), "leaky_relu": keras.layers.LeakyReLU(0.1),
             "global_max": keras.layers.GlobalMaxPooling2D(),
             "resize_bilinear": keras.layers.Resizing(9, 9, interpolation="bilinear")}[case]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(keras_op(layer, (6, 6, 3), seed=0, **I16))
    capsys.readouterr()  # the converter's noise
    code = main(["inspect", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    gen = main(["generate", str(path), "-o", str(tmp_path / "gen")])
    err = capsys.readouterr().err
    if case in ("conv", "leaky_relu"):
        assert code == 0 and gen == 0 and report["unsupported"] == [], err
        assert {r["dtype"] for r in report["ops"]} == {"int16"}
    else:
        assert code == 3 and gen != 0
        (row,) = report["unsupported"]
        assert row["type"] in ("REDUCE_MAX", "RESIZE_BILINEAR")
        assert f"{row['type']}: int16 activations (16x8); edgekit's {row['type']} kernel takes int8 only" in row["reason"]
        assert row["type"] in err


# ---------------------------------------------------------------------------- RELU, RELU6, LEAKY_RELU


@pytest.mark.parametrize("kind,shape,scale,seed", [
    ("relu", (6, 7), 1.0, 0), ("relu6", (6, 7), 8.0, 1), ("relu6", (30,), 0.5, 2),
    ("leaky", (6, 7), 1.0, 3), ("leaky", (5, 4, 3), 4.0, 4),
])
def test_relu_family(kind, shape, scale, seed, runtime_lib, tmp_path):
    """Standalone activations (not fused into a convolution): RELU, RELU6, LEAKY_RELU."""
    import tensorflow as tf

    from opmodels import fn_op

    fn = {"relu": tf.nn.relu, "relu6": tf.nn.relu6, "leaky": lambda x: tf.nn.leaky_relu(x, 0.2)}[kind]
    model = fn_op(fn, [shape], seed=seed, calib_scale=scale, **I16)
    op = {"relu": "RELU", "relu6": "RELU6", "leaky": "LEAKY_RELU"}[kind]
    assert_bit_exact(model, runtime_lib, tmp_path, samples=5, expect_ops=[op])


# ---------------------------------------------------------------------------- QUANTIZE between int8 and int16


def _quantize_model(in_type: str, out_type: str, in_q: tuple[float, int], out_q: tuple[float, int],
                    shape=(1, 4, 9)) -> bytes:
    """A one-operator QUANTIZE model written directly (the converter emits int8 <-> int16 QUANTIZE
    only inside mixed models): input and output per-tensor quantized."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    types = {"int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16}

    def tensor(name, kind, q, buffer):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), types[kind], buffer
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [q[0]], [q[1]]
        return t

    model = schema.ModelT()
    model.version, model.buffers = 3, [schema.BufferT() for _ in range(3)]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes = [code]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors = [tensor("x", in_type, in_q, 1), tensor("y", out_type, out_q, 2)]
    graph.inputs, graph.outputs, graph.operators = [0], [1], [op]
    model.subgraphs = [graph]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.parametrize("in_type,out_type,in_q,out_q", [
    ("int16", "int8", (0.001, 0), (0.05, -3)),
    ("int16", "int8", (0.0002, 0), (0.003, 10)),
    ("int8", "int16", (0.05, 7), (0.0005, 0)),
    ("int8", "int16", (0.1, -128), (0.00001, 0)),   # saturates
    ("int16", "int16", (0.001, 0), (0.0007, 0)),
])
def test_quantize_between_int8_and_int16(in_type, out_type, in_q, out_q, runtime_lib, tmp_path):
    assert_bit_exact(_quantize_model(in_type, out_type, in_q, out_q), runtime_lib, tmp_path, samples=4,
                     expect_ops=["QUANTIZE"])


# ---------------------------------------------------------------------------- MAXIMUM, MINIMUM, TRANSPOSE, STRIDED_SLICE


@pytest.mark.parametrize("kind,sa,sb,seed", [
    ("MAXIMUM", (5, 6, 3), (5, 6, 3), 0), ("MINIMUM", (4, 4, 3), (1, 1, 3), 1), ("MAXIMUM", (1, 6, 1), (5, 6, 7), 2),
])
def test_minmax(kind, sa, sb, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    from opmodels import fn_op

    fn = {"MAXIMUM": tf.maximum, "MINIMUM": tf.minimum}[kind]
    model = fn_op(lambda a, b: fn(a, b), [sa, sb], seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[kind])


@pytest.mark.parametrize("shape,perm,seed", [((4, 5, 3), (0, 2, 1, 3), 0), ((3, 4, 5, 2), (0, 3, 1, 2, 4), 1)])
def test_transpose(shape, perm, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    from opmodels import fn_op

    model = fn_op(lambda x: tf.transpose(x, perm), [shape], seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TRANSPOSE"])


@pytest.mark.parametrize("shape,slicer,seed", [
    ((6, 7, 4), lambda x: x[:, 1:5, ::2, :], 0),
    ((6, 7, 4), lambda x: x[:, ::-1, 2, 1:3], 1),
    ((9, 5), lambda x: x[:, 7:1:-2, :], 2),
])
def test_strided_slice(shape, slicer, seed, runtime_lib, tmp_path):
    from opmodels import fn_op

    model = fn_op(slicer, [shape], seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["STRIDED_SLICE"])


# ---------------------------------------------------------------------------- int32 bias


def _int32_bias_model(layer, shape, seed):
    """A 16x8 model converted with TFLite's experimental int32 bias (TFLM then accumulates in
    int32 and requantizes with its 32-bit rule)."""
    import keras
    import tensorflow as tf

    from opmodels import _calib, _randomize_weights

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    model = keras.Model(inp, layer(inp))
    _randomize_weights(model, seed)
    samples = _calib([shape], seed)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int16
    conv._experimental_full_integer_quantization_bias_type = tf.int32
    return conv.convert()


@pytest.mark.parametrize("kind,seed", [("dense", 0), ("conv", 1)])
def test_int32_bias(kind, seed, runtime_lib, tmp_path):
    import keras

    from edgekit.ir import DType

    layer = keras.layers.Dense(7) if kind == "dense" else keras.layers.Conv2D(4, 3, padding="same")
    model = _int32_bias_model(layer, (12,) if kind == "dense" else (6, 6, 3), seed)
    g = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["FULLY_CONNECTED" if kind == "dense" else "CONV_2D"])
    assert any(t.is_constant and t.dtype == DType.INT32 and len(t.shape) == 1 for t in g.tensors)
    from edgekit.codegen.lower import lowering_for
    from edgekit.codegen.lowering import LowerCtx

    (op,) = [op for op in g.ops if op.type_name in ("FULLY_CONNECTED", "CONV_2D")]
    assert lowering_for(op.kind)(LowerCtx(g), op).params.wide == 0  # the 32-bit accumulator


# ---------------------------------------------------------------------------- RESIZE_NEAREST_NEIGHBOR


@pytest.mark.parametrize("shape,size,align,half,seed", [
    ((4, 5, 3), (8, 10), False, False, 0), ((6, 6, 2), (4, 9), False, True, 1), ((5, 4, 3), (9, 7), True, False, 2),
])
def test_resize_nearest(shape, size, align, half, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    from opmodels import fn_op

    def fn(x):
        return tf.compat.v1.image.resize_nearest_neighbor(x, size, align_corners=align, half_pixel_centers=half)

    model = fn_op(fn, [shape], seed=seed, **I16)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["RESIZE_NEAREST_NEIGHBOR"])


def test_grouped_conv2d(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Conv2D(6, 3, padding="same", groups=2), (7, 7, 4), seed=9, **I16)
    g = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONV_2D"])
    (op,) = g.ops
    assert g.tensors[op.inputs[1]].shape[3] == 2  # two input channels per filter

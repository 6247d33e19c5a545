"""Seeded single-operator models for kernel conformance tests, converted at test time.

``keras_op(layer, input_shape, seed)`` wraps one Keras layer; ``fn_op(fn, input_shapes, seed)``
wraps a ``tf.function`` body (for operators Keras has no layer for). Both return int8
``.tflite`` bytes calibrated on seeded random data (``activations="int16"``: the 16x8 scheme,
int16 activations and int8 weights, int16 inputs and outputs). ``assert_bit_exact`` generates C for the model,
runs it on seeded random inputs and compares with the tflite-micro interpreter.
"""

from __future__ import annotations

import numpy as np

from edgekit.ir import parse_tflite
from edgekit.frontend.quantize import int8_tflite

CALIB_SAMPLES = 16


def _calib(shapes, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal((1, *s)) * scale).astype(np.float32) for s in shapes]
            for _ in range(CALIB_SAMPLES)]


def keras_op(layer, input_shape, seed=0, per_tensor=False, calib_scale=1.0, activations="int8") -> bytes:
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=input_shape, batch_size=1)
    model = keras.Model(inp, layer(inp))
    _randomize_weights(model, seed)
    return int8_tflite(model, _calib([input_shape], seed, calib_scale), per_tensor=per_tensor,
                       activations=activations)


def keras_graph(build, input_shapes, seed=0, per_tensor=False, calib_scale=1.0, activations="int8") -> bytes:
    """``build(*keras_inputs) -> output(s)``: a small multi-input Keras graph."""
    import keras

    keras.utils.set_random_seed(seed)
    # names that sort in input order: the converter orders signature inputs by name
    inps = [keras.Input(shape=s, batch_size=1, name=f"in{k:02d}") for k, s in enumerate(input_shapes)]
    model = keras.Model(inps, build(*inps))
    _randomize_weights(model, seed)
    return int8_tflite(model, _calib(input_shapes, seed, calib_scale), per_tensor=per_tensor,
                       activations=activations)


def fn_op(fn, input_shapes, seed=0, calib_scale=1.0, activations="int8", io_type="int8") -> bytes:
    """``io_type="float32"``: float inputs and outputs (QUANTIZE and DEQUANTIZE at the edges)."""
    import tensorflow as tf

    spec = [tf.TensorSpec((1, *s), tf.float32) for s in input_shapes]
    tfn = tf.function(fn, input_signature=spec)
    return int8_tflite(tfn, _calib(input_shapes, seed, calib_scale), activations=activations, io_type=io_type)


def _randomize_weights(model, seed):
    """Non-trivial weights and biases (Keras zero-initialises biases)."""
    rng = np.random.default_rng(seed + 1000)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([(rng.standard_normal(w.shape) * (0.5 if w.ndim > 1 else 0.3)).astype(w.dtype)
                               if w.dtype.kind == "f" else w for w in ws])


def assert_bit_exact(model: bytes, runtime_lib, tmp_path, samples=3, seed=0, expect_ops=None, extra=(),
                     data=None, want=None):
    """Generate, compile (ASan+UBSan), run and compare; return the graph. ``data``: the input
    samples (default: the ``extra`` ones, then ``samples`` seeded random ones); ``want(model,
    data)``: the expected outputs (default: tflite-micro's; ``reference.run_litert`` or a numpy
    function where tflite-micro has no kernel or leaves the result undefined)."""
    from edgekit.codegen import generate
    from edgekit.target.host import random_inputs

    graph = parse_tflite(model, name="case")
    if expect_ops is not None:
        kinds = [op.type_name for op in graph.ops]
        for k in expect_ops:
            assert k in kinds, f"converter did not produce {k}: {kinds}"
    if data is None:
        data = [list(x) for x in extra] + random_inputs(graph, samples, seed)
    assert_generated_bit_exact(generate(graph, tmp_path / "model"), model, runtime_lib, tmp_path, data, want)
    return graph


def assert_generated_bit_exact(gen, model: bytes, runtime_lib, tmp_path, data, want=None) -> None:
    """Compile the generated model ``gen`` (ASan+UBSan), run it on ``data`` and compare every output
    with ``want(model, data)`` (default: tflite-micro's)."""
    from edgekit.frontend import reference
    from edgekit.target.host import build_host_runner, run_host

    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
    ours = run_host(exe, gen.inputs, gen.outputs, data)
    expected = (want or reference.run_tflm)(model, data)
    for s, (o, w) in enumerate(zip(ours, expected)):
        for k, (a, b) in enumerate(zip(o, w)):
            np.testing.assert_array_equal(a, b.reshape(a.shape), err_msg=f"sample {s} output {k}")


def int4_op(kind: str, input_shape, out_c: int, seed=0, kernel=3, stride=1, padding="SAME", bias=True) -> bytes:
    """A one-operator model with int4 weights, converted at test time: FULLY_CONNECTED
    (``kind="dense"``, per-tensor weights), CONV_2D (``"conv"``, per-channel) or
    DEPTHWISE_CONV_2D (``"depthwise"``, per-tensor; ``out_c`` is the input's channels) of seeded weights
    fake-quantized to 4 bits in [-8, 7] (quantization-aware form), activations fake-quantized to
    8 bits at seeded ranges, converted with TFLite's low-bit QAT option
    (``_experimental_low_bit_qat``): the converter keeps the 4-bit scales and stores the weights
    as INT4 tensors, two per byte."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    in_c = input_shape[-1]
    if kind == "dense":
        w = rng.standard_normal((in_c, out_c)).astype(np.float32)
        wmax = np.float32(np.abs(w).max() * rng.uniform(0.6, 1.0))  # some weights clip to -8 and 7
    elif kind == "depthwise":
        w = rng.standard_normal((kernel, kernel, in_c, 1)).astype(np.float32)
        wmax = np.float32(np.abs(w).max() * rng.uniform(0.6, 1.0))
    else:
        w = rng.standard_normal((kernel, kernel, in_c, out_c)).astype(np.float32)
        wmax = (np.abs(w).reshape(-1, out_c).max(axis=0) * rng.uniform(0.6, 1.0, out_c)).astype(np.float32)
    b = (rng.standard_normal(out_c) * 0.5).astype(np.float32)
    x_lim = float(rng.uniform(1.0, 3.0))
    x_lo = float(-x_lim * rng.uniform(0.3, 1.0))  # an input zero point other than 0
    fan_in = {"dense": in_c, "depthwise": kernel * kernel}.get(kind, kernel * kernel * in_c)
    y_lim = float(x_lim * np.sqrt(fan_in) * rng.uniform(0.8, 1.6))
    y_lo = float(-y_lim * rng.uniform(0.5, 1.0))

    def q4(v, top):  # 16 steps of top / 8: the integers -8..7, zero point exactly 0
        if kind != "conv":
            return tf.quantization.fake_quant_with_min_max_vars(v, -top, top * 7 / 8, num_bits=4)
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(v, -top, top * 7 / 8, num_bits=4)

    def body(x):
        x = tf.quantization.fake_quant_with_min_max_vars(x, x_lo, x_lim, num_bits=8)
        wq = q4(tf.constant(w), wmax)
        if kind == "dense":
            y = tf.matmul(x, wq)
        elif kind == "depthwise":
            y = tf.nn.depthwise_conv2d(x, wq, [1, stride, stride, 1], padding)
        else:
            y = tf.nn.conv2d(x, wq, stride, padding)
        if bias:
            y = tf.nn.bias_add(y, tf.constant(b))
        return tf.quantization.fake_quant_with_min_max_vars(y, y_lo, y_lim, num_bits=8)

    fn = tf.function(body, input_signature=[tf.TensorSpec((1, *input_shape), tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_low_bit_qat = True
    return conv.convert()

"""Full-integer post-training quantization with TensorFlow's converter (imported lazily).

The one place that drives ``tf.lite.TFLiteConverter``; ``convert`` (Keras files, calibration
data, reports) and the tests build on it.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable

import numpy as np

from ..ir.read import LABELS_METADATA


def _converter(tf, source):
    if callable(source) and hasattr(source, "get_concrete_function"):
        return tf.lite.TFLiteConverter.from_concrete_functions([source.get_concrete_function()], source)
    if hasattr(source, "inputs") and hasattr(source, "layers"):  # a Keras model
        return tf.lite.TFLiteConverter.from_keras_model(source)
    if isinstance(source, str):  # a SavedModel folder
        return tf.lite.TFLiteConverter.from_saved_model(source)
    raise TypeError(f"cannot convert {type(source).__name__}")


def int8_tflite(source, calibration: Iterable[list[np.ndarray]] | Callable[[], Iterable],
                per_tensor: bool = False, io_type: str = "int8", activations: str = "int8") -> bytes:
    """Quantize ``source`` (Keras model, ``tf.function`` with an input signature, or a
    SavedModel path) to int8 operators with ``io_type`` inputs and outputs.

    ``activations="int16"``: the 16x8 scheme instead (int16 activations, int8 weights, int64
    bias; TFLite's ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``), with int16
    inputs and outputs unless ``io_type`` is "float32".

    ``calibration``: samples, each a list with one float array per model input (batch 1), or a
    dict keyed by the signature's input names (SavedModel sources with several inputs).
    """
    import tensorflow as tf

    samples = list(calibration() if callable(calibration) else calibration)

    def representative():
        for s in samples:
            if isinstance(s, dict):  # keyed by signature input name
                yield {k: np.asarray(x, dtype=np.float32) for k, x in s.items()}
            else:
                yield [np.asarray(x, dtype=np.float32) for x in s]

    conv = _converter(tf, source)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if activations == "int16":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io_type = "int16" if io_type == "int8" else io_type
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    io_dtype = {"int8": tf.int8, "int16": tf.int16, "float32": tf.float32}[io_type]
    conv.inference_input_type = io_dtype
    conv.inference_output_type = io_dtype
    if per_tensor:
        conv._experimental_disable_per_channel = True
    try:
        return conv.convert()
    except Exception as exc:
        if activations != "int16" or LSTM_16X8_REFUSAL not in str(exc):
            raise
    return _lstm_16x8_tflite(tf, conv, io_dtype)


#: what the converter's 16x8 quantizer (the only one ``TFLiteConverter`` drives for int16
#: activations) says of a model with an LSTM: its operator table marks the fused LSTM as not
#: quantizable to 16x8
LSTM_16X8_REFUSAL = "16x8-bit not yet supported for op: 'UNIDIRECTIONAL_SEQUENCE_LSTM'"


def _lstm_16x8_tflite(tf, conv, io_dtype) -> bytes:
    """A 16x8 model with an UNIDIRECTIONAL_SEQUENCE_LSTM, which the converter's own 16x8 path
    refuses: the converter calibrates only, and its MLIR quantizer (which has the 16x8 LSTM, the
    same one TFLM's tests describe: int16 input, output and states, int8 weights) quantizes with
    int16 inference; the LSTM's gate biases then become int64 (:func:`lstm_int64_biases`)."""
    from tensorflow.compiler.mlir.lite import types_pb2
    from tensorflow.lite.python import convert

    conv._experimental_calibrate_only = True
    conv.inference_input_type = conv.inference_output_type = tf.float32  # the calibrated model is float
    calibrated = conv.convert()
    quantized = convert.mlir_quantize(calibrated, disable_per_channel=conv._experimental_disable_per_channel,
                                      fully_quantize=True, inference_type=types_pb2.QUANTIZED_INT16,
                                      input_data_type=io_dtype, output_data_type=io_dtype,
                                      enable_variable_quantization=True)
    return lstm_int64_biases(quantized)


def lstm_int64_biases(model: bytes) -> bytes:
    """``model`` with the four gate biases of every UNIDIRECTIONAL_SEQUENCE_LSTM with int16
    input made int64, the same values and quantization. The MLIR quantizer writes them int32,
    but TFLM's LSTM with int16 activations reads its biases as int64 (``EvalLstm<int16_t,
    int8_t, int16_t, int64_t>``, only checking the four agree with each other), so an int32 bias
    there is read 8 bytes at a time, past its end."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    lstm = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    T = schema.TensorType
    changed = False
    for g in m.subgraphs:
        for op in g.operators:
            if codes[op.opcodeIndex] != lstm or len(op.inputs) < 16 or op.inputs[0] < 0:
                continue
            if g.tensors[op.inputs[0]].type != T.INT16:
                continue
            for k in op.inputs[12:16]:
                t = g.tensors[k] if k >= 0 else None
                if t is None or t.type != T.INT32 or not t.buffer or m.buffers[t.buffer].data is None:
                    continue
                wide = np.frombuffer(bytes(m.buffers[t.buffer].data), np.int32).astype("<i8")
                buf = schema.BufferT()  # a buffer of its own: a shared one may have other readers
                buf.data = wide.view(np.uint8)
                m.buffers.append(buf)
                t.buffer, t.type = len(m.buffers) - 1, T.INT64
                changed = True
    if not changed:
        return model
    b = flatbuffers.Builder(len(model) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def dynamic_range_tflite(source, per_tensor: bool = False) -> bytes:
    """Dynamic-range quantization: int8 weights, float activations."""
    import tensorflow as tf

    conv = _converter(tf, source)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if per_tensor:
        conv._experimental_disable_per_channel = True
    return conv.convert()


def float_tflite(source) -> bytes:
    """The unquantized float32 model: the reference quantized models are measured against."""
    import tensorflow as tf

    return _converter(tf, source).convert()


def convert_saved_model(saved: str, samples: list[dict] | None, per_tensor: bool, want_float: bool,
                        activations: str = "int8") -> tuple[bytes, bytes | None]:
    """(quantized, float or None) from a SavedModel folder: full integer (``activations`` int8
    or int16) when ``samples`` (the calibration samples) are given, else dynamic range. Meant for a child process
    (``edgekit.children.run_isolated``): TensorFlow's converter crashes on some models, and its
    noise stays in the child; a failure is a RuntimeError with the converter's reason in one line."""
    from .tf_quiet import one_line, quiet

    with quiet() as noise:
        try:
            if samples is not None:
                qbuf = int8_tflite(saved, samples, per_tensor=per_tensor, activations=activations)
            else:
                qbuf = dynamic_range_tflite(saved, per_tensor=per_tensor)
            fbuf = float_tflite(saved) if want_float else None
        except Exception as exc:
            raise RuntimeError(one_line(exc, noise)) from None
    return qbuf, fbuf


#: operators TensorFlow's converter leaves in float32 between a DEQUANTIZE and a QUANTIZE although
#: TFLite and TFLM run them on int8 with those very quantizations (ELU: a lookup table built from
#: the input's and output's scales); ``int8_islands`` makes each such chain one int8 operator
INT8_CAPABLE = ("ELU",)

#: float operators (between a DEQUANTIZE and a QUANTIZE) that TFLM has no int8 kernel for but that
#: are one int8 MUL with those quantizations, which TFLM runs: NEG is x times a constant -1
#: (int8 -1, scale 1, zero point 0: the real multiplier is exactly input scale / output scale),
#: SQUARE is x times itself. LayerNormalization and GroupNormalization (NEG of the mean),
#: RMSNormalization, UnitNormalization and GroupNormalization (SQUARE) convert with them.
INT8_AS_MUL = ("NEG", "SQUARE")


def int8_islands(model: bytes, kinds=INT8_CAPABLE, as_mul=INT8_AS_MUL) -> tuple[bytes, list[str]]:
    """``model`` with every DEQUANTIZE -> ``kind`` (float) -> QUANTIZE chain, each link read only
    by the next, made one int8 ``kind`` between the int8 tensors (the float ones stay, unread),
    or one int8 MUL for a kind in ``as_mul``; and the kinds so rewritten, one entry per chain."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    B = schema.BuiltinOperator
    names = {getattr(B, k): k for k in (*kinds, *as_mul)}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    done = []
    for g in m.subgraphs:
        readers: dict[int, list] = {}
        for o in g.operators:
            for i in o.inputs:
                readers.setdefault(int(i), []).append(o)
        producer = {int(t): o for o in g.operators for t in o.outputs}
        outputs = {int(t) for t in g.outputs}
        drop = set()
        for op in g.operators:
            if codes[op.opcodeIndex] not in names or len(op.inputs) != 1 or len(op.outputs) != 1:
                continue
            deq = producer.get(int(op.inputs[0]))
            after = readers.get(int(op.outputs[0]), [])
            if (deq is None or codes[deq.opcodeIndex] != B.DEQUANTIZE or len(after) != 1
                    or codes[after[0].opcodeIndex] != B.QUANTIZE or len(readers[int(op.inputs[0])]) != 1
                    or {int(op.inputs[0]), int(op.outputs[0])} & outputs):
                continue
            quant = after[0]
            name = names[codes[op.opcodeIndex]]
            x = int(deq.inputs[0])
            op.inputs = np.array([x], np.int32)
            op.outputs = np.array([quant.outputs[0]], np.int32)
            if name in as_mul:
                _as_mul(schema, m, g, op, x, name, codes)
            drop |= {id(deq), id(quant)}
            done.append(name)
        g.operators = [o for o in g.operators if id(o) not in drop]
    if not done:
        return model, []
    b = flatbuffers.Builder(len(model) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), done


def _as_mul(schema, m, g, op, x: int, name: str, codes: list[int]) -> None:
    """Make ``op`` (reading int8 tensor ``x``) an int8 MUL: x * x for SQUARE, x * (-1) for NEG."""
    B = schema.BuiltinOperator
    if B.MUL not in codes:
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = B.MUL, B.MUL, 1
        m.operatorCodes.append(code)
        codes.append(B.MUL)
    op.opcodeIndex = codes.index(B.MUL)
    op.builtinOptionsType = schema.BuiltinOptions.MulOptions
    op.builtinOptions = schema.MulOptionsT()
    if name == "SQUARE":
        op.inputs = np.array([x, x], np.int32)
        return
    buf = schema.BufferT()
    buf.data = np.array([-1], np.int8).view(np.uint8)
    m.buffers.append(buf)
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint = np.array([1.0], np.float32), np.array([0], np.int64)
    t = schema.TensorT()
    t.shape, t.type, t.buffer, t.quantization = np.array([], np.int32), schema.TensorType.INT8, len(m.buffers) - 1, q
    t.name = (g.tensors[x].name or b"") + b"/minus_one"
    g.tensors.append(t)
    op.inputs = np.array([x, len(g.tensors) - 1], np.int32)


def with_labels(model: bytes, labels: list[str]) -> bytes:
    """``model`` with the class names of its first output in its metadata (``edgekit_labels``:
    a JSON list), where ``edgekit generate`` finds them."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    m.metadata = [e for e in (m.metadata or []) if e.name != LABELS_METADATA.encode()]
    buf = schema.BufferT()
    buf.data = np.frombuffer(json.dumps(labels, ensure_ascii=False).encode("utf-8"), np.uint8)
    m.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name, entry.buffer = LABELS_METADATA.encode(), len(m.buffers) - 1
    m.metadata.append(entry)
    b = flatbuffers.Builder(len(model) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())

"""Reading a ``.tflite`` flatbuffer into a :class:`~edgekit.ir.graph.Graph`, checked.

The flatbuffer is read through the ``tflite`` package's generated schema classes; nothing here
parses bytes by hand. Every graph read is checked (``checks.check_graph``) and validated before
any later stage sees it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import tflite

from ..errors import ModelFormatError, UnsupportedModelError
from .checks import check_graph
from .graph import (
    Activation,
    BatchMatMulOptions,
    BlockOptions,
    ConcatenationOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    ElementwiseOptions,
    FullyConnectedOptions,
    GatherOptions,
    GeluOptions,
    Graph,
    LeakyReluOptions,
    NoOptions,
    Op,
    OpKind,
    PackOptions,
    Padding,
    Pool2DOptions,
    Quantization,
    ReducerOptions,
    ResizeOptions,
    SequenceLSTMOptions,
    SoftmaxOptions,
    SplitOptions,
    SqueezeOptions,
    StridedSliceOptions,
    SVDFOptions,
    Tensor,
    TransposeConvOptions,
)

# TensorType enum values of the TFLite schema
_TFLITE_TYPES = {
    0: DType.FLOAT32, 1: DType.FLOAT16, 2: DType.INT32, 3: DType.UINT8, 4: DType.INT64,
    6: DType.BOOL, 7: DType.INT16, 9: DType.INT8, 15: DType.UINT32, 17: DType.INT4,
}


def read_tflite(path: str | Path) -> Graph:
    """Read a ``.tflite`` file into a validated :class:`Graph`.

    Raises :class:`ModelFormatError` for a missing, truncated or corrupt file and
    :class:`UnsupportedModelError` for models with several subgraphs.
    """
    path = Path(path)
    if path.is_dir() or not path.exists():
        raise ModelFormatError(f"{path}: no such model file")
    return parse_tflite(path.read_bytes(), name=path.stem, where=str(path))


def parse_tflite(buf: bytes, name: str = "model", where: str | None = None) -> Graph:
    """Parse flatbuffer bytes; ``where`` names the source in error messages."""

    where = where or name
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelFormatError(f"{where}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        n_subgraphs = model.SubgraphsLength()
        if n_subgraphs != 1:
            raise UnsupportedModelError(
                f"{where}: model has {n_subgraphs} subgraphs; edgekit runs single-subgraph models"
            )
        graph = _read_subgraph(tflite, model, buf, name, where)
        graph = dataclasses.replace(graph, labels=_labels(model, where), io_names=_signature_names(model))
    except (UnsupportedModelError, ModelFormatError):
        raise
    except Exception as exc:  # the flatbuffer accessors fail in many ways on bad bytes
        raise ModelFormatError(
            f"{where}: truncated or corrupt TFLite file ({type(exc).__name__})"
        ) from None
    check_graph(graph, where)
    return dataclasses.replace(graph, digest=hashlib.sha256(buf).hexdigest()).validate()


#: the model metadata entry ``edgekit convert --labels`` writes: a JSON list of the class names
LABELS_METADATA = "edgekit_labels"
MAX_LABELS, MAX_LABEL_CHARS = 100_000, 200


def _labels(model, where: str) -> tuple[str, ...]:
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() != LABELS_METADATA.encode():
            continue
        data = model.Buffers(entry.Buffer()).DataAsNumpy()
        try:
            labels = json.loads(bytes(data).decode("utf-8")) if not isinstance(data, int) else None
        except (UnicodeDecodeError, ValueError):
            labels = None
        if (not isinstance(labels, list) or len(labels) > MAX_LABELS
                or not all(isinstance(x, str) and len(x) <= MAX_LABEL_CHARS for x in labels)):
            raise ModelFormatError(f"{where}: metadata {LABELS_METADATA} is not a list of at most {MAX_LABELS:,} "
                                   f"names of at most {MAX_LABEL_CHARS} characters")
        return tuple(labels)
    return ()


def _signature_names(model) -> tuple[tuple[int, str], ...]:
    """The names the model's (first) signature gives its inputs and outputs: the Keras names."""
    if model.SignatureDefsLength() < 1:
        return ()
    sig = model.SignatureDefs(0)
    pairs = [(sig.Inputs(i).TensorIndex(), sig.Inputs(i).Name()) for i in range(sig.InputsLength())]
    pairs += [(sig.Outputs(i).TensorIndex(), sig.Outputs(i).Name()) for i in range(sig.OutputsLength())]
    return tuple((int(t), n.decode("utf-8", "replace")) for t, n in pairs if n)


def _read_subgraph(tflite, model, buf: bytes, name: str, where: str) -> Graph:
    sg = model.Subgraphs(0)
    tensors = []
    for ti in range(sg.TensorsLength()):
        t = sg.Tensors(ti)
        dtype = _TFLITE_TYPES.get(t.Type(), DType.OTHER)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        quant = None
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            scales = tuple(float(s) for s in q.ScaleAsNumpy())
            zps = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scales)
            quant = Quantization(scales, zps, int(q.QuantizedDimension()))
        data = _buffer_data(model, buf, t.Buffer(), dtype, shape, name)
        tname = t.Name().decode("utf-8", "replace") if t.Name() else f"t{ti}"
        tensors.append(Tensor(ti, tname, shape, dtype, quant, data, variable=bool(t.IsVariable())))

    ops = []
    for oi in range(sg.OperatorsLength()):
        o = sg.Operators(oi)
        code = model.OperatorCodes(o.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        if builtin == tflite.BuiltinOperator.CUSTOM:
            type_name = "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
        else:
            type_name = tflite.BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}")
        kind = OpKind.__members__.get(type_name)
        inputs = tuple(int(i) for i in o.InputsAsNumpy()) if o.InputsLength() else ()
        outputs = tuple(int(i) for i in o.OutputsAsNumpy()) if o.OutputsLength() else ()
        try:
            options = _read_options(tflite, kind, o) if kind is not None else NoOptions()
        except (_OptionsOfAnotherKind, AttributeError):  # AttributeError: options needed, none given
            raise ModelFormatError(f"{where}: op {oi} ({type_name}): its options are missing or "
                                   "another operator's") from None
        ops.append(Op(oi, kind, type_name, inputs, outputs, options))

    inputs = tuple(int(i) for i in sg.InputsAsNumpy()) if sg.InputsLength() else ()
    outputs = tuple(int(i) for i in sg.OutputsAsNumpy()) if sg.OutputsLength() else ()
    return Graph(tuple(tensors), tuple(ops), inputs, outputs, name)


def _buffer_data(model, buf: bytes, index: int, dtype: DType, shape, name: str):
    if index <= 0 or index >= model.BuffersLength():
        return None
    b = model.Buffers(index)
    raw = None
    if b.DataLength() > 0:
        raw = b.DataAsNumpy().tobytes()
    elif b.Offset() > 1:  # large models keep buffers after the flatbuffer
        start, size = int(b.Offset()), int(b.Size())
        if start + size > len(buf):
            raise ModelFormatError(f"{name}: buffer {index} runs past the end of the file")
        raw = buf[start:start + size]
    if raw is None:
        return None
    expected = int(math.prod(shape)) if shape else 1
    if dtype == DType.INT4:
        return _unpack_int4(raw, shape, expected, f"{name}: buffer {index}")
    if dtype in (DType.OTHER, DType.FLOAT16):
        return np.frombuffer(raw, dtype=np.uint8)
    arr = np.frombuffer(raw, dtype=dtype.numpy)
    if arr.size != expected:
        raise ModelFormatError(
            f"{name}: buffer {index} holds {arr.size} values, tensor shape {shape} needs {expected}"
        )
    return arr.reshape(shape).copy()


def _unpack_int4(raw: bytes, shape, count: int, where: str) -> np.ndarray:
    """TFLite's int4 constants: the values in flat order, two per byte, the first in the low
    nibble (tflite::tensor_utils::UnpackDenseInt4IntoInt8), an odd count's last in a low nibble
    alone. The values as int8 (-8..7) in the tensor's shape; the tensor stays INT4."""
    if len(raw) != (count + 1) // 2:
        raise ModelFormatError(f"{where} holds {len(raw)} bytes, int4 tensor shape {list(shape)} needs "
                               f"{(count + 1) // 2}")
    b = np.frombuffer(raw, dtype=np.uint8)
    pairs = np.stack([b & 0xF, b >> 4], axis=1).reshape(-1)[:count].astype(np.int16)
    return np.where(pairs >= 8, pairs - 16, pairs).astype(np.int8).reshape(shape)


class _OptionsOfAnotherKind(Exception):
    """An operator's options table is of another operator's type (read as its own, its bytes would
    mean something else than what TFLM, which goes by the type, computes)."""


def _table(tflite, op, cls):
    """The operator's options as ``cls``; None when it has none. Options of another type refuse
    the model (``_read_subgraph`` names the operator)."""
    kind = op.BuiltinOptionsType()
    if kind == tflite.BuiltinOptions.NONE:
        return None
    if kind != getattr(tflite.BuiltinOptions, cls.__name__):
        raise _OptionsOfAnotherKind()
    table = op.BuiltinOptions()
    if table is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _read_options(tflite, kind: OpKind, op) -> object:
    K = OpKind
    if kind == K.CONV_2D:
        o = _table(tflite, op, tflite.Conv2DOptions)
        return Conv2DOptions(Padding(o.Padding()), o.StrideH(), o.StrideW(),
                             o.DilationHFactor(), o.DilationWFactor(),
                             Activation(o.FusedActivationFunction()))
    if kind == K.DEPTHWISE_CONV_2D:
        o = _table(tflite, op, tflite.DepthwiseConv2DOptions)
        return DepthwiseConv2DOptions(Padding(o.Padding()), o.StrideH(), o.StrideW(),
                                      o.DilationHFactor(), o.DilationWFactor(),
                                      o.DepthMultiplier(), Activation(o.FusedActivationFunction()))
    if kind == K.TRANSPOSE_CONV:
        o = _table(tflite, op, tflite.TransposeConvOptions)
        if o is None:
            return NoOptions()  # the lowering refuses it: no padding or strides
        return TransposeConvOptions(Padding(o.Padding()), o.StrideH(), o.StrideW(),
                                    Activation(o.FusedActivationFunction()))
    if kind == K.BATCH_MATMUL:
        o = _table(tflite, op, tflite.BatchMatMulOptions)
        return BatchMatMulOptions(bool(o.AdjX()), bool(o.AdjY())) if o is not None else BatchMatMulOptions(False, False)
    if kind == K.FULLY_CONNECTED:
        o = _table(tflite, op, tflite.FullyConnectedOptions)
        if o is None:
            return FullyConnectedOptions(Activation.NONE, False)
        return FullyConnectedOptions(Activation(o.FusedActivationFunction()), bool(o.KeepNumDims()))
    if kind in (K.AVERAGE_POOL_2D, K.MAX_POOL_2D):
        o = _table(tflite, op, tflite.Pool2DOptions)
        return Pool2DOptions(Padding(o.Padding()), o.StrideH(), o.StrideW(),
                             o.FilterHeight(), o.FilterWidth(),
                             Activation(o.FusedActivationFunction()))
    if kind in (K.ADD, K.SUB, K.MUL, K.DIV, K.L2_NORMALIZATION):
        cls = {K.ADD: tflite.AddOptions, K.SUB: tflite.SubOptions, K.MUL: tflite.MulOptions,
               K.DIV: tflite.DivOptions, K.L2_NORMALIZATION: tflite.L2NormOptions}[kind]
        o = _table(tflite, op, cls)
        act = Activation(o.FusedActivationFunction()) if o is not None else Activation.NONE
        return ElementwiseOptions(act)
    if kind == K.SOFTMAX:
        o = _table(tflite, op, tflite.SoftmaxOptions)
        return SoftmaxOptions(float(o.Beta()) if o is not None else 1.0)
    if kind == K.CONCATENATION:
        o = _table(tflite, op, tflite.ConcatenationOptions)
        return ConcatenationOptions(o.Axis(), Activation(o.FusedActivationFunction()))
    if kind in (K.MEAN, K.SUM, K.REDUCE_MAX, K.REDUCE_MIN):
        o = _table(tflite, op, tflite.ReducerOptions)
        return ReducerOptions(bool(o.KeepDims()) if o is not None else False)
    if kind in (K.RESIZE_BILINEAR, K.RESIZE_NEAREST_NEIGHBOR):
        cls = (tflite.ResizeBilinearOptions if kind == K.RESIZE_BILINEAR
               else tflite.ResizeNearestNeighborOptions)
        o = _table(tflite, op, cls)
        if o is None:
            return ResizeOptions(False, False)
        return ResizeOptions(bool(o.AlignCorners()), bool(o.HalfPixelCenters()))
    if kind == K.LEAKY_RELU:
        o = _table(tflite, op, tflite.LeakyReluOptions)
        return LeakyReluOptions(float(o.Alpha()) if o is not None else 0.2)
    if kind == K.GELU:
        o = _table(tflite, op, tflite.GeluOptions)
        return GeluOptions(bool(o.Approximate()) if o is not None else False)
    if kind == K.SQUEEZE:
        o = _table(tflite, op, tflite.SqueezeOptions)
        dims = tuple(int(d) for d in o.SqueezeDimsAsNumpy()) if o is not None and o.SqueezeDimsLength() else ()
        return SqueezeOptions(dims)
    if kind == K.STRIDED_SLICE:
        o = _table(tflite, op, tflite.StridedSliceOptions)
        if o is None:
            return StridedSliceOptions(0, 0, 0, 0, 0, False)
        return StridedSliceOptions(o.BeginMask(), o.EndMask(), o.EllipsisMask(),
                                   o.NewAxisMask(), o.ShrinkAxisMask(), bool(o.Offset()))
    if kind in (K.SPLIT, K.SPLIT_V):
        o = _table(tflite, op, tflite.SplitOptions if kind == K.SPLIT else tflite.SplitVOptions)
        return SplitOptions(o.NumSplits())
    if kind == K.PACK:
        o = _table(tflite, op, tflite.PackOptions)
        return PackOptions(o.ValuesCount(), o.Axis())
    if kind == K.UNPACK:
        o = _table(tflite, op, tflite.UnpackOptions)
        return PackOptions(o.Num(), o.Axis())
    if kind == K.GATHER:
        o = _table(tflite, op, tflite.GatherOptions)
        return GatherOptions(o.Axis(), o.BatchDims()) if o is not None else GatherOptions(0, 0)
    if kind in (K.DEPTH_TO_SPACE, K.SPACE_TO_DEPTH):
        o = _table(tflite, op, tflite.DepthToSpaceOptions if kind == K.DEPTH_TO_SPACE
                   else tflite.SpaceToDepthOptions)
        return BlockOptions(o.BlockSize())
    if kind == K.SVDF:
        o = _table(tflite, op, tflite.SVDFOptions)
        if o is None:
            return SVDFOptions(1, Activation.NONE)
        return SVDFOptions(o.Rank(), Activation(o.FusedActivationFunction()))
    if kind == K.UNIDIRECTIONAL_SEQUENCE_LSTM:
        o = _table(tflite, op, tflite.UnidirectionalSequenceLSTMOptions)
        if o is None:
            return SequenceLSTMOptions(Activation.NONE, 0.0, 0.0, False)
        return SequenceLSTMOptions(Activation(o.FusedActivationFunction()), float(o.CellClip()),
                                   float(o.ProjClip()), bool(o.TimeMajor()),
                                   bool(o.AsymmetricQuantizeInputs()), bool(o.DiagonalRecurrentTensors()))
    return NoOptions()

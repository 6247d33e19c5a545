"""Graph IR: the model as frozen dataclasses, read from a ``.tflite`` flatbuffer.

Everything downstream (planner, code generator, inspector) works on a :class:`Graph`.
The flatbuffer is read through the ``tflite`` package's generated schema classes; nothing
here parses bytes by hand.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite

from ..errors import ModelFormatError, UnsupportedModelError

# ---------------------------------------------------------------------------- types


class DType(enum.Enum):
    FLOAT32 = ("float32", "float", 4)
    FLOAT16 = ("float16", None, 2)
    INT32 = ("int32", "int32_t", 4)
    UINT8 = ("uint8", "uint8_t", 1)
    INT64 = ("int64", "int64_t", 8)
    BOOL = ("bool", "bool", 1)
    INT16 = ("int16", "int16_t", 2)
    INT8 = ("int8", "int8_t", 1)
    UINT32 = ("uint32", "uint32_t", 4)
    INT4 = ("int4", None, 1)
    OTHER = ("other", None, 1)

    def __init__(self, np_name: str, c_type: str | None, itemsize: int):
        self.np_name = np_name
        self.c_type = c_type
        self.itemsize = itemsize

    @property
    def numpy(self) -> np.dtype:
        if self.np_name in ("other", "int4"):
            raise UnsupportedModelError(f"tensor type {self.name} has no numpy equivalent")
        return np.dtype(self.np_name)


# TensorType enum values of the TFLite schema
_TFLITE_TYPES = {
    0: DType.FLOAT32, 1: DType.FLOAT16, 2: DType.INT32, 3: DType.UINT8, 4: DType.INT64,
    6: DType.BOOL, 7: DType.INT16, 9: DType.INT8, 15: DType.UINT32, 17: DType.INT4,
}


class Padding(enum.Enum):
    SAME = 0
    VALID = 1


class Activation(enum.Enum):
    NONE = 0
    RELU = 1
    RELU_N1_TO_1 = 2
    RELU6 = 3
    TANH = 4
    SIGN_BIT = 5


#: Every TFLite builtin operator, named as the schema names it (``OpKind.CONV_2D``, ...). The IR
#: reads any of them; which ones edgekit can run is decided by the code generator (an operator runs
#: when a lowering is registered for it: ``edgekit.codegen.lower.supported_kinds``), so adding an
#: operator does not touch the IR unless it has options to read (``_read_options``).
OpKind = enum.Enum("OpKind", {name: name for name in sorted(tflite.BUILTIN_OPCODE2NAME.values())})


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class NoOptions:
    pass


@dataclass(frozen=True)
class Conv2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    activation: Activation


@dataclass(frozen=True)
class DepthwiseConv2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    depth_multiplier: int
    activation: Activation


@dataclass(frozen=True)
class FullyConnectedOptions:
    activation: Activation
    keep_num_dims: bool


@dataclass(frozen=True)
class Pool2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    activation: Activation


@dataclass(frozen=True)
class ElementwiseOptions:
    """ADD, SUB, MUL: a fused activation."""

    activation: Activation


@dataclass(frozen=True)
class SoftmaxOptions:
    beta: float


@dataclass(frozen=True)
class ConcatenationOptions:
    axis: int
    activation: Activation


@dataclass(frozen=True)
class ReducerOptions:
    keep_dims: bool


@dataclass(frozen=True)
class LeakyReluOptions:
    alpha: float


@dataclass(frozen=True)
class SqueezeOptions:
    squeeze_dims: tuple[int, ...]


@dataclass(frozen=True)
class StridedSliceOptions:
    begin_mask: int
    end_mask: int
    ellipsis_mask: int
    new_axis_mask: int
    shrink_axis_mask: int
    offset: bool


# ---------------------------------------------------------------------------- graph


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along ``axis``."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True, eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: DType
    quant: Quantization | None = None
    data: np.ndarray | None = field(default=None, repr=False)  # constant tensors only

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return int(math.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.num_elements * self.dtype.itemsize

    @property
    def scale(self) -> float:
        """The per-tensor scale (raises for unquantized tensors)."""
        if self.quant is None:
            raise UnsupportedModelError(f"tensor {self.name!r} is not quantized")
        return self.quant.scale[0]

    @property
    def zero_point(self) -> int:
        if self.quant is None:
            raise UnsupportedModelError(f"tensor {self.name!r} is not quantized")
        return self.quant.zero_point[0]


@dataclass(frozen=True)
class Op:
    index: int
    kind: OpKind | None  # None: a custom or unknown operator; see ``type_name``
    type_name: str
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: object = NoOptions()


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]  # in schedule order
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str = "model"
    digest: str = ""  # sha256 of the .tflite file the graph was read from

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def op_inputs(self, op: Op) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def op_outputs(self, op: Op) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]

    @property
    def activation_tensors(self) -> list[Tensor]:
        """Tensors that live in RAM: graph inputs and every non-constant tensor an op touches."""
        used: dict[int, None] = {i: None for i in self.inputs}
        for op in self.ops:
            for i in (*op.inputs, *op.outputs):
                if i >= 0 and not self.tensors[i].is_constant:
                    used[i] = None
        return [self.tensors[i] for i in used]

    def validate(self) -> "Graph":
        """Check the structural invariants every pass relies on; return self."""
        produced = set(self.inputs) | {t.index for t in self.tensors if t.is_constant}
        for pos, op in enumerate(self.ops):
            if op.index != pos:
                raise AssertionError(f"op {op.index} sits at schedule position {pos}")
            for i in op.inputs:
                if i >= 0 and i not in produced:
                    raise UnsupportedModelError(
                        f"op {op.index} ({op.type_name}) reads tensor {i} before it is written"
                    )
            for i in op.outputs:
                if i in produced:
                    raise UnsupportedModelError(f"tensor {i} is written twice (op {op.index})")
                produced.add(i)
        for i in self.outputs:
            if i not in produced:
                raise UnsupportedModelError(f"graph output tensor {i} is never written")
        return self


# ---------------------------------------------------------------------------- reading


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
        graph = _read_subgraph(tflite, model, buf, name)
    except (UnsupportedModelError, ModelFormatError):
        raise
    except Exception as exc:  # the flatbuffer accessors fail in many ways on bad bytes
        raise ModelFormatError(
            f"{where}: truncated or corrupt TFLite file ({type(exc).__name__})"
        ) from None

    return dataclasses.replace(graph, digest=hashlib.sha256(buf).hexdigest()).validate()


def _read_subgraph(tflite, model, buf: bytes, name: str) -> Graph:
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
        tensors.append(Tensor(ti, tname, shape, dtype, quant, data))

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
        options = _read_options(tflite, kind, o) if kind is not None else NoOptions()
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
    if dtype in (DType.OTHER, DType.INT4, DType.FLOAT16):
        return np.frombuffer(raw, dtype=np.uint8)
    arr = np.frombuffer(raw, dtype=dtype.numpy)
    expected = int(math.prod(shape)) if shape else 1
    if arr.size != expected:
        raise ModelFormatError(
            f"{name}: buffer {index} holds {arr.size} values, tensor shape {shape} needs {expected}"
        )
    return arr.reshape(shape).copy()


def _table(tflite, op, cls):
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
    if kind in (K.ADD, K.SUB, K.MUL):
        cls = {K.ADD: tflite.AddOptions, K.SUB: tflite.SubOptions, K.MUL: tflite.MulOptions}[kind]
        o = _table(tflite, op, cls)
        act = Activation(o.FusedActivationFunction()) if o is not None else Activation.NONE
        return ElementwiseOptions(act)
    if kind == K.SOFTMAX:
        o = _table(tflite, op, tflite.SoftmaxOptions)
        return SoftmaxOptions(float(o.Beta()) if o is not None else 1.0)
    if kind == K.CONCATENATION:
        o = _table(tflite, op, tflite.ConcatenationOptions)
        return ConcatenationOptions(o.Axis(), Activation(o.FusedActivationFunction()))
    if kind == K.MEAN:
        o = _table(tflite, op, tflite.ReducerOptions)
        return ReducerOptions(bool(o.KeepDims()) if o is not None else False)
    if kind == K.LEAKY_RELU:
        o = _table(tflite, op, tflite.LeakyReluOptions)
        return LeakyReluOptions(float(o.Alpha()) if o is not None else 0.2)
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
    return NoOptions()

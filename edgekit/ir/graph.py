"""Graph IR: the model as frozen dataclasses (read from a ``.tflite`` flatbuffer by ``read.py``).

Everything downstream (planner, code generator, inspector) works on a :class:`Graph`.
The flatbuffer is read through the ``tflite`` package's generated schema classes; nothing
here parses bytes by hand.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
import tflite

from ..errors import UnsupportedModelError

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
class TransposeConvOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    activation: Activation


@dataclass(frozen=True)
class BatchMatMulOptions:
    adj_x: bool  # the left operand is read transposed (its last two axes swapped)
    adj_y: bool


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
    """ADD, SUB, MUL, DIV, L2_NORMALIZATION: a fused activation."""

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
class ResizeOptions:
    """RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR."""

    align_corners: bool
    half_pixel_centers: bool


@dataclass(frozen=True)
class LeakyReluOptions:
    alpha: float


@dataclass(frozen=True)
class GeluOptions:
    """GELU: the tanh approximation (``approximate``) or the exact erf form."""

    approximate: bool


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


@dataclass(frozen=True)
class SplitOptions:
    """SPLIT and SPLIT_V: how many outputs (the axis, and SPLIT_V's sizes, are input tensors)."""

    num_splits: int


@dataclass(frozen=True)
class PackOptions:
    """PACK (``values_count`` inputs) and UNPACK (``num`` outputs) along ``axis``."""

    count: int
    axis: int


@dataclass(frozen=True)
class GatherOptions:
    axis: int
    batch_dims: int


@dataclass(frozen=True)
class BlockOptions:
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH: the side of the square block moved into channels."""

    block_size: int


@dataclass(frozen=True)
class SequenceLSTMOptions:
    """UNIDIRECTIONAL_SEQUENCE_LSTM: the cell gate's activation, the cell clip (0: none), the
    projection clip and whether the time dimension comes first."""

    activation: Activation
    cell_clip: float
    proj_clip: float
    time_major: bool
    asymmetric_quantize_inputs: bool = False
    diagonal_recurrent_tensors: bool = False


@dataclass(frozen=True)
class SVDFOptions:
    rank: int
    activation: Activation


# ---------------------------------------------------------------------------- graph


def quantize_values(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Float values as TFLite's QUANTIZE (and the generated ``P_quantize_<input>``) turn them into
    ``dtype`` integers: x / scale in float32, rounded half away from zero, plus the zero point,
    saturated; NaN goes to the lowest value."""
    info = np.iinfo(dtype)
    v = (np.asarray(x).astype(np.float32) / np.float32(scale)).astype(np.float64)
    v = np.nan_to_num(v, nan=float(info.min) - 1e6, posinf=1e9, neginf=-1e9)
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    return np.clip(r + zero_point, info.min, info.max).astype(dtype)


def dequantize_values(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integers back to float32 as TFLite's DEQUANTIZE: (q - zero point) * scale."""
    return (np.asarray(q).astype(np.float32) - zero_point) * np.float32(scale)


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
    variable: bool = False  # state a stateful operator keeps across invokes (LSTM, SVDF)

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
    labels: tuple[str, ...] = ()  # class names of the first output (edgekit convert --labels)
    io_names: tuple[tuple[int, str], ...] = ()  # (tensor, name) of the signature's inputs and outputs

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
        produced = set(self.inputs) | {t.index for t in self.tensors if t.is_constant or t.variable}
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

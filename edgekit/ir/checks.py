"""The invariants every later stage relies on, checked once when a model is read.

A ``.tflite`` file is data from outside: its indices, shapes, quantization parameters and
options can hold anything. What the planner, the lowerings and the generated C assume is
checked here, and a model that breaks it is refused in one line naming the operator (or
tensor) and the check -- the checks TFLM's Prepare functions make, and the ones its C++ leaves
to luck. Operator-specific checks (a convolution's output size, a bias's length) stay with the
operator's lowering.
"""

from __future__ import annotations

import math

from ..errors import ModelFormatError, UnsupportedModelError
from .graph import DType, Graph, Op, OpKind, Tensor

#: the largest tensor edgekit generates code for (its byte offsets and sizes are int32 in C)
MAX_TENSOR_BYTES = 2**31 - 1

#: zero points a quantized tensor of this type may have
ZERO_POINT_RANGE = {DType.INT8: (-128, 127), DType.UINT8: (0, 255), DType.INT16: (-32768, 32767),
                    DType.INT32: (-(2**31), 2**31 - 1)}

#: operators whose output has the input's shape
SAME_SHAPE = frozenset({OpKind.LOGISTIC, OpKind.TANH, OpKind.RELU, OpKind.RELU6, OpKind.RELU_N1_TO_1,
                        OpKind.LEAKY_RELU, OpKind.HARD_SWISH, OpKind.ELU, OpKind.GELU, OpKind.PRELU,
                        OpKind.QUANTIZE, OpKind.DEQUANTIZE, OpKind.SOFTMAX, OpKind.LOG_SOFTMAX, OpKind.ABS,
                        OpKind.NEG, OpKind.EXP, OpKind.SQRT, OpKind.RSQRT})
#: operators that keep the elements and change only the shape
SAME_SIZE = frozenset({OpKind.RESHAPE, OpKind.SQUEEZE, OpKind.EXPAND_DIMS})

#: (fewest, most) input slots of the operators edgekit runs, as TFLM's Prepare functions check
#: them; the fewest must be present (not -1), and each has one output
#: (SPLIT, SPLIT_V and UNPACK, with several outputs, are checked by their lowering)
ARITY = {  # one operator per line, sorted: branches that add operators merge without conflicts
    OpKind.ABS: (1, 1),
    OpKind.ADD: (2, 2),
    OpKind.ARG_MAX: (2, 2),
    OpKind.ARG_MIN: (2, 2),
    OpKind.AVERAGE_POOL_2D: (1, 1),
    OpKind.BATCH_MATMUL: (2, 2),
    OpKind.BATCH_TO_SPACE_ND: (3, 3),
    OpKind.CONCATENATION: (1, 1 << 16),
    OpKind.CONV_2D: (2, 3),
    OpKind.DEPTHWISE_CONV_2D: (2, 3),
    OpKind.DEPTH_TO_SPACE: (1, 1),
    OpKind.DEQUANTIZE: (1, 1),
    OpKind.DIV: (2, 2),
    OpKind.EQUAL: (2, 2),
    OpKind.EXP: (1, 1),
    OpKind.EXPAND_DIMS: (2, 2),
    OpKind.FULLY_CONNECTED: (2, 3),
    OpKind.GATHER: (2, 2),
    OpKind.GREATER: (2, 2),
    OpKind.GREATER_EQUAL: (2, 2),
    OpKind.HARD_SWISH: (1, 1),
    OpKind.LEAKY_RELU: (1, 1),
    OpKind.LESS: (2, 2),
    OpKind.LESS_EQUAL: (2, 2),
    OpKind.LOG: (1, 1),
    OpKind.LOGISTIC: (1, 1),
    OpKind.MAXIMUM: (2, 2),
    OpKind.MAX_POOL_2D: (1, 1),
    OpKind.MEAN: (2, 2),
    OpKind.MINIMUM: (2, 2),
    OpKind.MUL: (2, 2),
    OpKind.NOT_EQUAL: (2, 2),
    OpKind.PACK: (1, 1 << 16),
    OpKind.PAD: (2, 2),
    OpKind.PADV2: (2, 3),
    OpKind.QUANTIZE: (1, 1),
    OpKind.REDUCE_MAX: (2, 2),
    OpKind.REDUCE_MIN: (2, 2),
    OpKind.RELU: (1, 1),
    OpKind.RELU6: (1, 1),
    OpKind.RELU_N1_TO_1: (1, 1),
    OpKind.RESHAPE: (1, 2),
    OpKind.RESIZE_BILINEAR: (2, 2),
    OpKind.RESIZE_NEAREST_NEIGHBOR: (2, 2),
    OpKind.SELECT: (3, 3),
    OpKind.SELECT_V2: (3, 3),
    OpKind.SOFTMAX: (1, 1),
    OpKind.SPACE_TO_BATCH_ND: (3, 3),
    OpKind.SPACE_TO_DEPTH: (1, 1),
    OpKind.SQRT: (1, 1),
    OpKind.SQUEEZE: (1, 1),
    OpKind.STRIDED_SLICE: (4, 4),
    OpKind.SUB: (2, 2),
    OpKind.SUM: (2, 2),
    OpKind.TANH: (1, 1),
    OpKind.TILE: (2, 2),
    OpKind.TRANSPOSE: (2, 2),
    OpKind.TRANSPOSE_CONV: (3, 4),
}


def check_graph(graph: Graph, where: str) -> None:
    """Refuse ``graph`` (read from ``where``) if it breaks an invariant; see the module docstring."""
    n = len(graph.tensors)
    if not graph.inputs or not graph.outputs:
        raise UnsupportedModelError(f"{where}: the model has no {'inputs' if not graph.inputs else 'outputs'}")
    for what, indices in (("input", graph.inputs), ("output", graph.outputs)):
        for i in indices:
            if not 0 <= i < n:
                raise ModelFormatError(f"{where}: graph {what} is tensor {i}; the model has {n} tensors")
            if graph.tensors[i].is_constant:
                raise UnsupportedModelError(f"{where}: graph {what} tensor {i} is a constant")
    # tensors no operator reads or writes (an LSTM's empty "intermediate" tensors) may be empty
    used = {i for op in graph.ops for i in (*op.inputs, *op.outputs)} | set(graph.inputs) | set(graph.outputs)
    for t in graph.tensors:
        _check_tensor(t, where, t.index in used)
    for op in graph.ops:
        _check_op(graph, op, n)
    if graph.labels:
        out = graph.tensors[graph.outputs[0]]
        classes = out.shape[-1] if out.shape else 1
        if len(graph.labels) != classes:
            raise ModelFormatError(f"{where}: {len(graph.labels)} labels for an output of {classes} classes")


def _check_tensor(t: Tensor, where: str, used: bool = True) -> None:
    what = f"{where}: tensor {t.index} ({t.name[:40]!r})"
    if any(d < 0 for d in t.shape):
        raise ModelFormatError(f"{what}: negative dimension in shape {list(t.shape)}")
    if used and not t.is_constant and any(d == 0 for d in t.shape):
        raise UnsupportedModelError(f"{what}: empty shape {list(t.shape)} (a zero dimension)")
    if math.prod(t.shape) * t.dtype.itemsize > MAX_TENSOR_BYTES:
        raise UnsupportedModelError(f"{what}: {list(t.shape)} is larger than 2 GiB")
    q = t.quant
    if q is None:
        return
    if not all(math.isfinite(s) and s >= 0 for s in q.scale):
        raise ModelFormatError(f"{what}: quantization scale {_first_bad(q.scale)} is not a finite number >= 0")
    if not t.is_constant and any(s == 0 for s in q.scale):
        raise ModelFormatError(f"{what}: quantization scale 0 on an activation")
    if len(q.zero_point) not in (1, len(q.scale)):
        raise ModelFormatError(f"{what}: {len(q.scale)} scales but {len(q.zero_point)} zero points")
    low, high = ZERO_POINT_RANGE.get(t.dtype, (-(2**31), 2**31 - 1))
    if not all(low <= z <= high for z in q.zero_point):
        raise ModelFormatError(f"{what}: zero point outside the range of {t.dtype.name} ({low}..{high})")
    if q.per_channel and not (0 <= q.axis < len(t.shape) and t.shape[q.axis] == len(q.scale)):
        raise ModelFormatError(f"{what}: {len(q.scale)} per-channel scales along axis {q.axis} of shape "
                               f"{list(t.shape)}")


def _first_bad(scales) -> float:
    return next(s for s in scales if not (math.isfinite(s) and s >= 0))


#: operators whose third input is an int32 bias (zero point 0 in TFLite's quantization)
BIASED = frozenset({OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED})


def _check_op(graph: Graph, op: Op, n: int) -> None:
    what = f"op {op.index} ({op.type_name})"
    if not op.outputs:
        raise ModelFormatError(f"{what}: no outputs")
    if not any(i >= 0 for i in op.inputs) and op.kind is not None:
        raise ModelFormatError(f"{what}: no inputs")
    for i in op.inputs:
        if not -1 <= i < n:  # -1 marks an omitted optional input
            raise ModelFormatError(f"{what}: input tensor {i}; the model has {n} tensors")
    arity = ARITY.get(op.kind)
    if arity is not None:
        fewest, most = arity
        if not fewest <= len(op.inputs) <= most or any(i < 0 for i in op.inputs[:fewest]) or len(op.outputs) != 1:
            raise ModelFormatError(f"{what}: {len(op.inputs)} inputs and {len(op.outputs)} outputs "
                                   f"(it takes {fewest}" + (f" to {most}" if most != fewest else "") + " and 1)")
    for i in op.outputs:
        if not 0 <= i < n:
            raise ModelFormatError(f"{what}: output tensor {i}; the model has {n} tensors")
        if graph.tensors[i].is_constant:
            raise ModelFormatError(f"{what}: writes constant tensor {i}")
    for name in ("stride_h", "stride_w", "dilation_h", "dilation_w", "filter_h", "filter_w", "depth_multiplier"):
        value = getattr(op.options, name, 1)
        if not isinstance(value, int) or value < 1:
            raise ModelFormatError(f"{what}: {name} {value} (options of another operator, or corrupt)")
    for name in ("beta", "alpha"):
        value = getattr(op.options, name, 0.0)
        if not math.isfinite(value):
            raise ModelFormatError(f"{what}: {name} {value} is not finite")
    first = graph.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    out = graph.tensors[op.outputs[0]]
    if first is not None and op.kind in SAME_SHAPE and tuple(first.shape) != tuple(out.shape):
        raise UnsupportedModelError(f"{what}: output shape {list(out.shape)}, the input's is {list(first.shape)}")
    if first is not None and op.kind in SAME_SIZE and first.num_elements != out.num_elements:
        raise UnsupportedModelError(f"{what}: {first.num_elements} elements in, {out.num_elements} out")
    if op.kind in BIASED and len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = graph.tensors[op.inputs[2]]
        if bias.dtype not in (DType.INT32, DType.INT64, DType.FLOAT32):
            raise ModelFormatError(f"{what}: bias tensor {bias.index} is {bias.dtype.name}, not int32")
        if bias.quant is not None and any(z != 0 for z in bias.quant.zero_point):
            # TFLite's quantization puts biases at zero point 0 and its kernels never read it; a
            # file that says otherwise is corrupt (found by the fuzz campaign: tflite-micro, which
            # does not verify the flatbuffer, computed other outputs from it than edgekit)
            z = next(z for z in bias.quant.zero_point if z != 0)
            raise ModelFormatError(f"{what}: bias tensor {bias.index} has zero point {z}; biases have zero point 0")

"""Data movement: PAD, PADV2, CONCATENATION, TRANSPOSE, STRIDED_SLICE, TILE.

No arithmetic: TFLM copies int8 bytes for all of them (int16 elements too in 16x8 models, but for
TILE, which TFLM lacks: the ``_s16`` kernels), without requantizing (CONCATENATION
requires every input quantized like the output; PAD, TRANSPOSE and STRIDED_SLICE do not check and
copy the bytes regardless, as these kernels do). The index arithmetic -- begin/end/stride
resolution with every mask, permuted strides, padding offsets -- is done here; the kernels walk
an N-D loop of (count, step) pairs. TILE is a TRANSPOSE walk (``ek_transpose_s8``): each input axis
becomes a (multiple, step 0) and a (size, stride) dimension.
Adjacent dimensions that the walk can treat as one are merged first, so a transpose that keeps
the innermost dimensions together copies whole rows with ``memcpy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Activation, ConcatenationOptions, DType, Op, OpKind, StridedSliceOptions, Tensor
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, lowers, require_int8, require_int16

MAX_DIMS = 6  # EK_PAD_MAX_DIMS, EK_STRIDED_SLICE_MAX_DIMS in the kernel headers
TRANSPOSE_MAX_DIMS = 10  # EK_TRANSPOSE_MAX_DIMS: two walk dimensions per axis of a 5-D TILE, of
# a higher-rank TILE once axes without a multiple have merged (Keras's UpSampling3D: 6-D)
MAX_CONCAT_INPUTS = 10  # EK_CONCAT_MAX_INPUTS; TFLM's limit as well


@dataclass(frozen=True)
class PadParams(CStruct):
    C_TYPE = "ek_pad_params"
    rank: int
    count: tuple[int, ...]  # input extent per walk dimension, outermost first
    step: tuple[int, ...]  # output stride per walk dimension
    offset: int  # output index of input element 0
    output_size: int
    pad_value: int
    in_h: int = 0  # an image's input rows, its outermost walk dimension (0: not walked by rows)
    pad_top: int = 0  # its padding rows above
    out_row: int = 0  # elements of an output row


@dataclass(frozen=True)
class TransposeParams(CStruct):
    C_TYPE = "ek_transpose_params"
    rank: int
    count: tuple[int, ...]  # output extent per walk dimension
    step: tuple[int, ...]  # input stride per walk dimension


@dataclass(frozen=True)
class StridedSliceParams(CStruct):
    C_TYPE = "ek_strided_slice_params"
    rank: int
    start: int  # input index of the first element copied
    count: tuple[int, ...]  # output extent per walk dimension
    step: tuple[int, ...]  # input stride per walk dimension (negative for negative strides)


@dataclass(frozen=True)
class ConcatenationParams(CStruct):
    C_TYPE = "ek_concatenation_params"
    num_inputs: int
    outer: int  # product of the output dimensions before the axis
    chunk: tuple[int, ...]  # bytes each input contributes per outer step (2 per int16 element)
    inputs: tuple[object, ...]  # C pointer expressions: arena tensor macros or constant arrays


@dataclass(frozen=True)
class ConcatenationCall(KernelCall):
    """A kernel call whose parameter struct points at its inputs: the constant ones among them
    must be emitted into the weights file too."""

    @property
    def arrays(self) -> list[CArray]:
        return super().arrays + [v for v in self.params.inputs if isinstance(v, CArray)]


# ---------------------------------------------------------------------------- helpers


def strides_of(shape) -> list[int]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return out[::-1]


def collapse(count, step) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Merge walk dimensions: drop unit extents, fuse a dimension into its inner neighbour when
    stepping over the whole inner one equals one outer step. Always at least one dimension."""
    dims = [(c, s) for c, s in zip(count, step) if c != 1]
    if any(c == 0 for c, _ in dims):
        return (0,), (1,)
    merged: list[tuple[int, int]] = []
    for c, s in dims:
        if merged and merged[-1][1] == c * s:
            merged[-1] = (merged[-1][0] * c, s)
        else:
            merged.append((c, s))
    if not merged:
        return (1,), (1,)
    return tuple(c for c, _ in merged), tuple(s for _, s in merged)


def _const_ints(t: Tensor | None, op: Op, what: str) -> list[int]:
    if t is None or not t.is_constant:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: {what} must be a constant tensor")
    if t.dtype != DType.INT32:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: {what} is {t.dtype.name}; TFLM reads it as int32")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _check_walk(op: Op, count, limit: int = MAX_DIMS) -> None:
    if len(count) > limit:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: {len(count)} dimensions after merging; "
            f"edgekit handles {limit}")


def _requirement(t: Tensor, int16: bool):
    """The check of a tensor of an operator whose kernel also takes int16 (``int16``)."""
    return require_int16 if int16 and t.dtype == DType.INT16 else require_int8


def _int8_io(ctx: LowerCtx, op: Op, int16: bool = False, copy: bool = False) -> tuple[Tensor, Tensor]:
    """Input and output, int8 (or both int16 where ``int16``: the kernel has an _s16 variant).
    ``copy``: the kernel only moves elements and TFLM's checks no quantization, so int16 ones
    may have any zero point (a 16x8 LSTM's output has one)."""
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    if copy and int16 and x.dtype == DType.INT16:
        for t, what in ((x, "input"), (y, "output")):
            if t.dtype != DType.INT16:
                raise UnsupportedModelError(f"op {op.index} ({op.type_name}): {what} tensor {t.name!r} is "
                                            f"{t.dtype.name}, not int16 like the input")
    else:
        require = _requirement(x, int16)
        require(x, "input", op)
        require(y, "output", op)
    if x.is_constant:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: constant input (not folded by the converter)")
    return x, y


def _suffix(t: Tensor) -> str:
    return "s16" if t.dtype == DType.INT16 else "s8"


# ---------------------------------------------------------------------------- PAD, PADV2


@lowers(OpKind.PAD, OpKind.PADV2, int16=(OpKind.PAD,))
def lower_pad(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    x, y = _int8_io(ctx, op, int16=True)
    rank = len(x.shape)
    pads = _const_ints(ins[1], op, "paddings")
    if len(pads) != 2 * rank or len(y.shape) != rank:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: paddings do not match the input rank")
    left, right = pads[0::2], pads[1::2]
    if any(p < 0 for p in pads):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: negative padding")
    if tuple(d + l + r for d, l, r in zip(x.shape, left, right)) != y.shape:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: output shape does not match the paddings")

    value = ins[2] if len(ins) > 2 else None
    if value is None:
        pad_value = y.zero_point
    else:
        _requirement(x, True)(value, "constant_values", op)
        if not value.is_constant or value.num_elements != 1:
            raise UnsupportedModelError(f"op {op.index} PADV2: constant_values must be a constant scalar")
        if value.quant != y.quant:
            raise UnsupportedModelError(
                f"op {op.index} PADV2: constant_values quantized differently from the output "
                "(TFLM requires the same)")
        pad_value = int(np.asarray(value.data).reshape(-1)[0])

    out_strides = strides_of(y.shape)
    offset = sum(l * s for l, s in zip(left, out_strides))
    if rank == 4 and x.shape[0] == 1 and left[0] == right[0] == 0:
        # an image: its rows kept as the outermost dimension, so that a band of rows is one walk (ek_pad.h)
        inner, inner_step = collapse(x.shape[2:], out_strides[2:])
        count, step = (x.shape[1], *inner), (out_strides[1], *inner_step)
        rows = dict(in_h=x.shape[1], pad_top=left[1], out_row=out_strides[1])
    else:
        count, step = collapse(x.shape or (1,), out_strides or [1])
        rows = {}
    _check_walk(op, count)
    params = PadParams(rank=len(count), count=count, step=step, offset=offset,
                       output_size=y.num_elements, pad_value=pad_value, **rows)
    return KernelCall(op, f"ek_pad_{_suffix(x)}", "ek_pad.h", params, (ctx.ptr(x), ctx.ptr(y)))


# ---------------------------------------------------------------------------- TRANSPOSE


@lowers(OpKind.TRANSPOSE, int16=True)
def lower_transpose(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    x, y = _int8_io(ctx, op, int16=True)
    perm = _const_ints(ins[1], op, "perm")
    rank = len(x.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise UnsupportedModelError(f"op {op.index} TRANSPOSE: {perm} is not a permutation of {rank} axes")
    out_shape = tuple(x.shape[p] for p in perm)
    if out_shape != y.shape:
        raise UnsupportedModelError(f"op {op.index} TRANSPOSE: output shape {y.shape}, expected {out_shape}")
    in_strides = strides_of(x.shape)
    count, step = collapse(out_shape or (1,), [in_strides[p] for p in perm] or [1])
    _check_walk(op, count, TRANSPOSE_MAX_DIMS)
    params = TransposeParams(rank=len(count), count=count, step=step)
    return KernelCall(op, f"ek_transpose_{_suffix(x)}", "ek_transpose.h", params, (ctx.ptr(x), ctx.ptr(y)))


# ---------------------------------------------------------------------------- TILE


@lowers(OpKind.TILE)
def lower_tile(ctx: LowerCtx, op: Op) -> KernelCall:
    """Output index (j[0], ..., j[r-1]) reads input (j[0] mod d[0], ...): output axis k seen as
    (multiples[k], d[k]) walks the input with steps (0, stride[k]). TFLite copies the bytes,
    without requantizing, and so does the walk."""
    ins = ctx.graph.op_inputs(op)
    x, y = _int8_io(ctx, op)
    rank = len(x.shape)
    multiples = _const_ints(ins[1], op, "multiples")
    if rank < 1 or len(multiples) != rank:
        raise UnsupportedModelError(
            f"op {op.index} TILE: a {rank}-D input with {len(multiples)} multiples "
            "(edgekit tiles inputs of one or more dimensions, one multiple per axis)")
    if any(m < 1 for m in multiples):
        raise UnsupportedModelError(f"op {op.index} TILE: multiples {multiples} below 1")
    if tuple(d * m for d, m in zip(x.shape, multiples)) != y.shape:
        raise UnsupportedModelError(f"op {op.index} TILE: output shape {y.shape} does not match "
                                    f"{x.shape} tiled {multiples} times")
    in_strides = strides_of(x.shape)
    count, step = collapse([v for d, m in zip(x.shape, multiples) for v in (m, d)],
                           [v for s in in_strides for v in (0, s)])
    _check_walk(op, count, TRANSPOSE_MAX_DIMS)
    params = TransposeParams(rank=len(count), count=count, step=step)
    return KernelCall(op, f"ek_transpose_{_suffix(x)}", "ek_transpose.h", params, (ctx.ptr(x), ctx.ptr(y)))


# ---------------------------------------------------------------------------- STRIDED_SLICE


def slice_ranges(shape, begin, end, strides, begin_mask: int, end_mask: int,
                 shrink_mask: int) -> list[tuple[int, int, int]]:
    """(start, stop, stride) per axis as TFLM's strided-slice kernel resolves them
    (``StridedSliceStartForAxis`` / ``StridedSliceEndForAxis``): negative indices wrap once,
    then clamp to [0, n] (forward) or [-1, n - 1] (backward); a mask bit replaces the index
    with the full extent; a shrunk axis takes one element from its start."""

    def clamp(v, lo, hi):
        return hi if v > hi else lo if v < lo else v

    out = []
    for axis, n in enumerate(shape):
        stride = strides[axis]
        start = begin[axis]
        if start < 0:
            start += n
        start = clamp(start, 0, n) if stride > 0 else clamp(start, -1, n - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else n - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= n else start + 1
        else:
            stop = end[axis]
            if stop < 0:
                stop += n
            stop = clamp(stop, 0, n) if stride > 0 else clamp(stop, -1, n - 1)
            if end_mask & (1 << axis):
                stop = n if stride > 0 else -1
        out.append((start, stop, stride))
    return out


def iterations(start: int, stop: int, stride: int) -> int:
    """How many times ``for (i = start; stride > 0 ? i < stop : i > stop; i += stride)`` runs."""
    return max(0, -(-(stop - start) // stride)) if stride > 0 else max(0, -((start - stop) // stride))


@lowers(OpKind.STRIDED_SLICE, int16=True)
def lower_strided_slice(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    x, y = _int8_io(ctx, op, int16=True, copy=True)
    opts: StridedSliceOptions = op.options
    if opts.ellipsis_mask or opts.new_axis_mask or opts.offset:
        raise UnsupportedModelError(
            f"op {op.index} STRIDED_SLICE: ellipsis/new-axis masks and offset are not supported "
            "(TFLM ignores them)")
    rank = len(x.shape)
    begin = _const_ints(ins[1], op, "begin")
    end = _const_ints(ins[2], op, "end")
    strides = _const_ints(ins[3], op, "strides")
    if not len(begin) == len(end) == len(strides) == rank:
        raise UnsupportedModelError(
            f"op {op.index} STRIDED_SLICE: begin/end/strides do not match the input rank")
    if any(s == 0 for s in strides):
        raise UnsupportedModelError(f"op {op.index} STRIDED_SLICE: zero stride")
    ranges = slice_ranges(x.shape, begin, end, strides, opts.begin_mask, opts.end_mask,
                          opts.shrink_axis_mask)
    counts = [iterations(*r) for r in ranges]
    if math.prod(counts) != y.num_elements:
        raise UnsupportedModelError(
            f"op {op.index} STRIDED_SLICE: the slice holds {math.prod(counts)} elements, the output "
            f"tensor {y.num_elements} (TFLM would not fill it)")
    in_strides = strides_of(x.shape)
    start = sum(r[0] * s for r, s in zip(ranges, in_strides)) if math.prod(counts) else 0
    count, step = collapse(counts or [1], [r[2] * s for r, s in zip(ranges, in_strides)] or [1])
    _check_walk(op, count)
    params = StridedSliceParams(rank=len(count), start=start, count=count, step=step)
    return KernelCall(op, f"ek_strided_slice_{_suffix(x)}", "ek_strided_slice.h", params,
                      (ctx.ptr(x), ctx.ptr(y)))


# ---------------------------------------------------------------------------- CONCATENATION


def _pointer(ctx: LowerCtx, t: Tensor) -> object:
    """A C pointer expression for a tensor inside a parameter struct: its constant array, or the
    ``T<index>`` arena macro model.c defines for every activation tensor."""
    return ctx.const_array(t) if t.is_constant else f"T{t.index}"


@lowers(OpKind.CONCATENATION, int16=True)
def lower_concatenation(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: ConcatenationOptions = op.options
    xs = ctx.graph.op_inputs(op)
    y = ctx.graph.op_outputs(op)[0]
    require = _requirement(y, True)
    require(y, "output", op)
    for x in xs:
        require(x, "input", op)
    if opts.activation != Activation.NONE:
        raise UnsupportedModelError(
            f"op {op.index} CONCATENATION: fused {opts.activation.name} (TFLM runs none)")
    if not 1 <= len(xs) <= MAX_CONCAT_INPUTS:
        raise UnsupportedModelError(
            f"op {op.index} CONCATENATION: {len(xs)} inputs; TFLM and edgekit take at most "
            f"{MAX_CONCAT_INPUTS}")
    rank = len(y.shape)
    axis = opts.axis + rank if opts.axis < 0 else opts.axis
    if not 0 <= axis < rank:
        raise UnsupportedModelError(f"op {op.index} CONCATENATION: axis {opts.axis} out of range")
    for x in xs:
        if len(x.shape) != rank or any(a != b for k, (a, b) in enumerate(zip(x.shape, y.shape)) if k != axis):
            raise UnsupportedModelError(
                f"op {op.index} CONCATENATION: input shape {x.shape} does not fit {y.shape}")
    if sum(x.shape[axis] for x in xs) != y.shape[axis]:
        raise UnsupportedModelError(f"op {op.index} CONCATENATION: inputs do not add up to the output")
    for x in xs:
        if (x.scale, x.zero_point) != (y.scale, y.zero_point):
            raise UnsupportedModelError(
                f"op {op.index} CONCATENATION: input {x.name!r} is quantized (scale {x.scale:g}, zero "
                f"point {x.zero_point}) unlike the output ({y.scale:g}, {y.zero_point}); TFLM's int8 "
                "kernel requires them equal (the converter inserts a QUANTIZE where they differ)")
    params = ConcatenationParams(
        num_inputs=len(xs), outer=math.prod(y.shape[:axis]),
        chunk=tuple(math.prod(x.shape[axis:]) * y.dtype.itemsize for x in xs),
        inputs=tuple(_pointer(ctx, x) for x in xs))
    return ConcatenationCall(op, f"ek_concatenation_{_suffix(y)}", "ek_concat.h", params, (ctx.ptr(y),))

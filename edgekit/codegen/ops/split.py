"""SPLIT, SPLIT_V, UNPACK (``ek_split.h``) and PACK (CONCATENATION's kernel): cutting a tensor
along one axis into several, and stacking several into one.

No arithmetic: TFLM copies int8 (int16, 16x8) bytes without looking at the quantization; SPLIT,
SPLIT_V and UNPACK on int16 run ``ek_split_s16``, the same walk with chunks counted in bytes, and
PACK on int16 ``ek_concatenation_s16`` or ``ek_pack_s16`` (TFLM's PACK copies int16 elements as
int8 ones). Every case is, for
each index combination before the axis, one contiguous chunk per output (or input) in turn:
SPLIT and SPLIT_V take the chunk sizes from the output shapes (TFLM's SPLIT_V reads no size
tensor either), UNPACK's chunks are one slice of the axis, and PACK is a CONCATENATION of
inputs that lack the axis, so it runs ``ek_concatenation_s8`` with its own constants; a PACK of
more inputs than CONCATENATION takes (TFLM's PACK has no limit) runs ``ek_pack_s8``, the same
walk with one chunk size and room for MAX_PACK_INPUTS pointers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, PackOptions, Tensor
from ..lowering import (CStruct, KernelCall, LowerCtx, choose, exact_inputs, lowers, portable, require_int8,
                        require_int16)
from .movement import MAX_CONCAT_INPUTS, ConcatenationCall, ConcatenationParams, _const_ints, _pointer

MAX_SPLIT_OUTPUTS = 32  # EK_SPLIT_MAX_OUTPUTS
MAX_PACK_INPUTS = 64  # EK_PACK_MAX_INPUTS


@dataclass(frozen=True)
class PackParams(CStruct):
    C_TYPE = "ek_pack_params"
    num_inputs: int
    outer: int  # product of the output dimensions before the axis
    chunk: int  # bytes each input contributes per outer step
    inputs: tuple[object, ...]  # C pointer expressions: arena tensor macros or constant arrays


@dataclass(frozen=True)
class SplitParams(CStruct):
    C_TYPE = "ek_split_params"
    num_outputs: int
    outer: int  # product of the input dimensions before the axis
    chunk: tuple[int, ...]  # bytes each output takes per outer step
    outputs: tuple[str, ...]  # the outputs' arena tensor macros (as int8_t pointers)


SPLIT_KERNELS = (portable("ek_split_s8 / ek_split_s16"),)
PACK_KERNELS = (portable("ek_concatenation_s8 / ek_concatenation_s16"),)


def _axis(op: Op, axis: int, rank: int) -> int:
    """``axis`` counted from the front, as TFLM wraps a negative one (once)."""
    wrapped = axis + rank if axis < 0 else axis
    if not 0 <= wrapped < rank:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: axis {axis} out of range for rank {rank}")
    return wrapped


def _without(shape, axis: int) -> tuple[int, ...]:
    return tuple(d for k, d in enumerate(shape) if k != axis)


@lowers(OpKind.SPLIT, OpKind.SPLIT_V, OpKind.UNPACK, int16=True)
def lower_split(ctx: LowerCtx, op: Op) -> KernelCall:
    ys = ctx.graph.op_outputs(op)
    # SPLIT: (axis, input); SPLIT_V: (input, size_splits, axis); UNPACK: (input)
    ins = exact_inputs(ctx, op, {OpKind.SPLIT: 2, OpKind.SPLIT_V: 3, OpKind.UNPACK: 1}[op.kind])
    x, axis_tensor = (ins[1], ins[0]) if op.kind == OpKind.SPLIT else (ins[0], ins[-1])
    s16 = x.dtype == DType.INT16
    require = require_int16 if s16 else require_int8
    require(x, "input", op)
    if x.is_constant:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: constant input (not folded by the converter)")
    for y in ys:
        require(y, "output", op)
    if not 1 <= len(ys) <= MAX_SPLIT_OUTPUTS:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: {len(ys)} outputs; edgekit takes at most {MAX_SPLIT_OUTPUTS}")
    rank = len(x.shape)
    if op.kind == OpKind.UNPACK:
        opts: PackOptions = op.options
        axis = _axis(op, opts.axis, rank)
        if opts.count != len(ys):
            raise UnsupportedModelError(f"op {op.index} UNPACK: num {opts.count} but {len(ys)} outputs")
        expected = [_without(x.shape, axis)] * len(ys)
    else:
        axis_value = _const_ints(axis_tensor, op, "axis")
        if len(axis_value) != 1:
            raise UnsupportedModelError(f"op {op.index} {op.type_name}: axis must hold one value")
        axis = _axis(op, axis_value[0], rank)
        sizes = [y.shape[axis] if len(y.shape) == rank else -1 for y in ys]
        if op.kind == OpKind.SPLIT and len(set(sizes)) != 1:
            raise UnsupportedModelError(f"op {op.index} SPLIT: outputs of unequal sizes {sizes}")
        expected = [x.shape[:axis] + (n,) + x.shape[axis + 1:] for n in sizes]
        if sum(sizes) != x.shape[axis]:
            raise UnsupportedModelError(
                f"op {op.index} {op.type_name}: output sizes {sizes} do not add up to {x.shape[axis]}")
    for y, shape in zip(ys, expected):
        if y.shape != shape:
            raise UnsupportedModelError(
                f"op {op.index} {op.type_name}: output shape {y.shape}, expected {shape}")
    outer = math.prod(x.shape[:axis])
    size = x.dtype.itemsize
    params = SplitParams(num_outputs=len(ys), outer=outer,
                         chunk=tuple(y.num_elements // outer * size for y in ys),
                         outputs=tuple(f"(int8_t *)T{y.index}" if s16 else f"T{y.index}" for y in ys))
    call = KernelCall(op, "ek_split_s16" if s16 else "ek_split_s8", "ek_split.h", params, (ctx.ptr(x),))
    return choose(SPLIT_KERNELS, ctx, call)


@lowers(OpKind.PACK, int16=True)
def lower_pack(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: PackOptions = op.options
    xs: list[Tensor] = ctx.graph.op_inputs(op)
    y = ctx.graph.op_outputs(op)[0]
    s16 = y.dtype == DType.INT16
    require = require_int16 if s16 else require_int8
    require(y, "output", op)
    for x in xs:
        require(x, "input", op)
    if not 1 <= len(xs) <= MAX_PACK_INPUTS or opts.count != len(xs) or None in xs:
        raise UnsupportedModelError(
            f"op {op.index} PACK: {len(xs)} inputs (values_count {opts.count}); edgekit takes 1 to "
            f"{MAX_PACK_INPUTS}")
    axis = _axis(op, opts.axis, len(y.shape))
    if y.shape[axis] != len(xs) or any(x.shape != _without(y.shape, axis) for x in xs):
        raise UnsupportedModelError(
            f"op {op.index} PACK: inputs {[x.shape for x in xs]} do not stack into {y.shape}")
    inner = math.prod(y.shape[axis + 1:]) * y.dtype.itemsize  # bytes
    suffix = "s16" if s16 else "s8"
    if len(xs) > MAX_CONCAT_INPUTS:
        wide = PackParams(num_inputs=len(xs), outer=math.prod(y.shape[:axis]), chunk=inner,
                          inputs=tuple(_pointer(ctx, x) for x in xs))
        return ConcatenationCall(op, f"ek_pack_{suffix}", "ek_concat.h", wide, (ctx.ptr(y),))
    params = ConcatenationParams(num_inputs=len(xs), outer=math.prod(y.shape[:axis]),
                                 chunk=(inner,) * len(xs), inputs=tuple(_pointer(ctx, x) for x in xs))
    call = ConcatenationCall(op, f"ek_concatenation_{suffix}", "ek_concat.h", params, (ctx.ptr(y),))
    return choose(PACK_KERNELS, ctx, call)

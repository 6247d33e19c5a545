"""Comparisons (EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL: int8 in, bool out) and
SELECT_V2 / SELECT (bool condition, int8 values), bit-exact with TFLite.

Comparisons follow TFLM's ComparisonsPrepare: each input's own scale as a multiplier below one
(double), a left shift of 8, so both real values land on one fixed-point grid (``ek_compare.h``);
the walk is ADD's (``binary.broadcast_plan``). SELECT_V2 (TFLM) and SELECT (LiteRT; TFLM has no
kernel) copy the bytes of x or y without requantizing, as TFLite does; all three inputs broadcast
(``ek_select.h``). Keras's selu, soft_shrink and sparse_plus activations reach them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, Tensor
from ...plan import Overlap
from ..lowering import CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8
from .binary import _smaller_than_one, broadcast_plan

COMPARE_LEFT_SHIFT = 8  # TFLM's kLeftShift
RELATIONS = {OpKind.EQUAL: 0, OpKind.NOT_EQUAL: 1, OpKind.GREATER: 2, OpKind.GREATER_EQUAL: 3,
             OpKind.LESS: 4, OpKind.LESS_EQUAL: 5}  # ek_relation
SELECT_MAX_DIMS = 5  # EK_SELECT_MAX_DIMS; TFLM's BroadcastSelect5DSlow

COMPARE_KERNELS = (portable("ek_compare_s8"),)
SELECT_KERNELS = (portable("ek_select_s8"),)


@dataclass(frozen=True)
class CompareParams(CStruct):
    C_TYPE = "ek_compare_params"
    broadcast: int
    size: int
    dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    relation: int
    left_shift: int
    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int


@dataclass(frozen=True)
class SelectParams(CStruct):
    C_TYPE = "ek_select_params"
    size: int
    dims: tuple[int, ...]
    condition_strides: tuple[int, ...]
    x_strides: tuple[int, ...]
    y_strides: tuple[int, ...]


def _require_bool(t: Tensor, what: str, op: Op) -> None:
    if t.dtype != DType.BOOL:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: {what} is {t.dtype.name}, not BOOL")


@lowers(*RELATIONS)
def lower_compare(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 2 or any(t is None for t in ins):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: needs two inputs")
    x1, x2 = ins
    y = ctx.graph.op_outputs(op)[0]
    where = f"op {op.index} {op.type_name}"
    for t, what in ((x1, "first input"), (x2, "second input")):
        require_int8(t, what, op)
        if t.quant.per_channel:
            raise UnsupportedModelError(f"{where}: per-channel quantized {what}")
    _require_bool(y, "output", op)
    shape = broadcast_plan(y.shape, x1.shape, x2.shape, where)
    m1, s1 = _smaller_than_one(x1.scale, "input 1 scale", where)
    m2, s2 = _smaller_than_one(x2.scale, "input 2 scale", where)
    params = CompareParams(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                           in1_strides=shape.in1_strides, in2_strides=shape.in2_strides,
                           relation=RELATIONS[op.kind], left_shift=COMPARE_LEFT_SHIFT,
                           input1_offset=-x1.zero_point, input1_multiplier=m1, input1_shift=s1,
                           input2_offset=-x2.zero_point, input2_multiplier=m2, input2_shift=s2)
    # element i of a full-size input is read before output byte i is written, ascending
    overlaps = tuple(Overlap(input=k) for k, t in enumerate((x1, x2))
                     if t.num_elements == shape.size and not t.is_constant)
    call = KernelCall(op, "ek_compare_s8", "ek_compare.h", params, (ctx.ptr(x1), ctx.ptr(x2), ctx.ptr(y)),
                      overlaps=overlaps)
    return choose(COMPARE_KERNELS, ctx, call)


def select_strides(out_shape, shapes, where: str) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The output shape padded to SELECT_MAX_DIMS and each input's element strides over it (0
    where the input is broadcast), as BroadcastSelect5DSlow walks them."""
    if len(out_shape) > SELECT_MAX_DIMS or any(len(s) > len(out_shape) for s in shapes):
        raise UnsupportedModelError(f"{where}: {max(len(out_shape), *map(len, shapes))}-D select "
                                    f"(at most {SELECT_MAX_DIMS}-D)")
    out = (1,) * (SELECT_MAX_DIMS - len(out_shape)) + tuple(out_shape)
    strides = []
    for s in shapes:
        e = (1,) * (SELECT_MAX_DIMS - len(s)) + tuple(s)
        if any(d not in (1, o) for d, o in zip(e, out)):
            raise UnsupportedModelError(f"{where}: shape {s} does not broadcast to {tuple(out_shape)}")
        st, acc = [0] * SELECT_MAX_DIMS, 1
        for i in reversed(range(SELECT_MAX_DIMS)):
            st[i] = acc if e[i] != 1 else 0
            acc *= e[i]
        strides.append(tuple(st))
    return out, strides


@lowers(OpKind.SELECT, OpKind.SELECT_V2)
def lower_select(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 3 or any(t is None for t in ins):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: needs three inputs")
    cond, x, z = ins
    y = ctx.graph.op_outputs(op)[0]
    where = f"op {op.index} {op.type_name}"
    _require_bool(cond, "condition", op)
    for t, what in ((x, "x"), (z, "y"), (y, "output")):
        require_int8(t, what, op)
    if op.kind == OpKind.SELECT and not (cond.shape == x.shape == z.shape == y.shape):
        raise UnsupportedModelError(f"{where}: shapes {cond.shape}, {x.shape}, {z.shape} differ "
                                    "(edgekit runs SELECT on equal shapes; SELECT_V2 broadcasts)")
    out, (cs, xs, zs) = select_strides(y.shape, (cond.shape, x.shape, z.shape), where)
    if math.prod(out) != y.num_elements:
        raise UnsupportedModelError(f"{where}: output shape {y.shape} is not the broadcast of the inputs")
    params = SelectParams(size=y.num_elements, dims=out, condition_strides=cs, x_strides=xs, y_strides=zs)
    call = KernelCall(op, "ek_select_s8", "ek_select.h", params,
                      (ctx.ptr(cond), ctx.ptr(x), ctx.ptr(z), ctx.ptr(y)))
    return choose(SELECT_KERNELS, ctx, call)

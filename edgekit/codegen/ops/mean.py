"""MEAN and SUM, int8 or int16 (16x8), over the axes of a constant axis tensor (keep_dims either way).

Both are TFLM's QuantizedMeanOrSum: the int32 sum of the reduced elements, less the input zero
point times their count, requantized by s_in / s_out (MEAN folds 1 / count into that multiplier).
``plan_reduction`` is the walk every reduction kernel shares (``reduce.py``: REDUCE_MAX, REDUCE_MIN).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, Tensor
from ...plan import Overlap
from ..arith import quantize_multiplier
from ..lowering import CStruct, KernelCall, LowerCtx, lowers, require_int8, require_int16
from .movement import _const_ints

MAX_DIMS = 4  # EK_MEAN_MAX_DIMS per group (kept / reduced)


@dataclass(frozen=True)
class ReductionWalk(CStruct):
    """The fields every reduction kernel's parameters begin with (``ek_mean_params``,
    ``ek_reduce_params``): kept and reduced groups of (dim, element stride), each padded to
    MAX_DIMS, outermost first."""

    kept_dims: tuple[int, ...]
    kept_strides: tuple[int, ...]
    reduced_dims: tuple[int, ...]
    reduced_strides: tuple[int, ...]


@dataclass(frozen=True)
class MeanParams(ReductionWalk):
    C_TYPE = "ek_mean_params"
    bias: int
    multiplier: int
    shift: int
    output_offset: int


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """TFLM's QuantizedMeanOrSum rescale: QuantizeMultiplier(s_in / s_out), then 1/count folded
    into the multiplier as (multiplier << k) / count with k = floor(log2 count), capped at 32
    and at 31 + shift, and the shift lowered by k."""
    multiplier, shift = quantize_multiplier(float(np.float64(input_scale) / np.float64(output_scale)))
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << k) // count), shift - k


def wrap_i32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def resolve_axes(axes, rank: int, where: str) -> list[int]:
    out: list[int] = []
    for a in (int(v) for v in np.asarray(axes).reshape(-1)):
        r = a + rank if a < 0 else a
        if not 0 <= r < rank:
            raise UnsupportedModelError(f"{where}: axis {a} out of range for a {rank}-D input")
        if r not in out:
            out.append(r)
    return out


def _groups(shape, axes) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(kept, reduced) lists of (dim, element stride), outermost first, runs merged."""
    strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    runs: list[list] = []  # [reduced?, dim, stride]
    for i, (d, s) in enumerate(zip(shape, strides)):
        if d == 1:
            continue
        red = i in axes
        if runs and runs[-1][0] == red:
            runs[-1][1] *= d
            runs[-1][2] = s
        else:
            runs.append([red, d, s])
    kept = [(d, s) for red, d, s in runs if not red]
    reduced = [(d, s) for red, d, s in runs if red]
    return kept, reduced


def _pad(group, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if len(group) > MAX_DIMS:
        raise UnsupportedModelError(f"{where}: more than {MAX_DIMS} separate dimension groups")
    group = [(1, 0)] * (MAX_DIMS - len(group)) + list(group)
    return tuple(d for d, _ in group), tuple(s for _, s in group)


@dataclass(frozen=True)
class Reduction:
    """An int8 reduction over a constant axis tensor, as the kernels walk it."""

    x: Tensor
    y: Tensor
    count: int  # input elements per output element
    walk: ReductionWalk


def plan_reduction(ctx: LowerCtx, op: Op, int16: bool = False) -> Reduction:
    """The checked walk of MEAN, SUM, REDUCE_MAX and REDUCE_MIN (keep_dims changes only the
    output's shape, not its element order); int8 tensors, or int16 ones where ``int16``."""
    x, axis_t = ctx.graph.op_inputs(op)[:2]
    y = ctx.graph.op_outputs(op)[0]
    where = f"op {op.index} {op.type_name}"
    require = require_int16 if int16 and x.dtype == DType.INT16 else require_int8
    require(x, "input", op)
    require(y, "output", op)
    axes = resolve_axes(_const_ints(axis_t, op, "the axes"), len(x.shape), where)
    count = math.prod(x.shape[a] for a in axes)
    if count == 0 or x.num_elements == 0:
        raise UnsupportedModelError(f"{where}: empty reduction")
    if y.num_elements != x.num_elements // count:
        raise UnsupportedModelError(f"{where}: output shape {y.shape} does not match the reduction")
    kept, reduced = _groups(x.shape, axes)
    kept_dims, kept_strides = _pad(kept, where)
    reduced_dims, reduced_strides = _pad(reduced, where)
    return Reduction(x, y, count, ReductionWalk(kept_dims, kept_strides, reduced_dims, reduced_strides))


@lowers(OpKind.MEAN, OpKind.SUM, int16=True)
def lower_mean(ctx: LowerCtx, op: Op) -> KernelCall:
    r = plan_reduction(ctx, op, int16=True)
    x, y = r.x, r.y
    if op.kind == OpKind.MEAN:
        multiplier, shift = mean_multiplier(x.scale, y.scale, r.count)
    else:  # SUM: TFLM's QuantizedMeanOrSum with compute_sum, no 1 / count folded in
        multiplier, shift = quantize_multiplier(float(np.float64(x.scale) / np.float64(y.scale)))
    params = MeanParams(**dataclasses.asdict(r.walk), bias=wrap_i32(-x.zero_point * r.count),
                        multiplier=multiplier, shift=shift, output_offset=y.zero_point)
    # in place: output o is written after all its inputs are read, and every input of a later
    # output lies at an offset >= that output's index
    suffix = "s16" if x.dtype == DType.INT16 else "s8"
    return KernelCall(op, f"ek_mean_{suffix}", "ek_mean.h", params, (ctx.ptr(x), ctx.ptr(y)),
                      overlaps=(Overlap(input=0),))

"""ADD, SUB, MUL: int8 elementwise operators with numpy-style broadcasting; int16 (16x8) the
same way, with zero points 0 and ADD/SUB's int16 headroom.

The requantization follows TFLM's Prepare functions exactly (real multipliers in double).
Broadcasting is resolved here into a collapsed output shape and per-input element strides
that the kernel walks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, ElementwiseOptions, Op, OpKind, Tensor
from ...plan import Overlap
from ..arith import quantize_multiplier, quantize_multiplier_smaller_than_one, tensor_activation_range
from ..lowering import Candidate, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable, require_int8, require_int16
from .dsp_add import add_dsp_applies, lower_add_dsp

MAX_DIMS = 6  # EK_BINARY_MAX_DIMS; TFLM broadcasts up to 6-D
ADD_LEFT_SHIFT = 20  # TFLM's int8 ADD/SUB headroom
ADD_LEFT_SHIFT_S16 = 15  # and int16's


@dataclass(frozen=True)
class Broadcast:
    """How the kernel walks the output: ``dims`` outermost first, strides in elements."""

    broadcast: int
    size: int
    dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]


def broadcast_plan(out_shape, shape1, shape2, where: str) -> Broadcast:
    """Strides of both inputs over the output, with contiguous dimensions merged.

    Matches TFLM: equal shapes (after prepending 1s) take the flat loop; otherwise every
    dimension of an input is either the output's or 1 (broadcast, stride 0).
    """
    out_shape = tuple(out_shape)
    rank = max(len(out_shape), len(shape1), len(shape2))
    if rank > MAX_DIMS:
        raise UnsupportedModelError(f"{where}: {rank}-D broadcast (at most {MAX_DIMS}-D)")

    def extend(s):
        return (1,) * (rank - len(s)) + tuple(s)

    out, e1, e2 = extend(out_shape), extend(shape1), extend(shape2)
    for e in (e1, e2):
        if any(d not in (1, o) for d, o in zip(e, out)):
            raise UnsupportedModelError(f"{where}: shapes {shape1} and {shape2} do not broadcast to {out_shape}")
    size = math.prod(out)
    if any(max(a, b) != o for a, b, o in zip(e1, e2, out)):
        raise UnsupportedModelError(f"{where}: output shape {out_shape} is not the broadcast of the inputs")

    def strides(e):
        st, acc = [0] * rank, 1
        for i in reversed(range(rank)):
            st[i] = acc if e[i] != 1 else 0
            acc *= e[i]
        return st

    s1, s2 = strides(e1), strides(e2)
    merged: list[tuple[int, int, int]] = []
    for d, a, b in zip(out, s1, s2):
        if d == 1:
            continue
        if merged:
            pd, pa, pb = merged[-1]
            if pa == a * d and pb == b * d:  # contiguous in both inputs: one longer dimension
                merged[-1] = (pd * d, a, b)
                continue
        merged.append((d, a, b))
    pad = [(1, 0, 0)] * (MAX_DIMS - len(merged))
    dims, st1, st2 = zip(*(pad + merged))
    return Broadcast(int(e1 != e2), size, tuple(dims), tuple(st1), tuple(st2))


@dataclass(frozen=True)
class AddParams(CStruct):
    C_TYPE = "ek_add_params"
    broadcast: int
    size: int
    dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    left_shift: int
    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class MulParams(CStruct):
    C_TYPE = "ek_mul_params"
    broadcast: int
    size: int
    dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    input1_offset: int
    input2_offset: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    act_min: int
    act_max: int


def add_real_multipliers(s1: float, s2: float, so: float, left_shift: int = ADD_LEFT_SHIFT) -> tuple[float, float, float]:
    """(input1, input2, output) real multipliers of TFLM's int8 ADD/SUB Prepare, in double.

    Some TFLM sources compute SUB's in float32 instead; the tflite-micro interpreter we match
    uses double for both (tests/test_kernels_binary.py::test_all_input_pairs tells them apart).
    """
    twice = 2.0 * max(s1, s2)
    return s1 / twice, s2 / twice, twice / ((1 << left_shift) * so)


def _smaller_than_one(real: float, what: str, where: str) -> tuple[int, int]:
    if not 0.0 < real < 1.0:
        raise UnsupportedModelError(f"{where}: {what} rescale {real:g} is not in (0, 1)")
    return quantize_multiplier_smaller_than_one(real)


@lowers(OpKind.ADD, OpKind.SUB, OpKind.MUL, int16=True)
def lower_binary(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: ElementwiseOptions = op.options
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 2 or any(t is None for t in ins):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: needs two inputs")
    x1, x2 = ins
    y: Tensor = ctx.graph.op_outputs(op)[0]
    s16 = x1.dtype == DType.INT16
    for t, what in ((x1, "first input"), (x2, "second input"), (y, "output")):
        (require_int16 if s16 else require_int8)(t, what, op)
        if t.quant.per_channel:
            raise UnsupportedModelError(f"op {op.index} {op.type_name}: per-channel quantized {what}")
    where = f"op {op.index} {op.type_name}"
    shape = broadcast_plan(y.shape, x1.shape, x2.shape, where)
    act_min, act_max = tensor_activation_range(opts.activation, y)
    common = dict(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                  in1_strides=shape.in1_strides, in2_strides=shape.in2_strides,
                  input1_offset=-x1.zero_point, input2_offset=-x2.zero_point,
                  output_offset=y.zero_point, act_min=act_min, act_max=act_max)
    args = (ctx.ptr(x1), ctx.ptr(x2), ctx.ptr(y))
    suffix = "s16" if s16 else "s8"
    # In place over a full-size input: the kernel reads element i of it (its offset is the
    # output offset) before writing output element i, in ascending order.
    overlaps = tuple(Overlap(input=k) for k, t in enumerate((x1, x2))
                     if t.num_elements == shape.size and not t.is_constant)

    if op.kind == OpKind.MUL:
        real = x1.scale * x2.scale / y.scale  # double, as TFLM
        m, s = quantize_multiplier(real)
        params = MulParams(output_multiplier=m, output_shift=s, **common)
        return KernelCall(op, f"ek_mul_{suffix}", "ek_binary.h", params, args, overlaps=overlaps)

    left_shift = ADD_LEFT_SHIFT_S16 if s16 else ADD_LEFT_SHIFT
    r1, r2, ro = add_real_multipliers(x1.scale, x2.scale, y.scale, left_shift)
    m1, s1 = _smaller_than_one(r1, "input 1", where)
    m2, s2 = _smaller_than_one(r2, "input 2", where)
    mo, so = _smaller_than_one(ro, "output", where)
    params = AddParams(left_shift=left_shift, input1_multiplier=m1, input1_shift=s1,
                       input2_multiplier=m2, input2_shift=s2, output_multiplier=mo,
                       output_shift=so, **common)
    function = f"ek_{'add' if op.kind == OpKind.ADD else 'sub'}_{suffix}"
    call = KernelCall(op, function, "ek_binary.h", params, args, overlaps=overlaps)
    return choose(ADD_SUB_S16_KERNELS if s16 else ADD_SUB_KERNELS, ctx, call)


ADD_SUB_KERNELS = kernel_table(
    (OpKind.ADD,),  # SUB walks it too; its DSP row takes ADD only
    Candidate("ek_add_dsp_s8", add_dsp_applies, lower_add_dsp),  # same in-place order (ek_add_dsp.h)
    portable("ek_add_s8 / ek_sub_s8"),
)

ADD_SUB_S16_KERNELS = (portable("ek_add_s16 / ek_sub_s16"),)

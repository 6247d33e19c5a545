"""PRELU and SQUARED_DIFFERENCE: two-input int8 elementwise operators with broadcasting.

Both walk the output as ADD does (``binary.broadcast_plan``); the constants follow TFLM's
Prepare functions, real multipliers in double: PRELU's ``CalculatePreluParams`` (``ek_prelu.h``),
SQUARED_DIFFERENCE's ``PrepareQuantized`` with a left shift of 7 (``ek_squared_difference.h``,
which takes ADD's parameter struct, as TFLite's ArithmeticParams serve both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Op, OpKind, Tensor
from ...plan import Overlap
from ..arith import INT8_MAX, INT8_MIN, quantize_multiplier
from ..lowering import CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8
from .binary import AddParams, Broadcast, _smaller_than_one, broadcast_plan

SQUARED_DIFFERENCE_LEFT_SHIFT = 7  # TFLM's int8 headroom


@dataclass(frozen=True)
class PreluParams(CStruct):
    C_TYPE = "ek_prelu_params"
    broadcast: int
    size: int
    dims: tuple[int, ...]
    input_strides: tuple[int, ...]
    alpha_strides: tuple[int, ...]
    input_offset: int
    alpha_offset: int
    pos_multiplier: int
    pos_shift: int
    neg_multiplier: int
    neg_shift: int
    output_offset: int


PRELU_KERNELS = (portable("ek_prelu_s8"),)
SQUARED_DIFFERENCE_KERNELS = (portable("ek_squared_difference_s8"),)


def _pair(ctx: LowerCtx, op: Op) -> tuple[Tensor, Tensor, Tensor, Broadcast, tuple[Overlap, ...]]:
    """The two int8 inputs, the int8 output, the broadcast walk, and the in-place overlaps: over a
    full-size input, element i of it is read before output element i is written, ascending."""
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 2 or any(t is None for t in ins):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: needs two inputs")
    x1, x2 = ins
    y = ctx.graph.op_outputs(op)[0]
    for t, what in ((x1, "first input"), (x2, "second input"), (y, "output")):
        require_int8(t, what, op)
        if t.quant.per_channel:
            raise UnsupportedModelError(f"op {op.index} {op.type_name}: per-channel quantized {what}")
    shape = broadcast_plan(y.shape, x1.shape, x2.shape, f"op {op.index} {op.type_name}")
    overlaps = tuple(Overlap(input=k) for k, t in enumerate((x1, x2))
                     if t.num_elements == shape.size and not t.is_constant)
    return x1, x2, y, shape, overlaps


@lowers(OpKind.PRELU)
def lower_prelu(ctx: LowerCtx, op: Op) -> KernelCall:
    x, alpha, y, shape, overlaps = _pair(ctx, op)
    pos_m, pos_s = quantize_multiplier(x.scale / y.scale)
    neg_m, neg_s = quantize_multiplier(x.scale * alpha.scale / y.scale)
    params = PreluParams(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                         input_strides=shape.in1_strides, alpha_strides=shape.in2_strides,
                         input_offset=-x.zero_point, alpha_offset=-alpha.zero_point,
                         pos_multiplier=pos_m, pos_shift=pos_s, neg_multiplier=neg_m, neg_shift=neg_s,
                         output_offset=y.zero_point)
    call = KernelCall(op, "ek_prelu_s8", "ek_prelu.h", params, (ctx.ptr(x), ctx.ptr(alpha), ctx.ptr(y)),
                      overlaps=overlaps)
    return choose(PRELU_KERNELS, ctx, call)


@lowers(OpKind.SQUARED_DIFFERENCE)
def lower_squared_difference(ctx: LowerCtx, op: Op) -> KernelCall:
    x1, x2, y, shape, overlaps = _pair(ctx, op)
    where = f"op {op.index} SQUARED_DIFFERENCE"
    twice = 2.0 * max(x1.scale, x2.scale)
    m1, s1 = _smaller_than_one(x1.scale / twice, "input 1", where)
    m2, s2 = _smaller_than_one(x2.scale / twice, "input 2", where)
    # TFLM multiplies the output scale by 2**14 in float32 (exact), then divides in double
    shifted_out = float(np.float32(1 << 2 * SQUARED_DIFFERENCE_LEFT_SHIFT) * np.float32(y.scale))
    mo, so = quantize_multiplier(twice * twice / shifted_out)
    params = AddParams(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                       in1_strides=shape.in1_strides, in2_strides=shape.in2_strides,
                       left_shift=SQUARED_DIFFERENCE_LEFT_SHIFT,
                       input1_offset=-x1.zero_point, input1_multiplier=m1, input1_shift=s1,
                       input2_offset=-x2.zero_point, input2_multiplier=m2, input2_shift=s2,
                       output_multiplier=mo, output_shift=so, output_offset=y.zero_point,
                       act_min=INT8_MIN, act_max=INT8_MAX)
    call = KernelCall(op, "ek_squared_difference_s8", "ek_squared_difference.h", params,
                      (ctx.ptr(x1), ctx.ptr(x2), ctx.ptr(y)), overlaps=overlaps)
    return choose(SQUARED_DIFFERENCE_KERNELS, ctx, call)

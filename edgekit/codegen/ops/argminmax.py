"""ARG_MAX, ARG_MIN (``ek_arg_min_max.h``): the index of the largest or smallest int8 value
along one constant axis, the first one on a tie.

TFLite compares the stored int8 values (their order is the real values' order), so there is no
constant beyond the [outer][axis][inner] view. The output must be int32: tflite-micro runs no
other (the converter's default for ``tf.argmax`` is int64; ``output_type=tf.int32`` avoids it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind
from ..lowering import CStruct, KernelCall, LowerCtx, choose, exact_inputs, lowers, portable, require_int8
from .movement import _const_ints


@dataclass(frozen=True)
class ArgMinMaxParams(CStruct):
    C_TYPE = "ek_arg_min_max_params"
    outer: int  # product of the input dimensions before the axis
    axis_size: int
    inner: int  # product of the input dimensions after the axis


ARG_MAX_KERNELS = (portable("ek_arg_max_s8"),)
ARG_MIN_KERNELS = (portable("ek_arg_min_s8"),)


@lowers(OpKind.ARG_MAX, OpKind.ARG_MIN)
def lower_arg_min_max(ctx: LowerCtx, op: Op) -> KernelCall:
    x, axis_tensor = exact_inputs(ctx, op, 2)
    y = ctx.graph.op_outputs(op)[0]
    require_int8(x, "input", op)
    if x.is_constant:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: constant input (not folded by the converter)")
    if y.dtype != DType.INT32:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: output is {y.dtype.name}; tflite-micro "
                                    "runs only int32 (tf.math.argmax(..., output_type=tf.int32))")
    axis_value = _const_ints(axis_tensor, op, "axis")
    rank = len(x.shape)
    if len(axis_value) != 1 or not -rank <= axis_value[0] < rank:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: axis {axis_value} out of range for rank {rank}")
    axis = axis_value[0] % rank
    expected = x.shape[:axis] + x.shape[axis + 1:]
    if y.shape != expected:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: output shape {y.shape}, expected {expected}")
    params = ArgMinMaxParams(outer=math.prod(x.shape[:axis]), axis_size=x.shape[axis],
                             inner=math.prod(x.shape[axis + 1:]))
    is_max = op.kind == OpKind.ARG_MAX
    call = KernelCall(op, "ek_arg_max_s8" if is_max else "ek_arg_min_s8", "ek_arg_min_max.h", params,
                      (ctx.ptr(x), ctx.ptr(y)))
    return choose(ARG_MAX_KERNELS if is_max else ARG_MIN_KERNELS, ctx, call)

"""MAXIMUM, MINIMUM: int8 (or int16, 16x8) elementwise with broadcasting (``ek_minmax.h``).

TFLite takes the larger or smaller stored int8 value of each pair, with no rescaling (its
converter gives the inputs the output's quantization); the kernel does the same, so there is no
constant to compute beyond the broadcast walk (``binary.broadcast_plan``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind
from ...plan import Overlap
from ..lowering import CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8, require_int16
from .binary import broadcast_plan


@dataclass(frozen=True)
class MinMaxParams(CStruct):
    C_TYPE = "ek_minmax_params"
    broadcast: int
    size: int
    dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]


MAXIMUM_KERNELS = (portable("ek_maximum_s8 / ek_maximum_s16"),)
MINIMUM_KERNELS = (portable("ek_minimum_s8 / ek_minimum_s16"),)


@lowers(OpKind.MAXIMUM, OpKind.MINIMUM, int16=True)
def lower_minmax(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 2 or any(t is None for t in ins):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: needs two inputs")
    x1, x2 = ins
    y = ctx.graph.op_outputs(op)[0]
    s16 = x1.dtype == DType.INT16
    for what, t in (("input 1", x1), ("input 2", x2), ("output", y)):
        (require_int16 if s16 else require_int8)(t, what, op)
    shape = broadcast_plan(y.shape, x1.shape, x2.shape, f"op {op.index} {op.type_name}")
    params = MinMaxParams(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                          in1_strides=shape.in1_strides, in2_strides=shape.in2_strides)
    # in place over a full-size input: element i is read before output element i is written
    overlaps = () if s16 else tuple(Overlap(input=k) for k, t in enumerate((x1, x2))
                                    if t.num_elements == shape.size and not t.is_constant)
    maximum = op.kind == OpKind.MAXIMUM
    function = f"ek_{'maximum' if maximum else 'minimum'}_{'s16' if s16 else 's8'}"
    call = KernelCall(op, function, "ek_minmax.h", params,
                      (ctx.ptr(x1), ctx.ptr(x2), ctx.ptr(y)), overlaps=overlaps)
    return choose(MAXIMUM_KERNELS if maximum else MINIMUM_KERNELS, ctx, call)

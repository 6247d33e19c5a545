"""REDUCE_MAX, REDUCE_MIN: int8, over the axes of a constant axis tensor (``ek_reduce.h``).

TFLM's int8 path compares stored values and requires the output quantized exactly as the input
(scale and zero point), so there is no constant beyond the walk, which MEAN's lowering plans
(``mean.plan_reduction``). Keras ``GlobalMaxPooling*`` converts to REDUCE_MAX.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import Op, OpKind
from ...plan import Overlap
from ..lowering import KernelCall, LowerCtx, choose, lowers, portable
from .mean import ReductionWalk, plan_reduction


@dataclass(frozen=True)
class ReduceParams(ReductionWalk):
    C_TYPE = "ek_reduce_params"


REDUCE_MAX_KERNELS = (portable("ek_reduce_max_s8"),)
REDUCE_MIN_KERNELS = (portable("ek_reduce_min_s8"),)


@lowers(OpKind.REDUCE_MAX, OpKind.REDUCE_MIN)
def lower_reduce_extreme(ctx: LowerCtx, op: Op) -> KernelCall:
    r = plan_reduction(ctx, op)
    if r.x.quant != r.y.quant:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: output quantized (scale {r.y.scale:g}, zero point "
            f"{r.y.zero_point}) unlike the input ({r.x.scale:g}, {r.x.zero_point}); TFLM's int8 "
            "kernel requires them equal")
    params = ReduceParams(**dataclasses.asdict(r.walk))
    maximum = op.kind == OpKind.REDUCE_MAX
    # in place as MEAN: output o is written after its inputs are read; later ones lie at >= o
    call = KernelCall(op, "ek_reduce_max_s8" if maximum else "ek_reduce_min_s8", "ek_reduce.h", params,
                      (ctx.ptr(r.x), ctx.ptr(r.y)), overlaps=(Overlap(input=0),))
    return choose(REDUCE_MAX_KERNELS if maximum else REDUCE_MIN_KERNELS, ctx, call)

"""SVDF, int8 input and output, int8 feature weights, int16 time weights and state
(``ek_svdf.h``), as TFLM's integer SVDF computes it.

The two multipliers are TFLM's Prepare ones (``svdf_common.cc``): input x feature weights to the
state's scale, and state x time weights to the output's scale, each product and quotient taken
in float32 and then widened, as TFLM writes it. The state is a variable tensor, kept across
invokes (alive over the whole invoke in the plan) and reset by the generated ``P_reset_state``
(an int16 state to 0, whatever its zero point, as TFLM resets it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, SVDFOptions
from .. import kernel_facts
from ..arith import quantize_multiplier
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8


@dataclass(frozen=True)
class SvdfParams(CStruct):
    C_TYPE = "ek_svdf_params"
    batches: int
    input_size: int
    filters: int
    rank: int
    memory: int
    feature_weights: CArray
    time_weights: CArray
    bias: CArray
    input_zero_point: int
    state_zero_point: int
    output_zero_point: int
    feature_multiplier: int
    feature_shift: int
    output_multiplier: int
    output_shift: int


SVDF_KERNELS = (portable("ek_svdf_s8"),)


def float32_scale(a: float, b: float, c: float) -> float:
    """``a * b / c`` in float32, widened to double (TFLM's SVDF Prepare)."""
    return float(np.float32(np.float32(a) * np.float32(b)) / np.float32(c))


@lowers(OpKind.SVDF)
def lower_svdf(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: SVDFOptions = op.options
    where = f"op {op.index} SVDF"
    ins = ctx.graph.op_inputs(op)
    if len(ins) != 5 or any(ins[k] is None for k in (0, 1, 2, 4)):
        raise UnsupportedModelError(f"{where}: needs input, feature weights, time weights and state inputs")
    x, wf, wt, bias, state = ins
    y = ctx.graph.op_outputs(op)[0]
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    if not wf.is_constant or wf.dtype != DType.INT8 or wf.quant is None or len(wf.shape) != 2:
        raise UnsupportedModelError(f"{where}: feature weights must be constant 2-D int8")
    if (not state.variable or state.dtype != DType.INT16 or state.quant is None
            or not wt.is_constant or wt.dtype != DType.INT16 or wt.quant is None or len(wt.shape) != 2):
        raise UnsupportedModelError(f"{where}: edgekit runs an int16 state with int16 time weights "
                                    f"(state {state.dtype.name}, time weights {wt.dtype.name})")
    if bias is None or not bias.is_constant or bias.dtype != DType.INT32:
        raise UnsupportedModelError(f"{where}: needs a constant int32 bias (TFLM's integer SVDF reads its scale)")
    if any(z != 0 for z in (*wf.quant.zero_point, *wt.quant.zero_point)) or wf.quant.per_channel or wt.quant.per_channel:
        raise UnsupportedModelError(f"{where}: weights must be per-tensor symmetric")
    if len(x.shape) != 2 or len(y.shape) != 2:
        raise UnsupportedModelError(f"{where}: input {list(x.shape)} and output {list(y.shape)} must be 2-D")
    batches, in_size = x.shape
    filters, memory = wt.shape
    rank = opts.rank
    if (rank < 1 or filters % rank or wf.shape != (filters, in_size) or y.shape != (batches, filters // rank)
            or state.shape != (batches, memory * filters) or bias.num_elements != filters // rank):
        raise UnsupportedModelError(f"{where}: shapes do not fit (input {list(x.shape)}, feature weights "
                                    f"{list(wf.shape)}, time weights {list(wt.shape)}, rank {rank})")
    feature = quantize_multiplier(float32_scale(x.scale, wf.scale, state.scale))
    out = quantize_multiplier(float32_scale(state.scale, wt.scale, y.scale))
    params = SvdfParams(
        batches=batches, input_size=in_size, filters=filters, rank=rank, memory=memory,
        feature_weights=ctx.const_array(wf), time_weights=ctx.const_array(wt), bias=ctx.const_array(bias),
        input_zero_point=x.zero_point, state_zero_point=state.zero_point, output_zero_point=y.zero_point,
        feature_multiplier=feature[0], feature_shift=feature[1], output_multiplier=out[0], output_shift=out[1],
    )
    call = KernelCall(op, "ek_svdf_s8", "ek_svdf.h", params,
                      (ctx.ptr(x), ctx.ptr(y), ctx.ptr(state), ctx.scratch(op)),
                      scratch_bytes=kernel_facts.scratch_bytes("ek_svdf_s8", filters))
    return choose(SVDF_KERNELS, ctx, call)

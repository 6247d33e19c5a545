"""FULLY_CONNECTED, int8 activations, int8 weights (per-tensor or per-channel), int32 bias; and
16x8 (int16 activations, int8 weights, int64 or int32 bias: ``int16x8.accumulator_16x8``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, FullyConnectedOptions, Op, OpKind
from ..arith import check_accumulator, max_abs_acc, quantize_multiplier, tensor_activation_range
from ..lowering import Candidate, CArray, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable, require_int8
from .dsp_common import prefer_packed
from .dsp_s16 import fully_connected_s16_dsp_applies, lower_fully_connected_s16_dsp
from .int16x8 import accumulator_16x8
from .dsp_fully_connected import (
    fully_connected_dsp_applies,
    fully_connected_int4_applies,
    fully_connected_lean_applies,
    lower_fully_connected_dsp,
    lower_fully_connected_int4_dsp,
    lower_fully_connected_lean,
    small_fc,
)
from .palette import lower_packed_fully_connected, packing_applies


@dataclass(frozen=True)
class FullyConnectedParams(CStruct):
    C_TYPE = "ek_fully_connected_params"
    batches: int
    in_features: int
    out_features: int
    weights: CArray  # [out_features][in_features]
    bias: CArray | str  # bias + input_offset * sum(weights row), folded at generation time; 16x8: "NULL"
    multiplier: CArray  # per output channel (the per-tensor value repeated)
    shift: CArray
    output_offset: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class FullyConnectedS16Params(CStruct):
    C_TYPE = "ek_fully_connected_s16_params"
    fc: FullyConnectedParams  # bias "NULL", output_offset 0
    bias: CArray  # int64
    wide: int  # 1: int64 accumulator (int64 bias), 0: int32


def output_scales(input_scale: float, filter_scales, output_scale: float, per_channel: bool):
    """The real multipliers as TFLM computes them: each float32 scale widened to double, then the
    double product and quotient (kernel_util's GetQuantizedConvolutionMultipler), per tensor as
    per channel. (Multiplying the two float32 scales in float32 first, as older TFLite did, gives
    another multiplier in some models, and an output one off: ad01 on one of 3,000 inputs.)"""
    scales = filter_scales if per_channel else filter_scales[:1]
    return [float(np.float64(np.float32(input_scale)) * np.float64(np.float32(fs))
                  / np.float64(np.float32(output_scale))) for fs in scales]


@lowers(OpKind.FULLY_CONNECTED, int16=True)
def lower_fully_connected(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: FullyConnectedOptions = op.options
    x, w, b = (ctx.graph.op_inputs(op) + [None])[:3]
    y = ctx.graph.op_outputs(op)[0]
    s16 = x.dtype == DType.INT16
    if s16:  # TFLM's int16 FULLY_CONNECTED checks no zero point: it applies both offsets
        for t, what in ((x, "input"), (y, "output")):
            if t.dtype != DType.INT16 or t.quant is None:
                raise UnsupportedModelError(f"op {op.index} (FULLY_CONNECTED): {what} tensor {t.name!r} is "
                                            f"{t.dtype.name}, not int16 like the input (16x8)")
    else:
        require_int8(x, "input", op)
        require_int8(y, "output", op)
    if w is None or not w.is_constant or w.dtype not in (DType.INT8, DType.INT4) or w.quant is None:
        raise UnsupportedModelError(f"op {op.index} FULLY_CONNECTED: weights must be constant quantized int8 or int4")
    if s16 and w.dtype == DType.INT4:
        raise UnsupportedModelError(f"op {op.index} FULLY_CONNECTED: int4 weights with int16 activations")
    if len(w.shape) != 2:
        raise UnsupportedModelError(f"op {op.index} FULLY_CONNECTED: weights of shape {list(w.shape)}, not 2-D")
    out_f, in_f = w.shape
    batches = x.num_elements // in_f
    if x.num_elements != batches * in_f or y.num_elements != batches * out_f:
        raise UnsupportedModelError(
            f"op {op.index} FULLY_CONNECTED: input {list(x.shape)} and output {list(y.shape)} do not fit "
            f"weights of {out_f}x{in_f}")
    weights = w.data.astype(np.int64)
    if any(z != 0 for z in w.quant.zero_point):
        raise UnsupportedModelError(f"op {op.index} FULLY_CONNECTED: asymmetric weights")
    per_channel = w.quant.per_channel
    reals = output_scales(x.scale, w.quant.scale, y.scale, per_channel)
    act_min, act_max = tensor_activation_range(opts.activation, y)
    if s16:
        acc = accumulator_16x8(ctx, op, b, weights, reals, input_zero_point=x.zero_point)
        fc = FullyConnectedParams(
            batches=batches, in_features=in_f, out_features=out_f, weights=ctx.const_array(w), bias="NULL",
            multiplier=acc.multiplier, shift=acc.shift, output_offset=y.zero_point, act_min=act_min,
            act_max=act_max)
        call = KernelCall(op, "ek_fully_connected_s16", "ek_fully_connected.h",
                          FullyConnectedS16Params(fc, acc.bias, acc.wide), (ctx.ptr(x), ctx.ptr(y)))
        return choose(FULLY_CONNECTED_S16_KERNELS, ctx, call)
    if b is not None and (not b.is_constant or b.num_elements != out_f):
        raise UnsupportedModelError(f"op {op.index} FULLY_CONNECTED: bias must be constant, {out_f} values")
    bias = b.data.astype(np.int64).reshape(-1) if b is not None else np.zeros(out_f, np.int64)
    folded = bias + (-x.zero_point) * weights.sum(axis=1)
    check_accumulator(f"op {op.index} FULLY_CONNECTED", max_abs_acc(folded, weights), reals)
    qs = [quantize_multiplier(r) for r in reals]
    if not per_channel:
        qs = qs * out_f
    params = FullyConnectedParams(
        batches=batches, in_features=in_f, out_features=out_f,
        weights=ctx.const_array(w, "int8_t"),  # int4 weights widened
        bias=ctx.array(op, "bias", "int32_t", folded, "bias with the input offset folded in"),
        multiplier=ctx.array(op, "multiplier", "int32_t", [m for m, _ in qs]),
        shift=ctx.array(op, "shift", "int32_t", [s for _, s in qs]),
        output_offset=y.zero_point, act_min=act_min, act_max=act_max,
    )
    call = KernelCall(op, "ek_fully_connected_s8", "ek_fully_connected.h", params,
                      (ctx.ptr(x), ctx.ptr(y)))
    return choose(FULLY_CONNECTED_KERNELS, ctx, call)


# ---------------------------------------------------------------------------- kernel table


def packed_beats_dsp(ctx: LowerCtx, call: KernelCall) -> bool:
    """On a DSP core, compressed weights only when much smaller (``dsp_common.prefer_packed``)."""
    return ctx.target.dsp and prefer_packed(ctx.target, ctx.tensor(call.op.inputs[1]).data.astype(np.int64))


FULLY_CONNECTED_KERNELS = kernel_table(
    (OpKind.FULLY_CONNECTED,),
    portable("ek_fully_connected_s8", applies=small_fc),  # a classifier head on a DSP core: code size wins
    Candidate("ek_fully_connected_int4_dsp_s8", fully_connected_int4_applies, lower_fully_connected_int4_dsp),
    Candidate("ek_fully_connected_pal_s8", packed_beats_dsp, lower_packed_fully_connected),
    Candidate("ek_fully_connected_lean_dsp_s8", fully_connected_lean_applies, lower_fully_connected_lean),
    Candidate("ek_fully_connected_dsp_s8", fully_connected_dsp_applies, lower_fully_connected_dsp),
    Candidate("ek_fully_connected_pal_s8", packing_applies, lower_packed_fully_connected),
    portable("ek_fully_connected_s8"),
)

FULLY_CONNECTED_S16_KERNELS = kernel_table(
    (OpKind.FULLY_CONNECTED,),
    Candidate("ek_fully_connected_dsp_s16", fully_connected_s16_dsp_applies, lower_fully_connected_s16_dsp),
    portable("ek_fully_connected_s16"),
)

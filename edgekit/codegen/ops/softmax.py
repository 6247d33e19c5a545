"""SOFTMAX, int8 in and out, with TFLM's integer algorithm; the exp is a generation-time table.
int16 in and out (16x8): TFLM's SoftmaxInt16, its two interpolated tables made as its Prepare does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, SoftmaxOptions
from ...plan import Overlap
from ..arith import (exp_on_negative_values, expf, lut_populate_int16, one_over_one_plus, quantize_multiplier,
                     softmax_input_scaling, srdhm)
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, lowers, require_int8, require_int16

SCALED_DIFF_INTEGER_BITS = 5  # TFLM feeds exp() a Q5.26 value


@dataclass(frozen=True)
class SoftmaxParams(CStruct):
    C_TYPE = "ek_softmax_params"
    rows: int
    depth: int
    table_len: int
    exp_table: CArray


def softmax_exp_table(beta: float, input_scale: float) -> np.ndarray:
    """exp(-d * beta * input_scale) in Q0.31 for d = row max - x, exactly as TFLM computes it
    (input_beta_multiplier/left shift to Q5.26, gemmlowp exp_on_negative_values). Differences
    below TFLM's diff_min are skipped there, so the table stops at -diff_min."""
    multiplier, left_shift, diff_min = softmax_input_scaling(beta, input_scale, SCALED_DIFF_INTEGER_BITS)
    d = np.arange(min(256, 1 - diff_min), dtype=np.int64)
    diff = -d * (1 << left_shift)  # within int32: |diff| <= 31 * 2**26 once diff >= diff_min
    scaled = srdhm(diff, multiplier)
    return exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)


@dataclass(frozen=True)
class SoftmaxS16Params(CStruct):
    C_TYPE = "ek_softmax_s16_params"
    rows: int
    depth: int
    input_multiplier: int
    input_shift: int
    exp_lut: CArray
    recip_lut: CArray


#: TFLM's int16 softmax tables (softmax_common.cc): exp on [-10, 0] and 1 / (1 + x) on [0, 1],
#: both to Q0.15 (output scale 2 / 65535)
_RANGE = np.float32(65535)


def softmax_s16_tables() -> tuple[np.ndarray, np.ndarray]:
    f32 = np.float32
    exp_lut = lut_populate_int16(expf, f32(10.0) / _RANGE, 32767, f32(2.0) / _RANGE, 0)
    recip_lut = lut_populate_int16(one_over_one_plus, f32(1.0) / _RANGE, -32768, f32(2.0) / _RANGE, 0)
    return exp_lut, recip_lut


def lower_softmax_s16(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: SoftmaxOptions = op.options
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    require_int16(x, "input", op)
    require_int16(y, "output", op)
    # TFLM's Prepare: output scale 1/32768 within 0.1%
    if abs(float(np.float32(y.scale)) - 1.0 / 32768) > 0.001 / 32768:
        raise UnsupportedModelError(f"op {op.index} SOFTMAX: int16 output scale must be 1/32768")
    if not x.shape:
        raise UnsupportedModelError(f"op {op.index} SOFTMAX: scalar input")
    depth = x.shape[-1]
    multiplier, shift = quantize_multiplier(
        float(np.float32(x.scale)) * float(np.float32(opts.beta)) / (10.0 / 65535.0))
    exp_lut, recip_lut = softmax_s16_tables()
    params = SoftmaxS16Params(
        rows=x.num_elements // depth, depth=depth, input_multiplier=multiplier, input_shift=shift,
        exp_lut=ctx.array(op, "exp_lut", "int16_t", exp_lut, "exp on [-10, 0], TFLM's LUTPopulate<int16_t>"),
        recip_lut=ctx.array(op, "recip_lut", "int16_t", recip_lut, "1 / (1 + x) on [0, 1]"))
    return KernelCall(op, "ek_softmax_s16", "ek_softmax.h", params, (ctx.ptr(x), ctx.ptr(y)))


@lowers(OpKind.SOFTMAX, int16=True)
def lower_softmax(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: SoftmaxOptions = op.options
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    if x.dtype == DType.INT16:
        return lower_softmax_s16(ctx, op)
    require_int8(x, "input", op)
    where = f"op {op.index} SOFTMAX"
    if y.dtype == DType.INT16:
        raise UnsupportedModelError(f"{where}: int16 output is not supported (int8 models use int8)")
    require_int8(y, "output", op)
    # TFLM's Prepare insists on exactly this output quantization
    if np.float32(y.scale) != np.float32(1.0 / 256) or y.zero_point != -128:
        raise UnsupportedModelError(f"{where}: output quantization must be scale 1/256, zero point -128")
    if not x.shape:
        raise UnsupportedModelError(f"{where}: scalar input")
    depth = x.shape[-1]
    try:
        table = softmax_exp_table(opts.beta, x.scale)
    except ValueError:  # TFLM's Prepare fails the same way (beta * scale * 2**26 below one)
        raise UnsupportedModelError(f"{where}: beta * input scale {opts.beta * x.scale:g} is too small") from None
    params = SoftmaxParams(
        rows=x.num_elements // depth, depth=depth, table_len=len(table),
        exp_table=ctx.array(op, "exp", "int32_t", table,
                            f"exp(-beta * scale * d) in Q0.31, beta {opts.beta:g}, scale {x.scale:g}"))
    # in place: a row is read whole (max, sum) before its outputs are written, then element c is
    # read before output c is written
    return KernelCall(op, "ek_softmax_s8", "ek_softmax.h", params, (ctx.ptr(x), ctx.ptr(y)),
                      overlaps=(Overlap(input=0),))

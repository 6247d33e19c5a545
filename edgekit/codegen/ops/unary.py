"""Element-wise operators on one 8-bit tensor: a 256-entry lookup table built at generation time.

For int8 -> int8 LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH and QUANTIZE
(requantization) the output byte depends only on the input byte, so the table is computed here
by running TFLM's integer arithmetic for that operator over all 256 inputs, and the device runs
one generic kernel, ``ek_lut_s8``. QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32 are
the model's float edges: ``ek_quantize_f32_s8`` divides in float32 exactly as TFLM does, and
DEQUANTIZE looks its float result up in a 256-entry table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, LeakyReluOptions, Op, OpKind, Tensor
from ...plan import Overlap
from ..arith import (
    INT8_MAX,
    INT8_MIN,
    INT32_MAX,
    logistic_q4,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    checked_log2,
    tanh_q4,
    tfl_round,
)
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, lowers, require_int8, require_int16

# Element i is read before output element i is written, in ascending order, and an output
# element is no wider than an input one: the output may start anywhere at or below the input.
IN_PLACE = (Overlap(input=0, lead=0),)

# Table index k holds the result for the input byte k, i.e. for the int8 value int8(k).
BYTES = np.arange(256, dtype=np.int64)
INT8_INPUTS = BYTES.astype(np.uint8).view(np.int8).astype(np.int64)


@dataclass(frozen=True)
class LutParams(CStruct):
    C_TYPE = "ek_lut_params"
    size: int
    table: CArray  # [256] int8, indexed by the input byte


@dataclass(frozen=True)
class QuantizeParams(CStruct):
    C_TYPE = "ek_quantize_params"
    size: int
    scale: float  # the output scale, float32 as TFLM divides by it (DEQUANTIZE: the input's)
    zero_point: int


@dataclass(frozen=True)
class DequantizeParams(CStruct):
    C_TYPE = "ek_dequantize_params"
    size: int
    table: CArray  # [256] float, indexed by the input byte


def _io(ctx: LowerCtx, op: Op) -> tuple[Tensor, Tensor]:
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    if x.is_constant:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: constant input (not folded by the converter)")
    if x.num_elements != y.num_elements:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: input and output differ in size")
    for t, what in ((x, "input"), (y, "output")):
        if t.quant is not None and t.quant.per_channel:
            raise UnsupportedModelError(f"op {op.index} {op.type_name}: per-channel quantized {what}")
    return x, y


def _lut_call(ctx: LowerCtx, op: Op, x: Tensor, y: Tensor, table, what: str,
              function: str = "ek_lut_s8") -> KernelCall:
    table = np.asarray(table, dtype=np.int64)
    assert table.shape == (256,) and table.min() >= INT8_MIN and table.max() <= INT8_MAX, what
    params = LutParams(size=x.num_elements,
                       table=ctx.array(op, "table", "int8_t", table, f"{what}, indexed by the input byte"))
    return KernelCall(op, function, "ek_lut.h", params, (ctx.ptr(x), ctx.ptr(y)), overlaps=IN_PLACE)


def _clamp8(v):
    return np.clip(v, INT8_MIN, INT8_MAX)


# ---------------------------------------------------------------------------- tables
# Each returns the int8 results for INT8_INPUTS, computed as TFLM's reference kernel does.


def requantize_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int,
                     inputs=INT8_INPUTS, out_range=(INT8_MIN, INT8_MAX)) -> np.ndarray:
    """QUANTIZE between 8-bit types (TFLM's Requantize): the multiplier from the double
    quotient. ``inputs``: the input value of each table byte (int8 or uint8 reading)."""
    m, s = quantize_multiplier(float(np.float64(in_scale) / np.float64(out_scale)))
    return np.clip(multiply_by_quantized_multiplier(inputs - in_zp, m, s) + out_zp, *out_range)


def relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """RELU: requantize, then clamp at the output's zero point."""
    m, s = quantize_multiplier(float(np.float64(in_scale) / np.float64(out_scale)))
    act_min = max(INT8_MIN, out_zp)  # zero point + round(0 / scale)
    y = multiply_by_quantized_multiplier(INT8_INPUTS - in_zp, m, s) + out_zp
    return np.clip(y, act_min, INT8_MAX)


def relu6_table(in_scale: float, in_zp: int) -> np.ndarray:
    """RELU6 as TFLM runs it: a clamp to [zero, six] in the *input's* quantization. TFLM does not
    requantize to the output's scale and zero point even when they differ."""
    six = int(np.clip(tfl_round(float(np.float32(6.0) / np.float32(in_scale))) + in_zp,
                      INT8_MIN, INT8_MAX))
    return np.where(INT8_INPUTS > six, six, np.where(INT8_INPUTS < in_zp, in_zp, INT8_INPUTS))


def leaky_relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int,
                     alpha: float) -> np.ndarray:
    """LEAKY_RELU: identity and alpha multipliers, both from float32 quotients."""
    f32 = np.float32
    alpha_real = float(f32(f32(in_scale) * f32(alpha)) / f32(out_scale))
    ident_real = float(f32(in_scale) / f32(out_scale))
    ma, sa = quantize_multiplier(alpha_real)
    mi, si = quantize_multiplier(ident_real)
    v = INT8_INPUTS - in_zp
    y = np.where(v >= 0, multiply_by_quantized_multiplier(v, mi, si),
                 multiply_by_quantized_multiplier(v, ma, sa))
    return _clamp8(y + out_zp)


def _input_radius_scaling(in_scale: float) -> tuple[int, int, int]:
    """TFLM's int8 LOGISTIC/TANH prepare: input multiplier and left shift for Q4.27, and the
    input radius beyond which the output saturates."""

    real = float(np.float64(np.float32(in_scale))) * float(1 << 27)
    q, shift = math.frexp(real)
    multiplier = tfl_round(q * (1 << 31))  # no renormalisation: q * 2**31 is exact here
    radius = math.floor(15.0 * (1 << 27) / 2.0 ** shift)
    if multiplier > INT32_MAX or shift < 0:
        raise UnsupportedModelError(f"input scale {in_scale} is out of the range TFLM handles")
    return multiplier, shift, radius


def logistic_table(in_scale: float, in_zp: int) -> np.ndarray:
    """LOGISTIC int8: output scale 1/256, zero point -128 (checked by the lowering)."""
    multiplier, shift, radius = _input_radius_scaling(in_scale)
    v = INT8_INPUTS - in_zp
    q4 = multiply_by_quantized_multiplier(np.clip(v, -radius, radius), multiplier, shift)
    y = _clamp8(rounding_divide_by_pot(logistic_q4(q4), 23) - 128)
    return np.where(v <= -radius, INT8_MIN, np.where(v >= radius, INT8_MAX, y))


def tanh_table(in_scale: float, in_zp: int) -> np.ndarray:
    """TANH int8: output scale 1/128, zero point 0 (TFLM assumes it without checking)."""
    multiplier, shift, radius = _input_radius_scaling(in_scale)
    v = INT8_INPUTS - in_zp
    q4 = multiply_by_quantized_multiplier(np.clip(v, -radius, radius), multiplier, shift)
    y = _clamp8(rounding_divide_by_pot(tanh_q4(q4), 24))
    return np.where(v <= -radius, INT8_MIN, np.where(v >= radius, INT8_MAX, y))


# HARD_SWISH works on int16 fixed point (reference_ops::HardSwish). Helpers on int64 arrays
# holding int16 values.
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.where(s >= 0, s >> 15, -((-s) >> 15))
    return np.where((a == I16_MIN) & (b == I16_MIN), I16_MAX, q)


def _sdhm16(a, b):
    """SaturatingDoublingHighMul on int16: like the above but truncating toward zero."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    q = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == I16_MIN) & (b == I16_MIN), I16_MAX, q)


def _sat_shl16(v, amount: int):
    return np.clip(np.asarray(v, dtype=np.int64) * (1 << amount), I16_MIN, I16_MAX)


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier."""
    m, e = quantize_multiplier(real)
    m16 = I16_MAX if m >= INT32_MAX - (1 << 15) else (m + (1 << 15)) >> 16
    return m16, e


def hard_swish_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    f32 = np.float32
    hires_scale = f32(1.0 / 128.0) * f32(in_scale)
    out_m, out_e = _int16_multiplier(float(f32(hires_scale / f32(out_scale))))
    relu_m, relu_e = _int16_multiplier(float(f32(hires_scale / (f32(3.0) / f32(32768.0)))))
    if out_e > 0 or -out_e > 15 or relu_e < -15:
        raise UnsupportedModelError(
            f"HARD_SWISH scales out of range for TFLM's int16 arithmetic (in {in_scale}, out {out_scale})")
    hires = (INT8_INPUTS - in_zp) * 128
    preshift = _srdhm16(hires, out_m)
    reluish = hires
    if relu_e > 0:
        reluish = _sat_shl16(reluish, relu_e - 1)
    reluish = _srdhm16(reluish, relu_m)
    if relu_e > 0:
        reluish = _sat_shl16(reluish, 1)
    if relu_e < 0:
        reluish = rounding_divide_by_pot(reluish, -relu_e)
    reluish = (reluish + (1 << 15)) >> 1  # [-1, 1] -> [0, 1]
    y = rounding_divide_by_pot(_sdhm16(reluish, preshift), -out_e) + out_zp
    return _clamp8(y)


# ---------------------------------------------------------------------------- lowerings


# ---------------------------------------------------------------------------- LOGISTIC, TANH int16


@dataclass(frozen=True)
class SigmoidS16Params(CStruct):
    C_TYPE = "ek_sigmoid_s16_params"
    size: int
    input_multiplier: int
    input_shift: int
    table: CArray  # [256] uint16


def sigmoid_table_q16() -> np.ndarray:
    """sigmoid(i / 24) in Q0.16 for i < 255, each entry lowered by half the error of linear
    interpolation at the midpoint to the next (so the interpolation's error is centred), as the
    table TFLM's int16 LOGISTIC and TANH read; the last entry is 1.0 saturated (65535)."""
    i = np.arange(256, dtype=np.float64)
    val, mid, nxt = (65536.0 / (1.0 + np.exp(-(i + d) / 24.0)) for d in (0.0, 0.5, 1.0))
    table = np.array([tfl_round(v) for v in val - ((val + nxt) / 2 - mid) / 2], np.int64)
    table[-1] = 65535
    return np.minimum(table, 65535)


def sigmoid_s16_scaling(op: Op, in_scale: float, out_scale: float, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input multiplier, right shift) of TFLM's int16 LOGISTIC / TANH Prepare: the input to the
    table's fixed point (3 * 4096 per unit). A power-of-two input scale whose shift is one of
    ``pot_shifts`` takes the multiplier 3 << shift and no shift (the Eval's power-of-two case)."""
    where = f"op {op.index} {op.type_name}"
    out_log2, out_pot = checked_log2(out_scale)
    if not out_pot or out_log2 != -15:
        raise UnsupportedModelError(f"{where}: int16 output scale {out_scale:g}, TFLM requires 2^-15")
    log2, pot = checked_log2(in_scale)
    shift = 12 + log2  # (15 - 3 input integer bits) + log2(scale)
    if pot and shift in pot_shifts:
        return 3 << shift, 0
    multiplier, shift = float(np.float32(in_scale)) * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    if multiplier > 32767.0:
        raise UnsupportedModelError(f"{where}: input scale {in_scale:g} too large for TFLM's int16 kernel")
    return int(multiplier), shift


def _sigmoid_s16_call(ctx: LowerCtx, op: Op, x: Tensor, y: Tensor, function: str,
                      pot_shifts: tuple[int, ...]) -> KernelCall:
    require_int16(x, "input", op)
    require_int16(y, "output", op)
    multiplier, shift = sigmoid_s16_scaling(op, x.scale, y.scale, pot_shifts)
    params = SigmoidS16Params(size=x.num_elements, input_multiplier=multiplier, input_shift=shift,
                              table=ctx.array(op, "table", "uint16_t", sigmoid_table_q16(),
                                              "sigmoid(i / 24) in Q0.16"))
    return KernelCall(op, function, "ek_sigmoid_s16.h", params, (ctx.ptr(x), ctx.ptr(y)))


@lowers(OpKind.LOGISTIC, int16=True)
def lower_logistic(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if x.dtype == DType.INT16:
        return _sigmoid_s16_call(ctx, op, x, y, "ek_logistic_s16", pot_shifts=(0,))
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    if y.zero_point != INT8_MIN:
        raise UnsupportedModelError(
            f"op {op.index} LOGISTIC: output zero point {y.zero_point}, TFLM requires -128")
    return _lut_call(ctx, op, x, y, logistic_table(x.scale, x.zero_point), "logistic")


@lowers(OpKind.TANH, int16=True)
def lower_tanh(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if x.dtype == DType.INT16:
        return _sigmoid_s16_call(ctx, op, x, y, "ek_tanh_s16", pot_shifts=(0, 1))
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    return _lut_call(ctx, op, x, y, tanh_table(x.scale, x.zero_point), "tanh")


@lowers(OpKind.RELU, int16=True)
def lower_relu(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if x.dtype == DType.INT16:
        return _relu_s16(ctx, op, x, y)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    return _lut_call(ctx, op, x, y, relu_table(x.scale, x.zero_point, y.scale, y.zero_point), "relu")


@lowers(OpKind.RELU6, int16=True)
def lower_relu6(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if x.dtype == DType.INT16:
        return _relu_s16(ctx, op, x, y)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    return _lut_call(ctx, op, x, y, relu6_table(x.scale, x.zero_point),
                     "relu6: clamp to [zero, six] in the input's quantization, as TFLM does")


@lowers(OpKind.LEAKY_RELU, int16=True)
def lower_leaky_relu(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if x.dtype == DType.INT16:
        return _relu_s16(ctx, op, x, y)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    opts: LeakyReluOptions = op.options
    table = leaky_relu_table(x.scale, x.zero_point, y.scale, y.zero_point, opts.alpha)
    return _lut_call(ctx, op, x, y, table, f"leaky relu, alpha {opts.alpha:g}")


@lowers(OpKind.HARD_SWISH)
def lower_hard_swish(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    table = hard_swish_table(x.scale, x.zero_point, y.scale, y.zero_point)
    return _lut_call(ctx, op, x, y, table, "hard swish")


@dataclass(frozen=True)
class RequantParams(CStruct):
    C_TYPE = "ek_requant_params"
    size: int
    multiplier: int
    shift: int
    negative_multiplier: int
    negative_shift: int
    input_zero_point: int
    output_zero_point: int
    act_min: int
    act_max: int


TYPE_RANGE = {DType.INT8: (INT8_MIN, INT8_MAX), DType.INT16: (-32768, 32767)}
IDENTITY = (1 << 30, 1)  # requantize() by this pair returns its input exactly


def _requant_call(ctx: LowerCtx, op: Op, x: Tensor, y: Tensor, function: str, slope: tuple[int, int],
                  negative_slope: tuple[int, int] | None = None, act: tuple[int, int] | None = None) -> KernelCall:
    """One of the ``ek_requant_*`` kernels: (multiplier, shift) for inputs at or above the zero
    point, ``negative_slope`` below (default the same), clamped to ``act`` (default the output
    type's range)."""
    nm, ns = negative_slope or slope
    lo, hi = act or TYPE_RANGE[y.dtype]
    params = RequantParams(size=x.num_elements, multiplier=slope[0], shift=slope[1], negative_multiplier=nm,
                           negative_shift=ns, input_zero_point=x.zero_point, output_zero_point=y.zero_point,
                           act_min=lo, act_max=hi)
    return KernelCall(op, function, "ek_quantize.h", params, (ctx.ptr(x), ctx.ptr(y)))


#: QUANTIZE kernels touching int16 (16x8 models), by (input, output) type
REQUANT_16 = {(DType.INT16, DType.INT16): "ek_requant_s16", (DType.INT16, DType.INT8): "ek_requant_s16_s8",
              (DType.INT8, DType.INT16): "ek_requant_s8_s16"}


def _lower_quantize_16(ctx: LowerCtx, op: Op, x: Tensor, y: Tensor) -> KernelCall:
    """QUANTIZE into or out of int16: float32 -> int16, or TFLM's Requantize between int16 and
    int8 or int16 (the multiplier from the double quotient of the scales)."""
    if y.quant is None or (x.dtype != DType.FLOAT32 and x.quant is None):
        raise UnsupportedModelError(f"op {op.index} QUANTIZE: unquantized {x.dtype.name} -> {y.dtype.name}")
    if x.dtype == DType.FLOAT32 and y.dtype == DType.INT16:
        params = QuantizeParams(size=x.num_elements, scale=float(np.float32(y.scale)), zero_point=y.zero_point)
        return KernelCall(op, "ek_quantize_f32_s16", "ek_quantize.h", params, (ctx.ptr(x), ctx.ptr(y)))
    function = REQUANT_16.get((x.dtype, y.dtype))
    if function is None:
        raise UnsupportedModelError(f"op {op.index} QUANTIZE: {x.dtype.name} -> {y.dtype.name}; edgekit "
                                    "requantizes int16 to int8 or int16, and int8 or float32 to int16")
    slope = quantize_multiplier(float(np.float64(np.float32(x.scale)) / np.float64(np.float32(y.scale))))
    return _requant_call(ctx, op, x, y, function, slope)


def _float32_quotient_slope(numerator, denominator) -> tuple[int, int]:
    """QuantizeMultiplier of a quotient TFLM divides in float32 (its activations' Prepare)."""
    return quantize_multiplier(float(np.float32(np.float32(numerator) / np.float32(denominator))))


def _relu_s16(ctx: LowerCtx, op: Op, x: Tensor, y: Tensor) -> KernelCall:
    """RELU, RELU6, LEAKY_RELU on int16 (TFLM's ReluQuantized, Relu6Quantized, QuantizeLeakyRelu)."""
    require_int16(x, "input", op)
    require_int16(y, "output", op)
    if op.kind == OpKind.RELU:
        return _requant_call(ctx, op, x, y, "ek_requant_s16", _float32_quotient_slope(x.scale, y.scale),
                             act=(0, 32767))
    if op.kind == OpKind.RELU6:  # a clamp in the input's quantization, no rescale
        six = min(tfl_round(float(np.float32(np.float32(6.0) / np.float32(x.scale)))), 32767)
        return _requant_call(ctx, op, x, y, "ek_requant_s16", IDENTITY, act=(0, six))
    alpha = op.options.alpha
    if alpha < 0:
        raise UnsupportedModelError(f"op {op.index} LEAKY_RELU: negative alpha {alpha:g} with int16 activations")
    f32 = np.float32
    return _requant_call(ctx, op, x, y, "ek_requant_s16", _float32_quotient_slope(x.scale, y.scale),
                         negative_slope=_float32_quotient_slope(f32(x.scale) * f32(alpha), y.scale))


@lowers(OpKind.QUANTIZE, int16=True)
def lower_quantize(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if DType.INT16 in (x.dtype, y.dtype):
        return _lower_quantize_16(ctx, op, x, y)
    if x.dtype == DType.INT8 and y.dtype == DType.UINT8 and x.quant and y.quant:
        table = requantize_table(x.scale, x.zero_point, y.scale, y.zero_point, out_range=(0, 255))
        return _lut_call(ctx, op, x, y, table.astype(np.uint8).view(np.int8), "requantize to uint8 "
                         "(the table holds the uint8 results' bits)", "ek_lut_s8u8")
    if x.dtype == DType.UINT8 and y.dtype == DType.INT8 and x.quant and y.quant:
        table = requantize_table(x.scale, x.zero_point, y.scale, y.zero_point, inputs=BYTES)
        return _lut_call(ctx, op, x, y, table, "requantize from uint8", "ek_lut_u8s8")
    require_int8(y, "output", op)
    if x.dtype == DType.FLOAT32:
        params = QuantizeParams(size=x.num_elements, scale=float(np.float32(y.scale)),
                                zero_point=y.zero_point)
        return KernelCall(op, "ek_quantize_f32_s8", "ek_quantize.h", params, (ctx.ptr(x), ctx.ptr(y)),
                          overlaps=IN_PLACE)
    if x.dtype == DType.INT8 and x.quant is not None:
        table = requantize_table(x.scale, x.zero_point, y.scale, y.zero_point)
        return _lut_call(ctx, op, x, y, table, "requantize")
    raise UnsupportedModelError(
        f"op {op.index} QUANTIZE: {x.dtype.name} -> {y.dtype.name}; edgekit quantizes float32, "
        "int8 or uint8 to int8 and int8 to uint8")


@lowers(OpKind.DEQUANTIZE, int16=True)
def lower_dequantize(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    if y.dtype != DType.FLOAT32:
        raise UnsupportedModelError(
            f"op {op.index} DEQUANTIZE: output is {y.dtype.name}; edgekit dequantizes int8 and int16 to float32")
    if x.dtype == DType.INT16 and x.quant is not None:
        params = QuantizeParams(size=x.num_elements, scale=float(np.float32(x.scale)), zero_point=x.zero_point)
        return KernelCall(op, "ek_dequantize_s16_f32", "ek_quantize.h", params, (ctx.ptr(x), ctx.ptr(y)))
    require_int8(x, "input", op)
    # TFLM: float(double(scale) * (q - zero_point)); the product is exact in double.
    table = (np.float64(np.float32(x.scale)) * (INT8_INPUTS - x.zero_point)).astype(np.float32)
    params = DequantizeParams(size=x.num_elements,
                              table=ctx.array(op, "table", "float", table,
                                              "dequantized value, indexed by the input byte"))
    return KernelCall(op, "ek_dequantize_s8_f32", "ek_quantize.h", params, (ctx.ptr(x), ctx.ptr(y)))

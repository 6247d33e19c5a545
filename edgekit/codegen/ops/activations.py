"""ELU, GELU, EXP, LOG, SQRT, RSQRT, ABS and RELU_N1_TO_1 on int8: 256-entry lookup tables for the
generic ``ek_lut_s8`` kernel (RELU_N1_TO_1: LiteRT's arithmetic; TFLM has no kernel for it).

ELU (TFLM), GELU, EXP, LOG and SQRT (TFLite; TFLM has none of them in int8, so the tests compare
with LiteRT) build their int8 table in Prepare in float32: dequantize the input byte, apply the function, multiply by the reciprocal of the output
scale, round half away from zero, add the zero point, saturate. ``float_function_table`` does
the same float32 steps; the transcendental function is evaluated in double and rounded to
float32, which is what a correctly rounded ``expf``/``erff``/``tanhf`` returns (glibc's are
within half an ulp but for rare ties: the tests compare every input byte with the interpreter).

RSQRT has integer arithmetic in TFLM (gemmlowp's Newton-Raphson inverse square root and two
requantizations), but its output byte depends only on the input byte, so that arithmetic is run
here over all 256 inputs as well, and so is ABS's (TFLM: |q - zp_in|, requantized only when the
scales differ, plus the output zero point, saturated).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import GeluOptions, Op, OpKind
from ..arith import (
    INT8_MAX,
    INT8_MIN,
    INT32_MAX,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_multiply_by_pot,
    srdhm,
)
from ..lowering import KernelCall, LowerCtx, lowers, require_int8
from .unary import INT8_INPUTS, _io, _lut_call

F32 = np.float32


def _f32(fn: Callable[[float], float]) -> Callable[[np.float32], np.float32]:
    """A float32 libm function: the double result rounded to float32."""
    return lambda v: F32(fn(float(v)))


_expf, _erff, _tanhf = _f32(math.exp), _f32(math.erf), _f32(math.tanh)


def _logf(v: np.float32) -> np.float32:
    """logf: -inf at zero, NaN below (numpy's float64 log, rounded to float32)."""
    return F32(np.log(np.float64(v)))


def elu(v: np.float32) -> np.float32:
    """TFLM's ELU transform, in float32: exp(v) - 1 below zero, v above."""
    return F32(_expf(v) - F32(1.0)) if v < F32(0.0) else v


SQRT_HALF = F32(math.sqrt(0.5))  # TFLite's float constants M_SQRT1_2, sqrt(2 / pi)
SQRT_2_OVER_PI = F32(math.sqrt(2.0 / math.pi))


def gelu(v: np.float32) -> np.float32:
    """TFLite's exact GELU, in float32: 0.5 * v * (1 + erf(v / sqrt(2)))."""
    return F32(F32(F32(0.5) * v) * F32(F32(1.0) + _erff(F32(v * SQRT_HALF))))


def gelu_tanh(v: np.float32) -> np.float32:
    """TFLite's approximate GELU, in float32: 0.5 * v * (1 + tanh(sqrt(2/pi) * (v + 0.044715 v^3)))."""
    cube = F32(F32(F32(F32(0.044715) * v) * v) * v)
    inner = F32(SQRT_2_OVER_PI * F32(v + cube))
    return F32(F32(F32(0.5) * v) * F32(F32(1.0) + _tanhf(inner)))


def float_function_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int,
                         fn: Callable[[np.float32], np.float32], non_finite_min: bool = False) -> np.ndarray:
    """TFLite's int8 lookup table of a float function (TFLM's PopulateLookupTable, TFLite's
    LUTPopulate): every step in float32, the rounding half away from zero.

    ``non_finite_min``: an entry whose value is not finite (LOG at and below zero) or beyond
    int32 takes -128, as TFLite's ``static_cast<int32_t>`` of it gives INT32_MIN on x86 (where
    the LiteRT interpreter compared with runs); else such an entry refuses the model."""
    inverse = F32(1.0) / F32(out_scale)
    table = []
    for q in INT8_INPUTS:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            real = fn(F32(F32(in_scale) * F32(int(q) - in_zp)))
            rescaled = float(F32(real * inverse))
        if not math.isfinite(rescaled) or abs(rescaled) >= 2.0**31:
            if not non_finite_min:
                raise UnsupportedModelError(f"lookup table entry for input {q} is not finite")
            table.append(INT8_MIN)
            continue
        rounded = math.floor(abs(rescaled) + 0.5) * (1 if rescaled >= 0 else -1)
        table.append(int(np.clip(float(F32(F32(rounded) + F32(out_zp))), INT8_MIN, INT8_MAX)))
    return np.array(table, dtype=np.int64)


# ---------------------------------------------------------------------------- RSQRT


def inv_sqrt_multiplier(value: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(value, kReverseShift): 1 / sqrt(value) as a Q31
    multiplier and a left shift (negative: right), by five Newton-Raphson steps in gemmlowp's
    FixedPoint<int32, 3>."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (31 - value.bit_length()) // 2 - 1  # (leading zeros - 1) // 2, less one
    shift -= pairs
    value <<= 2 * pairs
    x_in = value >> 1
    half_x = int(rounding_divide_by_pot(x_in, 1))
    three_halves = (1 << 28) + (1 << 27)
    x = 1 << 28  # one, with 3 integer bits
    for _ in range(5):
        x3 = int(saturating_rounding_multiply_by_pot(srdhm(srdhm(x, x), x), 6))
        diff = int(srdhm(three_halves, x)) - int(srdhm(half_x, x3))
        x = int(saturating_rounding_multiply_by_pot(diff, 3))
    x = int(srdhm(x, 1518500250))  # times sqrt(2) / 2
    if shift < 0:
        x <<= -shift
        shift = 0
    return x, -shift


RSQRT_SHIFT = 20  # TFLM's kShift: 1 / sqrt(value) is held as an integer times 2**20


def rsqrt_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM's int8 RSQRT. Inputs below the zero point (negative reals) make TFLM fail the
    invoke; their entries hold 127, as for the input at the zero point."""
    real = 1.0 / float(F32(np.sqrt(F32(in_scale)) * F32(out_scale)))
    m, s = quantize_multiplier(real)
    table = []
    for q in INT8_INPUTS:
        value = int(q) - in_zp
        if value <= 0:
            table.append(INT8_MAX)
            continue
        im, ishift = inv_sqrt_multiplier(value)
        data = multiply_by_quantized_multiplier(1, im, ishift + RSQRT_SHIFT)
        out = int(multiply_by_quantized_multiplier(data, m, s - RSQRT_SHIFT)) + out_zp
        table.append(min(max(out, INT8_MIN), INT8_MAX))
    return np.array(table, dtype=np.int64)


# ---------------------------------------------------------------------------- ABS


def abs_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM's int8 ABS (AbsEvalQuantized): the multiplier from the float32 quotient of the
    scales, converted to double; no multiplication at all when the scales are equal."""
    value = np.abs(INT8_INPUTS - in_zp)
    if F32(in_scale) != F32(out_scale):
        m, s = quantize_multiplier(float(F32(F32(in_scale) / F32(out_scale))))
        value = multiply_by_quantized_multiplier(value, m, s)
    return np.clip(value + out_zp, INT8_MIN, INT8_MAX)


# ---------------------------------------------------------------------------- SQRT


def sqrt_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LiteRT's int8 SQRT (TFLM has none): the input dequantized in float32, sqrtf (correctly
    rounded, as IEEE requires), divided by the output scale in float32 and *truncated* toward
    zero, plus the zero point, saturated. LiteRT fails the invoke on an input below its zero
    point; those entries hold the output zero point (the square root of zero)."""
    table = []
    for q in INT8_INPUTS:
        real = F32(F32(in_scale) * F32(int(q) - in_zp))
        if real < 0:
            table.append(min(max(out_zp, INT8_MIN), INT8_MAX))
            continue
        scaled = float(F32(np.sqrt(real) / F32(out_scale)))
        table.append(min(max(int(min(scaled, 2.0**31 - 1)) + out_zp, INT8_MIN), INT8_MAX))
    return np.array(table, dtype=np.int64)


# ---------------------------------------------------------------------------- RELU_N1_TO_1


def relu_n1_to_1_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LiteRT's int8 RELU_N1_TO_1 (QuantizedReluX(-1, 1), TFLM has no kernel): requantize by the
    float32 quotient of the scales, then clamp to the output's -1 and 1, each the zero point plus
    roundf(+-1 / output scale)."""
    m, s = quantize_multiplier(float(F32(F32(in_scale) / F32(out_scale))))
    step = math.floor(abs(float(F32(1.0) / F32(out_scale))) + 0.5)
    lo, hi = max(INT8_MIN, out_zp - step), min(INT8_MAX, out_zp + step)
    return np.clip(multiply_by_quantized_multiplier(INT8_INPUTS - in_zp, m, s) + out_zp, lo, hi)


# ---------------------------------------------------------------------------- lowerings


@lowers(OpKind.ELU, OpKind.GELU, OpKind.RSQRT, OpKind.ABS, OpKind.EXP, OpKind.LOG, OpKind.SQRT,
        OpKind.RELU_N1_TO_1)
def lower_lut_activation(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    scales = (x.scale, x.zero_point, y.scale, y.zero_point)
    if op.kind == OpKind.RSQRT:
        return _lut_call(ctx, op, x, y, rsqrt_table(*scales), "rsqrt (127 at and below the zero point)")
    if op.kind == OpKind.ABS:
        return _lut_call(ctx, op, x, y, abs_table(*scales), "abs")
    if op.kind == OpKind.RELU_N1_TO_1:
        return _lut_call(ctx, op, x, y, relu_n1_to_1_table(*scales), "relu clamped to [-1, 1]")
    if op.kind == OpKind.EXP:
        return _lut_call(ctx, op, x, y, float_function_table(*scales, _expf), "exp")
    if op.kind == OpKind.LOG:
        return _lut_call(ctx, op, x, y, float_function_table(*scales, _logf, non_finite_min=True),
                         "log (-128 at and below zero)")
    if op.kind == OpKind.SQRT:
        return _lut_call(ctx, op, x, y, sqrt_table(*scales), "sqrt (the zero point below zero)")
    if op.kind == OpKind.ELU:
        return _lut_call(ctx, op, x, y, float_function_table(*scales, elu), "elu")
    opts: GeluOptions = op.options
    fn, what = (gelu_tanh, "gelu, tanh approximation") if opts.approximate else (gelu, "gelu (erf)")
    return _lut_call(ctx, op, x, y, float_function_table(*scales, fn), what)

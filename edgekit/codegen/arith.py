"""Quantization arithmetic, computed once at generation time exactly as TFLite/TFLM do.

The device never sees a float scale: it gets the (multiplier, shift) pairs, clamp bounds and
folded offsets computed here. The integer helpers (``srdhm``, ``rounding_divide_by_pot``,
``multiply_by_quantized_multiplier``) mirror the C ones in ``firmware/include/ek_common.h`` so
that lookup tables and folded constants can be computed in Python with identical results.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ..errors import UnsupportedModelError
from ..ir import Activation, Tensor

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def tfl_round(x: float) -> int:
    """C's ``round``: halves away from zero (Python's ``round`` rounds halves to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as a Q31 fixed-point multiplier and a power-of-two shift.

    ``real ~= multiplier * 2**(shift - 31)``; shift > 0 is a left shift. Mirrors TFLite's
    ``QuantizeMultiplier``.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tfl_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """As :func:`quantize_multiplier`, for 0 < real < 1 (shift <= 0)."""
    assert 0.0 < real < 1.0, real
    return quantize_multiplier(real)


def activation_range(act: Activation, scale: float, zero_point: int,
                     qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """Clamp bounds of a fused activation in the quantized domain (TFLite's
    ``CalculateActivationRangeQuantized``)."""

    def q(x: float) -> int:
        # TFLite divides in float32 (float f / float scale), then rounds half away from zero
        return zero_point + tfl_round(float(np.float32(x) / np.float32(scale)))

    if act == Activation.NONE:
        return qmin, qmax
    if act == Activation.RELU:
        return max(qmin, q(0.0)), qmax
    if act == Activation.RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == Activation.RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))

    raise UnsupportedModelError(f"fused activation {act.name} is not supported")


INT16_MIN, INT16_MAX = -32768, 32767


def tensor_activation_range(act: Activation, t: Tensor) -> tuple[int, int]:
    """Clamp bounds for an int8 tensor, or an int16 one (the 16x8 scheme)."""
    if t.dtype.name == "INT16":
        return activation_range(act, t.scale, t.zero_point, INT16_MIN, INT16_MAX)
    return activation_range(act, t.scale, t.zero_point)


def reduced_multiplier(multiplier: int, shift: int) -> tuple[int, int]:
    """TFLM's MultiplyByQuantizedMultiplier for a 64-bit accumulator (the 16x8 kernels) as a
    (16-bit multiplier, right shift) pair: the Q31 multiplier rounded to Q15, saturating at
    0x7FFF, and the total right shift ``15 - shift`` (``ek_requantize_s64``)."""
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    return reduced, 15 - shift


# ---------------------------------------------------------------------------- integer helpers
# Vectorised over numpy int64 arrays; the results fit int32 as on the device.


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul on int32 values (numpy or int)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C integer division truncates toward zero
    res = np.where(s >= 0, s >> 31, -((-s) >> 31))
    return np.where(overflow, INT32_MAX, res).astype(np.int64)


def rounding_divide_by_pot(x, exponent):
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's MultiplyByQuantizedMultiplier (double rounding, as TFLM builds it)."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, dtype=np.int64) * (np.int64(1) << left)
    return rounding_divide_by_pot(srdhm(x, multiplier), right)


# ---------------------------------------------------------------------------- gemmlowp fixed point
# The fixed-point math TFLM's int8 SOFTMAX uses (gemmlowp's FixedPoint<int32_t, N>): a value
# with N integer bits is raw / 2**(31 - N). Vectorised over int32 raw values held in int64.


def saturating_rounding_multiply_by_pot(x, exponent: int):
    """x * 2**exponent: saturating left shift (exponent > 0) or rounding right shift."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _exp_on_quarter_interval(a):
    """exp(a) for a in [-1/4, 0), a and result in Q0.31 (gemmlowp's Taylor series about -1/8)."""
    constant_term, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    tail = rounding_divide_by_pot(srdhm(x4_over_4 + x3, one_third) + x2, 1)
    return constant_term + srdhm(constant_term, x + tail)


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int):
    """gemmlowp's exp_on_negative_values: ``a`` raw values with ``integer_bits`` integer bits
    (a <= 0), result raw Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    frac_bits = 31 - integer_bits
    quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    result = _exp_on_quarter_interval(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (frac_bits + exponent))) != 0
            result = np.where(bit, srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def softmax_input_scaling(beta: float, input_scale: float, integer_bits: int = 5) -> tuple[int, int, int]:
    """TFLite's PreprocessSoftmaxScaling + CalculateInputRadius for int8 SOFTMAX:
    (input_beta_multiplier, input_beta_left_shift, diff_min). Double-rounding build: the
    multiplier is capped at 2**31 - 1 and the left shift is not saturated at 30."""
    real = min(float(np.float64(np.float32(beta))) * float(np.float64(np.float32(input_scale)))
               * float(1 << (31 - integer_bits)), float((1 << 31) - 1))
    if real <= 1.0:  # TFLM's QuantizeMultiplierGreaterThanOne check
        raise ValueError("softmax input scaling not above one")
    q, shift = math.frexp(real)
    q_fixed = tfl_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    radius = math.floor(1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << shift))
    return int(q_fixed), int(shift), -int(radius)


# ---------------------------------------------------------------------------- logistic, tanh
# gemmlowp's logistic and tanh, as TFLM's int8 LOGISTIC and TANH call them on FixedPoint<int32_t,
# 4> inputs (raw Q4.27); results raw Q0.31.


def _rounding_half_sum(a, b):
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))  # C division truncates toward zero


def _newton_inverse(half_denominator):
    """gemmlowp's three Newton-Raphson steps towards 1 / half_denominator (raw Q2.29)."""
    x = 1515870810 + srdhm(half_denominator, -1010580540)  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus_dx = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_rounding_multiply_by_pot(srdhm(x, one_minus_dx), 2)
    return x


def logistic_q4(a):
    """gemmlowp::logistic of raw Q4.27 values; raw Q0.31 result."""
    a = np.asarray(a, dtype=np.int64)
    magnitude = np.where(a > 0, a, -a)
    e = exp_on_negative_values(-magnitude, 4)
    positive = saturating_rounding_multiply_by_pot(_newton_inverse(_rounding_half_sum(e, INT32_MAX)), 1)
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, INT32_MAX - positive))


def tanh_q4(a):
    """gemmlowp::tanh of raw Q4.27 values; raw Q0.31 result."""
    a = np.asarray(a, dtype=np.int64)
    negative = np.where(a < 0, a, -a)
    e = exp_on_negative_values(negative, 5)  # exp(2x): the same raw value read as Q5.26
    t = saturating_rounding_multiply_by_pot(_newton_inverse(_rounding_half_sum(e, INT32_MAX)) - (1 << 29), 2)
    return np.where(a == 0, 0, np.where(a < 0, -t, t))


def max_abs_acc(bias: np.ndarray, w_rows: np.ndarray, input_bound: int = 128) -> np.ndarray:
    """Bound of |bias' + sum_k x_k * w_k| for int8 x (padding taps read an int8 zero point), or
    |x| <= ``input_bound`` (32768 for int16), per row of ``w_rows`` (one output channel's weights)."""
    return np.abs(np.asarray(bias, np.int64)) + input_bound * np.abs(np.asarray(w_rows, np.int64)).sum(axis=1)


def check_accumulator(where: str, bound: np.ndarray, reals, acc_bits: int = 32) -> None:
    """Refuse a layer whose int32 accumulator (``bound``: ``max_abs_acc`` per channel), or that
    accumulator requantized by its real multiplier (``reals``), could leave int32: TFLM's integer
    arithmetic overflows there too, so no output is defined. ``acc_bits``: the accumulator's
    range (48 for the 16x8 kernels' int64 one, whose product with the multiplier must fit)."""
    if bound.max(initial=0) >= 1 << (acc_bits - 1):
        raise UnsupportedModelError(f"{where}: its accumulator could overflow int{acc_bits}")
    reals = np.asarray(reals, np.float64)
    if (bound * reals).max(initial=0) + 256 >= INT32_MAX:
        raise UnsupportedModelError(f"{where}: its requantized outputs could overflow int32 "
                                    f"(a scale ratio of {reals.max():.3g})")


# ---------------------------------------------------------------------------- int16 lookup tables
# TFLM's LUTPopulate<int16_t> (kernels/internal/common.h): 513 entries, the high 9 bits of an
# int16 index the table and the low 7 interpolate (ek_lut_s16 in ek_common.h). Every step in
# float32 as TFLM's float instantiation computes it; the transform's exp is the C library's
# expf, the function TFLM calls.

LUT16_SIZE = 513


_LIBM: dict[str, object] = {}


def _libm_f32(name: str, x) -> np.float32:
    """The C library's float function ``name`` (``expf``, ``logf``) at ``x``: the function TFLM
    calls (numpy's float32 versions may differ from it in the last bit)."""
    if name not in _LIBM:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6"), name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        _LIBM[name] = fn
    return np.float32(_LIBM[name](float(x)))


def expf(x) -> np.float32:
    return _libm_f32("expf", x)


def checked_log2(x: float) -> tuple[int, bool]:
    """TFLite's CheckedLog2, in float32: (log2 of x rounded, whether x is that power of two
    within 1e-3 of an exponent)."""
    f32 = np.float32
    log2 = f32(_libm_f32("logf", f32(x)) * f32(f32(1.0) / _libm_f32("logf", f32(2.0))))
    rounded = f32(tfl_round(float(log2)))
    return int(rounded), bool(abs(float(f32(log2 - rounded))) < float(f32(1e-3)))


def one_over_one_plus(x) -> np.float32:
    f32 = np.float32
    return f32(f32(1.0) / f32(f32(1.0) + f32(x)))


def lut_populate_int16(transform, input_scale, input_zero_point: int, output_scale,
                       output_zero_point: int) -> np.ndarray:
    """TFLM's ``LUTPopulateInt16<float>``: ``transform`` maps a float32 to a float32."""
    f32 = np.float32
    input_scale, output_scale = f32(input_scale), f32(output_scale)
    input_min = f32(input_scale * f32(-32768 - input_zero_point))
    input_max = f32(input_scale * f32(32767 - input_zero_point))
    output_min = f32(output_scale * f32(-32768 - output_zero_point))
    output_max = f32(output_scale * f32(32767 - output_zero_point))
    steps = 512
    step = f32(f32(input_max - input_min) / f32(steps))
    half_step = f32(step / f32(2))
    inv = f32(f32(65536) / f32(output_max - output_min))

    def rnd(v) -> np.float32:  # TfLiteRound on a float: half away from zero
        return f32(tfl_round(float(v)))

    def clamp16(v) -> int:
        return int(min(max(float(v), -32768.0), 32767.0))

    lut = np.zeros(LUT16_SIZE, np.int64)
    for i in range(steps):
        at = f32(input_min + f32(f32(i) * step))
        val = transform(at)
        val_mid = transform(f32(at + half_step))
        val_next = transform(f32(input_min + f32(f32(i + 1) * step)))
        sample = rnd(f32(val * inv))
        interp = rnd(f32(f32(f32(val_next * inv) + sample) / f32(2)))
        mid = rnd(f32(val_mid * inv))
        bias = rnd(f32(f32(interp - mid) / f32(2)))
        lut[i] = clamp16(f32(sample - bias))
    lut[steps] = clamp16(rnd(f32(transform(input_max) * inv)))
    return lut


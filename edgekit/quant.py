"""Quantization arithmetic, computed once at generation time exactly as TFLite/TFLM do.

The device never sees a float scale: it gets the (multiplier, shift) pairs, clamp bounds and
folded offsets computed here. The integer helpers (``srdhm``, ``rounding_divide_by_pot``,
``multiply_by_quantized_multiplier``) mirror the C ones in ``firmware/include/ek_common.h`` so
that lookup tables and folded constants can be computed in Python with identical results.
"""

from __future__ import annotations

import math

import numpy as np

from .ir import Activation, Tensor

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
        return zero_point + tfl_round(x / scale)

    if act == Activation.NONE:
        return qmin, qmax
    if act == Activation.RELU:
        return max(qmin, q(0.0)), qmax
    if act == Activation.RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == Activation.RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    from .errors import UnsupportedModelError

    raise UnsupportedModelError(f"fused activation {act.name} is not supported")


def tensor_activation_range(act: Activation, t: Tensor) -> tuple[int, int]:
    return activation_range(act, t.scale, t.zero_point)


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

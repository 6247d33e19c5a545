"""The 16x8 scheme's accumulator (int16 activations, int8 weights): what CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED share.

TFLM accumulates in the bias's type. With an int64 bias (what the converter emits) the sum is
int64 and requantized by the 64-bit ``MultiplyByQuantizedMultiplier``, whose multiplier is
rounded to 16 bits (``arith.reduced_multiplier``); with an int32 bias (the converter's
``_experimental_full_integer_quantization_bias_type``) it is int32 and takes the 32-bit rule of
the int8 kernels. The kernels' ``wide`` field says which (``ek_requantize_acc`` in ek_common.h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, Tensor
from ..arith import check_accumulator, max_abs_acc, quantize_multiplier, reduced_multiplier
from ..lowering import CArray, LowerCtx

@dataclass(frozen=True)
class Accumulator16x8:
    bias: CArray  # int64_t, one per output channel
    multiplier: CArray  # reduced (wide) or Q31 multipliers
    shift: CArray  # right shifts (wide) or TFLite's shifts
    wide: int  # 1: int64 bias and accumulator; 0: int32


def accumulator_16x8(ctx: LowerCtx, op: Op, b: Tensor | None, w_rows: np.ndarray, reals,
                     int32_bias: bool = True, input_zero_point: int = 0) -> Accumulator16x8:
    """Bias, requantization and accumulator width of a 16x8 operator: ``w_rows`` one row of
    weights per output channel, ``reals`` the real multiplier of each (as TFLM computes it);
    ``int32_bias``: whether TFLM has an int32-bias path for the operator; ``input_zero_point``
    (FULLY_CONNECTED, whose TFLM kernel adds the input offset to every input): folded into the
    bias, -zero point times the row sum, as exact in the accumulator's width."""
    where = f"op {op.index} {op.type_name}"
    channels = w_rows.shape[0]
    if b is None:
        bias, wide = np.zeros(channels, np.int64), 1
    else:
        if not b.is_constant or b.num_elements != channels or b.dtype not in (DType.INT64, DType.INT32):
            raise UnsupportedModelError(f"{where}: bias must be constant int64 (or int32), {channels} values")
        if b.dtype == DType.INT32 and not int32_bias:
            raise UnsupportedModelError(f"{where}: int32 bias with int16 activations (TFLM reads int64 here)")
        bias, wide = b.data.astype(np.int64).reshape(-1), int(b.dtype == DType.INT64)
    bias = bias - input_zero_point * w_rows.astype(np.int64).sum(axis=1)
    # TFLM asserts |acc| < 2^47 for the 64-bit rule
    check_accumulator(where, max_abs_acc(bias, w_rows, input_bound=32768 + abs(input_zero_point)), reals,
                      acc_bits=48 if wide else 32)
    qs = [quantize_multiplier(r) for r in reals]
    if len(qs) == 1:
        qs = qs * channels
    if wide:
        if any(s >= 8 for _, s in qs):
            raise UnsupportedModelError(f"{where}: a scale ratio above 2^7 (TFLM's 16x8 requantization takes less)")
        qs = [reduced_multiplier(m, s) for m, s in qs]
    return Accumulator16x8(
        bias=ctx.array(op, "bias", "int64_t", bias, "bias (int64)"),
        multiplier=ctx.array(op, "multiplier", "int32_t", [m for m, _ in qs]),
        shift=ctx.array(op, "shift", "int32_t", [s for _, s in qs]),
        wide=wide)

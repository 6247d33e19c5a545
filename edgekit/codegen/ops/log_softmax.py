"""LOG_SOFTMAX, int8 in and out, with TFLM's integer algorithm (``ek_log_softmax.h``).

TFLM's Prepare: the input scaling to Q5.26 and the input radius as for SOFTMAX with beta 1
(``arith.softmax_input_scaling``), and the reverse scaling divisor that brings a Q5.26 value back
to the input's scale (PreprocessLogSoftmaxScalingExp). The scaled difference and its exp depend
only on d = row max - x, so both are tables; the log of each row's sum is computed on the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Op, OpKind
from ..arith import exp_on_negative_values, quantize_multiplier, rounding_divide_by_pot, softmax_input_scaling, srdhm
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8
from .softmax import SCALED_DIFF_INTEGER_BITS
from .unary import IN_PLACE, _io

SUM_INTEGER_BITS = 12  # the sum of exps is Q12.19
OUTPUT_SCALE, OUTPUT_ZERO_POINT = 16.0 / 256, 127  # TFLM's Prepare insists on these

LOG_SOFTMAX_KERNELS = (portable("ek_log_softmax_s8"),)


@dataclass(frozen=True)
class LogSoftmaxParams(CStruct):
    C_TYPE = "ek_log_softmax_params"
    rows: int
    depth: int
    table_len: int
    diff_min: int
    reverse_multiplier: int
    reverse_shift: int
    exp_table: CArray
    diff_table: CArray


def log_softmax_tables(input_scale: float) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """(exp table in Q12.19, scaled difference table in Q5.26, diff_min, reverse multiplier,
    reverse shift) for d = 0 .. min(255, -diff_min), as TFLM computes them."""
    multiplier, left_shift, diff_min = softmax_input_scaling(1.0, input_scale, SCALED_DIFF_INTEGER_BITS)
    reverse = float(1 << (31 - left_shift)) / multiplier
    if not 0.0 < reverse < 1.0:
        raise ValueError("reverse scaling not below one")
    reverse_multiplier, reverse_shift = quantize_multiplier(reverse)
    d = np.arange(min(256, 1 - diff_min), dtype=np.int64)
    scaled = srdhm(-d * (1 << left_shift), multiplier)  # MultiplyByQuantizedMultiplier, left shift
    exps = rounding_divide_by_pot(exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS), SUM_INTEGER_BITS)
    return exps, scaled, diff_min, reverse_multiplier, reverse_shift


@lowers(OpKind.LOG_SOFTMAX)
def lower_log_softmax(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    where = f"op {op.index} LOG_SOFTMAX"
    if np.float32(y.scale) != np.float32(OUTPUT_SCALE) or y.zero_point != OUTPUT_ZERO_POINT:
        raise UnsupportedModelError(f"{where}: output quantization must be scale 16/256, zero point 127")
    if not x.shape or x.shape != y.shape:
        raise UnsupportedModelError(f"{where}: input and output shapes differ or are scalar")
    try:
        exps, scaled, diff_min, reverse_m, reverse_s = log_softmax_tables(x.scale)
    except ValueError:  # TFLM's Prepare fails the same way
        raise UnsupportedModelError(f"{where}: input scale {x.scale:g} is out of the range TFLM handles") from None
    depth = x.shape[-1]
    params = LogSoftmaxParams(
        rows=x.num_elements // depth if depth else 0, depth=depth, table_len=len(exps), diff_min=diff_min,
        reverse_multiplier=reverse_m, reverse_shift=reverse_s,
        exp_table=ctx.array(op, "exp", "int32_t", exps, f"exp(-scale * d) in Q12.19, scale {x.scale:g}"),
        diff_table=ctx.array(op, "diff", "int32_t", scaled, f"-scale * d in Q5.26, scale {x.scale:g}"))
    call = KernelCall(op, "ek_log_softmax_s8", "ek_log_softmax.h", params, (ctx.ptr(x), ctx.ptr(y)),
                      overlaps=IN_PLACE)
    return choose(LOG_SOFTMAX_KERNELS, ctx, call)

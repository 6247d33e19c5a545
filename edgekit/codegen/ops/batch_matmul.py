"""BATCH_MATMUL (Keras ``Dot``, ``keras.ops.matmul``, attention scores), int8 (``ek_batch_matmul.h``).

TFLM's arithmetic: ``sum_k (lhs - lhs_zp) * (rhs - rhs_zp)`` in int32, requantized by one
per-tensor multiplier -- kernel_util's ``GetQuantizedConvolutionMultipler`` without a bias, whose
two input scales are multiplied in float32 before the quotient is taken in double -- offset and
clamped to int8 (BATCH_MATMUL has no fused activation). Operands of rank 2 to 5 broadcast over
their leading (batch) axes; adj_x / adj_y read an operand transposed, which the kernel does
through strides, with no transposed copy (TFLM keeps one in scratch).

int16 (the 16x8 scheme, where both operands are activations): TFLM's int16 path sums in int64
(zero points 0) and requantizes with the 64-bit ``MultiplyByQuantizedMultiplier`` (the
multiplier reduced to 16 bits, ``arith.reduced_multiplier``); ``ek_batch_matmul_s16``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import BatchMatMulOptions, DType, Op, OpKind
from ..arith import check_accumulator, quantize_multiplier, reduced_multiplier
from ..lowering import (Candidate, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable, require_int8,
                        require_int16)
from .dsp_batch_matmul import batch_matmul_dsp_applies, lower_batch_matmul_dsp


@dataclass(frozen=True)
class BatchMatMulParams(CStruct):
    C_TYPE = "ek_batch_matmul_params"
    batch: tuple[int, int, int]
    lhs_batch_stride: tuple[int, int, int]
    rhs_batch_stride: tuple[int, int, int]
    rows: int
    cols: int
    depth: int
    lhs_row_stride: int
    lhs_depth_stride: int
    rhs_depth_stride: int
    rhs_col_stride: int
    lhs_offset: int
    rhs_offset: int
    output_offset: int
    multiplier: int
    shift: int


BATCH_MATMUL_KERNELS = kernel_table(
    (OpKind.BATCH_MATMUL,),
    Candidate("ek_batch_matmul_dsp_s8", batch_matmul_dsp_applies, lower_batch_matmul_dsp),
    portable("ek_batch_matmul_s8"),
)
BATCH_MATMUL_S16_KERNELS = (portable("ek_batch_matmul_s16"),)


def _batch_strides(shape: tuple[int, ...], out_batch: tuple[int, int, int], where: str) -> tuple[int, int, int]:
    """Element strides of an operand's three batch axes (extended to rank 5), 0 where it broadcasts."""
    ext = (1,) * (5 - len(shape)) + tuple(shape)
    matrix = ext[3] * ext[4]
    strides, step = [0, 0, 0], matrix
    for a in (2, 1, 0):
        if ext[a] != out_batch[a] and ext[a] != 1:
            raise UnsupportedModelError(f"{where}: batch axes {list(shape[:-2])} do not broadcast")
        strides[a] = step if ext[a] != 1 else 0
        step *= ext[a]
    return tuple(strides)


@lowers(OpKind.BATCH_MATMUL, int16=True)
def lower_batch_matmul(ctx: LowerCtx, op: Op) -> KernelCall:
    where = f"op {op.index} BATCH_MATMUL"
    opts: BatchMatMulOptions = op.options
    lhs, rhs = ctx.graph.op_inputs(op)
    y = ctx.graph.op_outputs(op)[0]
    s16 = lhs.dtype == DType.INT16
    require = require_int16 if s16 else require_int8
    for what, t in (("left operand", lhs), ("right operand", rhs), ("output", y)):
        require(t, what, op)
        if t.quant is None or len(t.quant.scale) != 1:
            raise UnsupportedModelError(f"{where}: the {what} must be quantized per tensor")
    if not (2 <= len(lhs.shape) <= 5 and 2 <= len(rhs.shape) <= 5):
        raise UnsupportedModelError(f"{where}: operands of rank {len(lhs.shape)} and {len(rhs.shape)} (2 to 5 run)")
    lr, lc = lhs.shape[-2:]
    rr, rc = rhs.shape[-2:]
    rows, depth = (lc, lr) if opts.adj_x else (lr, lc)
    rdepth, cols = (rc, rr) if opts.adj_y else (rr, rc)
    if depth != rdepth:
        raise UnsupportedModelError(f"{where}: {depth} and {rdepth} elements to sum over do not match")
    ext_l = (1,) * (5 - len(lhs.shape)) + tuple(lhs.shape)
    ext_r = (1,) * (5 - len(rhs.shape)) + tuple(rhs.shape)
    batch = tuple(max(a, b) for a, b in zip(ext_l[:3], ext_r[:3]))
    out_shape = (1,) * (5 - len(y.shape)) + tuple(y.shape)
    if out_shape != (*batch, rows, cols):
        raise UnsupportedModelError(f"{where}: output {list(y.shape)}, the operands give {[*batch, rows, cols]}")
    # float32 product of the two input scales, then the quotient in double (see the module's note)
    real = float(np.float64(np.float32(lhs.scale) * np.float32(rhs.scale)) / np.float64(np.float32(y.scale)))
    # |a - zp| <= 255 for int8 operands: the sum stays within depth * 255^2; int16: 32768^2 per term,
    # in TFLM's int64 accumulator, whose 64-bit requantization asserts |acc| < 2^47
    if s16:
        check_accumulator(where, np.array([depth * 32768 * 32768], np.int64), [real], acc_bits=48)
    else:
        check_accumulator(where, np.array([depth * 255 * 255], np.int64), [real])
    multiplier, shift = quantize_multiplier(real)
    if s16:
        if shift >= 8:
            raise UnsupportedModelError(f"{where}: a scale ratio above 2^7 (TFLM's 64-bit requantization takes less)")
        multiplier, shift = reduced_multiplier(multiplier, shift)
    params = BatchMatMulParams(
        batch=batch, lhs_batch_stride=_batch_strides(lhs.shape, batch, where),
        rhs_batch_stride=_batch_strides(rhs.shape, batch, where), rows=rows, cols=cols, depth=depth,
        lhs_row_stride=1 if opts.adj_x else lc, lhs_depth_stride=lc if opts.adj_x else 1,
        rhs_depth_stride=1 if opts.adj_y else rc, rhs_col_stride=rc if opts.adj_y else 1,
        lhs_offset=-lhs.zero_point, rhs_offset=-rhs.zero_point, output_offset=y.zero_point,
        multiplier=multiplier, shift=shift)
    call = KernelCall(op, "ek_batch_matmul_s16" if s16 else "ek_batch_matmul_s8", "ek_batch_matmul.h", params,
                      (ctx.ptr(lhs), ctx.ptr(rhs), ctx.ptr(y)))
    return choose(BATCH_MATMUL_S16_KERNELS if s16 else BATCH_MATMUL_KERNELS, ctx, call)

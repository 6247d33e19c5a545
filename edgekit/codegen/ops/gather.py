"""GATHER (``ek_gather.h``): blocks of an int8 tensor picked along one axis by int32 indices.

No arithmetic: TFLM copies the bytes without looking at the quantization. Constant indices
(int32, or int64 that fit int32) become a constant int32 array, checked against the axis here;
indices computed at run time must be int32, as TFLM requires, and the kernel fills the block of
an out-of-range one with the output's zero point. ``batch_dims`` other than 0 is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, GatherOptions, Op, OpKind
from ..lowering import CStruct, KernelCall, LowerCtx, choose, exact_inputs, lowers, portable, short_name
from .movement import _int8_io


@dataclass(frozen=True)
class GatherParams(CStruct):
    C_TYPE = "ek_gather_params"
    outer: int  # product of the input dimensions before the axis
    axis_size: int
    inner: int  # bytes per block: product of the input dimensions after the axis
    num_indices: int
    fill: int  # the output's zero point, for an out-of-range index


GATHER_KERNELS = (portable("ek_gather_s8"),)


@lowers(OpKind.GATHER)
def lower_gather(ctx: LowerCtx, op: Op) -> KernelCall:
    idx = exact_inputs(ctx, op, 2)[1]
    x, y = _int8_io(ctx, op)
    opts: GatherOptions = op.options
    rank = len(x.shape)
    axis = opts.axis + rank if opts.axis < 0 else opts.axis
    if not 0 <= axis < rank:
        raise UnsupportedModelError(f"op {op.index} GATHER: axis {opts.axis} out of range for rank {rank}")
    if opts.batch_dims != 0:
        raise UnsupportedModelError(f"op {op.index} GATHER: batch_dims {opts.batch_dims}; edgekit takes 0")
    expected = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    if y.shape != expected:
        raise UnsupportedModelError(f"op {op.index} GATHER: output shape {y.shape}, expected {expected}")
    if idx.is_constant:
        if idx.dtype not in (DType.INT32, DType.INT64):
            raise UnsupportedModelError(f"op {op.index} GATHER: indices are {idx.dtype.name}, not int32 or int64")
        values = np.asarray(idx.data).reshape(-1)
        if values.size and not (0 <= values.min() and values.max() < x.shape[axis]):
            raise UnsupportedModelError(
                f"op {op.index} GATHER: an index outside 0..{x.shape[axis] - 1} (TFLM's result is undefined)")
        indices = ctx.array(op, "indices", "int32_t", values, comment=f"{short_name(idx.name)} as int32")
    elif idx.dtype != DType.INT32:
        raise UnsupportedModelError(f"op {op.index} GATHER: indices are {idx.dtype.name}; TFLM takes int32")
    else:
        indices = ctx.ptr(idx)
    params = GatherParams(outer=math.prod(x.shape[:axis]), axis_size=x.shape[axis],
                          inner=math.prod(x.shape[axis + 1:]), num_indices=idx.num_elements,
                          fill=y.zero_point)
    call = KernelCall(op, "ek_gather_s8", "ek_gather.h", params, (ctx.ptr(x), indices, ctx.ptr(y)))
    return choose(GATHER_KERNELS, ctx, call)

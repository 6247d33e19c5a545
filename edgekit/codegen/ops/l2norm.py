"""L2_NORMALIZATION on int8 over the last dimension (``ek_l2norm.h``).

TFLM computes the inverse square root of each row's sum of squares at run time (integer
Newton-Raphson), so the kernel does too; there is nothing to compute here beyond the zero point.
Its Prepare accepts at most 4 dimensions and no fused activation; it assumes the output's
quantization (1/128, zero point 0) without reading it, and so does the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import Activation, ElementwiseOptions, Op, OpKind
from ..lowering import CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8
from .unary import IN_PLACE, _io

L2_NORMALIZATION_KERNELS = (portable("ek_l2norm_s8"),)


@dataclass(frozen=True)
class L2NormParams(CStruct):
    C_TYPE = "ek_l2norm_params"
    rows: int
    depth: int
    input_offset: int


@lowers(OpKind.L2_NORMALIZATION)
def lower_l2norm(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _io(ctx, op)
    require_int8(x, "input", op)
    require_int8(y, "output", op)
    opts: ElementwiseOptions = op.options
    if opts.activation != Activation.NONE:
        raise UnsupportedModelError(
            f"op {op.index} L2_NORMALIZATION: fused {opts.activation.name}; TFLM takes none")
    if not 1 <= len(x.shape) <= 4:
        raise UnsupportedModelError(f"op {op.index} L2_NORMALIZATION: {len(x.shape)}-D input; TFLM takes 1-D to 4-D")
    depth = x.shape[-1]
    params = L2NormParams(rows=x.num_elements // depth if depth else 0, depth=depth, input_offset=-x.zero_point)
    call = KernelCall(op, "ek_l2norm_s8", "ek_l2norm.h", params, (ctx.ptr(x), ctx.ptr(y)), overlaps=IN_PLACE)
    return choose(L2_NORMALIZATION_KERNELS, ctx, call)

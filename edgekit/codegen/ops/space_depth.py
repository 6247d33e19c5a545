"""DEPTH_TO_SPACE and SPACE_TO_DEPTH: permutations of 4-D int8 tensors, run by TRANSPOSE's
kernel (``ek_transpose_s8``) with their own constants.

TFLM moves the bytes without looking at the quantization. With block size b and the input
viewed in six dimensions, both are transposes (the output written in order):

* DEPTH_TO_SPACE: input [N, H, W, (b, b, C)] -> output [N, H, b, W, b, C] (``in_d = out_d +
  ((out_h % b) * b + out_w % b) * C``, TFLite's channel order);
* SPACE_TO_DEPTH: input [N, (H, b), (W, b), C] -> output [N, H, W, b, b, C], its inverse.

Adjacent dimensions that stay together are merged (``movement.collapse``), so runs of channels
are copied with ``memcpy``.
"""

from __future__ import annotations

from ...errors import UnsupportedModelError
from ...ir import BlockOptions, Op, OpKind
from ..lowering import KernelCall, LowerCtx, choose, exact_inputs, lowers, portable
from .movement import TransposeParams, _check_walk, _int8_io, collapse

DEPTH_TO_SPACE_KERNELS = (portable("ek_transpose_s8"),)
SPACE_TO_DEPTH_KERNELS = (portable("ek_transpose_s8"),)


@lowers(OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH)
def lower_space_depth(ctx: LowerCtx, op: Op) -> KernelCall:
    exact_inputs(ctx, op, 1)
    x, y = _int8_io(ctx, op)
    opts: BlockOptions = op.options
    b = opts.block_size
    if len(x.shape) != 4 or b < 1:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: input shape {x.shape}, block size {b} (TFLM takes 4-D, block >= 1)")
    n, h, w, c = x.shape
    if op.kind == OpKind.DEPTH_TO_SPACE:
        expected = (n, h * b, w * b, c // (b * b))
        co = expected[3]
        ok = c == co * b * b
        # output walk [N, H, b, W, b, C'] over the input [N, H, W, b, b, C']
        count = (n, h, b, w, b, co)
        step = (h * w * c, w * c, b * co, c, co, 1)
    else:
        expected = (n, h // b, w // b, c * b * b)
        ok = h % b == 0 and w % b == 0
        # output walk [N, H/b, W/b, b, b, C] over the input [N, H/b, b, W/b, b, C]
        count = (n, h // b, w // b, b, b, c)
        step = (h * w * c, b * w * c, b * c, w * c, c, 1)
    if not ok or y.shape != expected:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: block size {b} does not take input {x.shape} to output {y.shape}")
    count, step = collapse(count, step)
    _check_walk(op, count)
    params = TransposeParams(rank=len(count), count=count, step=step)
    call = KernelCall(op, "ek_transpose_s8", "ek_transpose.h", params, (ctx.ptr(x), ctx.ptr(y)))
    table = DEPTH_TO_SPACE_KERNELS if op.kind == OpKind.DEPTH_TO_SPACE else SPACE_TO_DEPTH_KERNELS
    return choose(table, ctx, call)

"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (``ek_space_batch.h``): spatial blocks moved into the
batch and back, for 3-D ([N, H, C]) and 4-D ([N, H, W, C]) int8 tensors, as TFLM runs them.

No arithmetic: the bytes move without requantization. The block shape and the paddings or crops
must be constant int32 tensors (TFLM reads them as int32). SPACE_TO_BATCH_ND pads with the
output's zero point (the real 0.0), as LiteRT does; tflite-micro pads with a value it never
initialises, so models with padding are compared with LiteRT in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import Op, OpKind
from ..lowering import CStruct, KernelCall, LowerCtx, choose, exact_inputs, lowers, portable
from .movement import _const_ints, _int8_io


@dataclass(frozen=True)
class SpaceBatchParams(CStruct):
    C_TYPE = "ek_space_batch_params"
    batch: int  # batch of the space tensor
    height: int
    width: int
    depth: int
    block_h: int
    block_w: int
    blocks_h: int  # spatial extent of the batch tensor
    blocks_w: int
    top: int  # paddings or crops
    left: int
    pad_value: int


SPACE_TO_BATCH_ND_KERNELS = (portable("ek_space_to_batch_s8"),)
BATCH_TO_SPACE_ND_KERNELS = (portable("ek_batch_to_space_s8"),)


def _as_4d(shape) -> tuple[int, int, int, int]:
    """[N, H, C] as TFLM extends it: [N, H, 1, C]."""
    return (shape[0], shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape)


@lowers(OpKind.SPACE_TO_BATCH_ND, OpKind.BATCH_TO_SPACE_ND)
def lower_space_batch(ctx: LowerCtx, op: Op) -> KernelCall:
    ins = exact_inputs(ctx, op, 3)
    x, y = _int8_io(ctx, op)
    rank = len(x.shape)
    if rank not in (3, 4) or len(y.shape) != rank:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: shapes {x.shape} -> {y.shape}; TFLM takes 3-D or 4-D")
    spatial = rank - 2
    block = _const_ints(ins[1], op, "block_shape")
    edges = _const_ints(ins[2], op, "paddings" if op.kind == OpKind.SPACE_TO_BATCH_ND else "crops")
    if len(block) != spatial or len(edges) != 2 * spatial or min(block) < 1 or min(edges) < 0:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: block shape {block} and edges {edges} for rank {rank}")
    block_h, block_w = (block + [1])[:2]
    top, bottom, left, right = (edges + [0, 0])[:4]
    to_batch = op.kind == OpKind.SPACE_TO_BATCH_ND
    space, batched = (x, y) if to_batch else (y, x)
    n, h, w, c = _as_4d(space.shape)
    if to_batch:
        padded_h, padded_w = h + top + bottom, w + left + right
        ok = padded_h % block_h == 0 and padded_w % block_w == 0
        blocks_h, blocks_w = padded_h // block_h, padded_w // block_w
    else:
        nb, blocks_h, blocks_w, _ = _as_4d(batched.shape)
        ok = nb % (block_h * block_w) == 0 and n == nb // (block_h * block_w)
        ok = ok and h == blocks_h * block_h - top - bottom and w == blocks_w * block_w - left - right
    expected = (n * block_h * block_w, blocks_h, blocks_w, c)
    if not ok or _as_4d(batched.shape) != expected or _as_4d(space.shape)[3] != c:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: block shape {block} and edges {edges} do not take {x.shape} to {y.shape}")
    if math.prod(expected) != batched.num_elements:
        raise AssertionError("batch tensor size")
    params = SpaceBatchParams(batch=n, height=h, width=w, depth=c, block_h=block_h, block_w=block_w,
                              blocks_h=blocks_h, blocks_w=blocks_w, top=top, left=left,
                              pad_value=y.zero_point if to_batch else 0)
    function = "ek_space_to_batch_s8" if to_batch else "ek_batch_to_space_s8"
    call = KernelCall(op, function, "ek_space_batch.h", params, (ctx.ptr(x), ctx.ptr(y)))
    return choose(SPACE_TO_BATCH_ND_KERNELS if to_batch else BATCH_TO_SPACE_ND_KERNELS, ctx, call)

"""RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR: int8 NHWC (``ek_resize.h``).

Neither rescales (TFLM copies or interpolates the stored values whatever the quantization).
Which input rows and columns each output row and column reads is computed here, once, as TFLM's
reference kernels compute it per pixel: nearest with its float32 index arithmetic
(``GetNearestNeighbor``), bilinear with its 10-bit fixed point (``ResizeBilinearInteger``: the
scale rounded to 1/1024ths, the integer lower and upper neighbours and their weight). The kernels
get tables of input offsets; the C does no index arithmetic of its own.
Keras ``UpSampling2D(interpolation="bilinear")`` and ``Resizing`` convert to these; Keras 3's
``UpSampling2D(interpolation="nearest")`` converts to RESHAPE and TILE instead (``movement.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, ResizeOptions, Tensor
from ..arith import tfl_round
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8, require_int16
from .movement import _const_ints


@dataclass(frozen=True)
class ResizeParams(CStruct):
    """``ek_resize_nearest_params`` and ``ek_resize_bilinear_params`` (the same fields)."""

    C_TYPE = "ek_resize_nearest_params"
    batches: int
    batch_elems: int
    out_height: int
    out_width: int
    depth: int
    rows: CArray
    cols: CArray


@dataclass(frozen=True)
class ResizeBilinearParams(ResizeParams):
    C_TYPE = "ek_resize_bilinear_params"


RESIZE_NEAREST_NEIGHBOR_KERNELS = (portable("ek_resize_nearest_s8 / ek_resize_nearest_s16"),)
RESIZE_BILINEAR_KERNELS = (portable("ek_resize_bilinear_s8"),)


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """The input index of every output index, as TFLM's ``GetNearestNeighbor`` computes it in
    float32: scale = in / out (align_corners: (in - 1) / (out - 1)), (i + 0.5 if half-pixel) *
    scale, rounded half away from zero (align_corners) or floored, clamped to in - 1 (and to 0
    with half-pixel centers)."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    out = []
    for i in range(out_size):
        v = (f32(i) + offset) * scale  # float32 throughout, as the C++ does
        k = tfl_round(float(v)) if align_corners else math.floor(v)
        k = min(k, in_size - 1)
        out.append(max(0, k) if half_pixel_centers else k)
    return out


def _cdiv(a: int, b: int) -> int:
    """C's integer division (truncating towards zero), b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def bilinear_taps(in_size: int, out_size: int, align_corners: bool,
                  half_pixel_centers: bool) -> list[tuple[int, int, int]]:
    """(lower, upper, weight in 1/1024ths) per output index, as TFLM's ResizeBilinearInteger:
    scale_10 = round(1024 * in / out) (align_corners: (in - 1) / (out - 1)) by integer
    division; v = i * scale_10 (half-pixel: + scale_10 / 2 - 512); lower = max(v / 1024, 0),
    upper = min(ceil(v / 1024), in - 1), weight = v - 1024 * lower."""
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = ((1 << 10) * in_size + out_size // 2) // out_size
    taps = []
    for i in range(out_size):
        v = i * scale + scale // 2 - (1 << 9) if half_pixel_centers else i * scale
        lower = max(_cdiv(v, 1 << 10), 0)
        upper = min(_cdiv(v + (1 << 10) - 1, 1 << 10), in_size - 1)
        taps.append((lower, upper, v - (1 << 10) * lower))
    return taps


def _resize_io(ctx: LowerCtx, op: Op) -> tuple[Tensor, Tensor]:
    x, size_t = ctx.graph.op_inputs(op)[:2]
    y = ctx.graph.op_outputs(op)[0]
    where = f"op {op.index} {op.type_name}"
    # int16 (16x8) for nearest only: TFLM's bilinear takes int8
    require = require_int16 if x.dtype == DType.INT16 and op.kind == OpKind.RESIZE_NEAREST_NEIGHBOR else require_int8
    require(x, "input", op)
    require(y, "output", op)
    if x.is_constant:
        raise UnsupportedModelError(f"{where}: constant input (not folded by the converter)")
    size = _const_ints(size_t, op, "size")
    if len(x.shape) != 4 or len(size) != 2:
        raise UnsupportedModelError(f"{where}: needs a 4-D input and a size of 2 (TFLM's checks)")
    want = (x.shape[0], size[0], size[1], x.shape[3])
    if y.shape != want:
        raise UnsupportedModelError(f"{where}: output shape {y.shape}, the size gives {want}")
    return x, y


@lowers(OpKind.RESIZE_NEAREST_NEIGHBOR, OpKind.RESIZE_BILINEAR, int16=(OpKind.RESIZE_NEAREST_NEIGHBOR,))
def lower_resize(ctx: LowerCtx, op: Op) -> KernelCall:
    x, y = _resize_io(ctx, op)
    opts: ResizeOptions = op.options
    batches, in_h, in_w, depth = x.shape
    out_h, out_w = y.shape[1:3]
    row_elems = in_w * depth
    if op.kind == OpKind.RESIZE_NEAREST_NEIGHBOR:
        ys = nearest_indices(in_h, out_h, opts.align_corners, opts.half_pixel_centers)
        xs = nearest_indices(in_w, out_w, opts.align_corners, opts.half_pixel_centers)
        rows, cols = [r * row_elems for r in ys], [c * depth for c in xs]
        function = "ek_resize_nearest_s16" if x.dtype == DType.INT16 else "ek_resize_nearest_s8"
        cls, table = ResizeParams, RESIZE_NEAREST_NEIGHBOR_KERNELS
        used = ys + xs
    else:
        if opts.align_corners and opts.half_pixel_centers:
            raise UnsupportedModelError(
                f"op {op.index} RESIZE_BILINEAR: align_corners with half_pixel_centers (TFLM refuses it)")
        ty = bilinear_taps(in_h, out_h, opts.align_corners, opts.half_pixel_centers)
        tx = bilinear_taps(in_w, out_w, opts.align_corners, opts.half_pixel_centers)
        rows = [v for lo, hi, w in ty for v in (lo * row_elems, hi * row_elems, w)]
        cols = [v for lo, hi, w in tx for v in (lo * depth, hi * depth, w)]
        if any(not -512 <= w < 1024 for _, _, w in ty + tx):
            raise UnsupportedModelError(f"op {op.index} RESIZE_BILINEAR: interpolation weight out of range")
        cls, function, table = ResizeBilinearParams, "ek_resize_bilinear_s8", RESIZE_BILINEAR_KERNELS
        used = [t[0] for t in ty + tx]
    # TFLM's own arithmetic can point past the input for extreme sizes; edgekit does not follow
    if any(not 0 <= i < n for i, n in zip(used, [in_h] * out_h + [in_w] * out_w)):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: a {in_h}x{in_w} to {out_h}x{out_w} "
                                    "resize that reads outside the input in TFLM")
    params = cls(batches=batches, batch_elems=math.prod(x.shape[1:]), out_height=out_h, out_width=out_w,
                 depth=depth, rows=ctx.array(op, "rows", "int32_t", rows, "input offset per output row"),
                 cols=ctx.array(op, "cols", "int32_t", cols, "input offset per output column"))
    call = KernelCall(op, function, "ek_resize.h", params, (ctx.ptr(x), ctx.ptr(y)))
    return choose(table, ctx, call)

"""MAX_POOL_2D and AVERAGE_POOL_2D, int8 or int16 (16x8) NHWC, input and output quantized alike."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, Padding, Pool2DOptions
from ...plan import Overlap
from .. import kernel_facts
from ..arith import tensor_activation_range
from ..lowering import (Candidate, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable, require_int8,
                        require_int16)
from ..overlap import sliding_window_lead


@dataclass(frozen=True)
class PoolParams(CStruct):
    C_TYPE = "ek_pool_params"
    batches: int
    in_h: int
    in_w: int
    channels: int
    out_h: int
    out_w: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int


def out_size(padding: Padding, size: int, filt: int, stride: int) -> int:
    """TFLite's ComputeOutSize (no dilation for pooling)."""
    if padding == Padding.SAME:
        return (size + stride - 1) // stride
    return (size + stride - filt) // stride


def leading_pad(size: int, filt: int, stride: int, out: int) -> int:
    """TFLite's ComputePaddingWithOffset: the top/left padding (the odd pixel goes bottom/right)."""
    return max((out - 1) * stride + filt - size, 0) // 2


def pool_overlap(p: PoolParams) -> tuple[Overlap, ...]:
    """How far the output of ek_max_pool_s8 / ek_avg_pool_s8 may overlap the input.

    Both walk output pixels (batch, y, x) in order and, while at a pixel, write only its
    channels (max pool uses them as its running maximum, average pool sums into the scratch)
    and read only its window clipped to the image (see ek_pool.h): ``sliding_window_lead``.
    """
    lead = sliding_window_lead((p.in_h, p.in_w, p.channels), (p.out_h, p.out_w, p.channels),
                               (p.stride_h, p.stride_w), (p.pad_h, p.pad_w),
                               (p.filter_h, p.filter_w), batches=p.batches)
    return (Overlap(input=0, lead=lead),)


#: the activation range that clamps nothing, int8 and int16
_FULL = {False: (-128, 127), True: (-32768, 32767)}


def one_pixel_windows(h: int, w: int, oh: int, ow: int, opts: Pool2DOptions) -> bool:
    """Every window holds exactly one input pixel, which is its output's: a 1x1 map (a global pool of
    MobileNet's last 1x1 map), or 1x1 windows at stride 1. Input and output share their quantization
    (checked above), so the maximum and the average (TFLite's rounded sum / 1) of one value are the
    value: without a narrower activation the pool is its input, and no call is made."""
    return ((h, w, oh, ow) == (1, 1, 1, 1)
            or ((opts.filter_h, opts.filter_w, opts.stride_h, opts.stride_w) == (1, 1, 1, 1) and (oh, ow) == (h, w)))


@lowers(OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D, int16=True)
def lower_pool(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: Pool2DOptions = op.options
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    s16 = x.dtype == DType.INT16
    require = require_int16 if s16 else require_int8
    require(x, "input", op)
    require(y, "output", op)
    where = f"op {op.index} {op.type_name}"
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise UnsupportedModelError(f"{where}: pooling needs 4-D NHWC tensors")
    if abs(x.scale - y.scale) > 1e-6 or x.zero_point != y.zero_point:
        raise UnsupportedModelError(f"{where}: input and output quantization differ")
    n, h, w, c = x.shape
    oh = out_size(opts.padding, h, opts.filter_h, opts.stride_h)
    ow = out_size(opts.padding, w, opts.filter_w, opts.stride_w)
    if (n, oh, ow, c) != tuple(y.shape):
        raise UnsupportedModelError(f"{where}: output shape {y.shape} does not follow from the options")
    pad_h = leading_pad(h, opts.filter_h, opts.stride_h, oh)
    pad_w = leading_pad(w, opts.filter_w, opts.stride_w, ow)
    # every window must hold at least one input pixel (TFLM fails the invoke otherwise)
    if (oh - 1) * opts.stride_h - pad_h >= h or (ow - 1) * opts.stride_w - pad_w >= w \
            or opts.filter_h <= pad_h or opts.filter_w <= pad_w:
        raise UnsupportedModelError(f"{where}: a pooling window lies entirely in the padding")
    act_min, act_max = tensor_activation_range(opts.activation, y)
    if one_pixel_windows(h, w, oh, ow, opts) and (act_min, act_max) == _FULL[s16]:
        return KernelCall(op, alias_input=0)
    params = PoolParams(batches=n, in_h=h, in_w=w, channels=c, out_h=oh, out_w=ow,
                        filter_h=opts.filter_h, filter_w=opts.filter_w,
                        stride_h=opts.stride_h, stride_w=opts.stride_w,
                        pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max)
    suffix = "s16" if s16 else "s8"
    overlaps = () if s16 else pool_overlap(params)  # the s16 kernels declare none
    if op.kind == OpKind.MAX_POOL_2D:
        call = KernelCall(op, f"ek_max_pool_{suffix}", "ek_pool.h", params, (ctx.ptr(x), ctx.ptr(y)),
                          overlaps=overlaps)
        return call if s16 else choose(MAX_POOL_KERNELS, ctx, call)
    call = KernelCall(op, f"ek_avg_pool_{suffix}", "ek_pool.h", params,
                      (ctx.ptr(x), ctx.ptr(y), ctx.scratch(op)), scratch_bytes=kernel_facts.scratch_bytes("ek_avg_pool_s8", c),
                      overlaps=overlaps)
    return call if s16 else choose(AVG_POOL_KERNELS, ctx, call)


def pool_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and at least four channels (a word of them; fewer go one by one anyway)."""
    return ctx.target.dsp and call.params.channels >= 4


def lower_max_pool_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    """ek_max_pool_dsp_s8 (ek_pool_dsp.h): the same parameters and walk (so pool_overlap)."""
    return dataclasses.replace(call, function="ek_max_pool_dsp_s8", header="ek_pool_dsp.h")


def lower_avg_pool_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    """ek_avg_pool_dsp_s8 (ek_pool_dsp.h): the same parameters, walk (so pool_overlap) and rounding."""
    return dataclasses.replace(call, function="ek_avg_pool_dsp_s8", header="ek_pool_dsp.h",
                               scratch_bytes=kernel_facts.scratch_bytes("ek_avg_pool_dsp_s8", call.params.channels))


AVG_POOL_KERNELS = kernel_table(
    (OpKind.AVERAGE_POOL_2D,),
    Candidate("ek_avg_pool_dsp_s8", pool_dsp_applies, lower_avg_pool_dsp),
    portable("ek_avg_pool_s8"),
)

MAX_POOL_KERNELS = kernel_table(
    (OpKind.MAX_POOL_2D,),
    Candidate("ek_max_pool_dsp_s8", pool_dsp_applies, lower_max_pool_dsp),
    portable("ek_max_pool_s8"),
)

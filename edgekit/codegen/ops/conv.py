"""CONV_2D and DEPTHWISE_CONV_2D, int8 activations, int8 weights (per-tensor or per-channel).

The arithmetic is TFLM's reference ``ConvPerChannel`` / ``DepthwiseConvPerChannel``:
``acc = bias + sum(w * (x - input_zp))`` over the taps inside the image, requantized per output
channel, offset and clamped. Two generation-time rewrites keep the kernel integer-only and short:

* the input offset is folded into the bias, ``bias' = bias - input_zp * sum(w)`` over the whole
  filter window. The kernel then treats an out-of-bounds (padding) tap as holding ``input_zp``,
  whose contribution ``w * input_zp`` cancels its share of the folded term exactly, so borders
  match TFLM's "skip the tap" bit for bit;
* the requantization multipliers are computed like TFLM's ``PopulateConvolutionQuantizationParams``
  for int8: per channel, in double, ``input_scale * filter_scale / output_scale`` -- a per-tensor
  filter scale is broadcast through the same double computation (unlike FULLY_CONNECTED, whose
  per-tensor path multiplies the two scales in float32 first).

16x8 (int16 activations, zero points 0, int8 weights) takes the same checks, geometry and
multipliers, with the bias and accumulator of ``int16x8.accumulator_16x8``; its kernels
(``ek_conv2d_s16``, ``ek_depthwise_conv2d_s16``) skip padding taps as TFLM does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Conv2DOptions, DepthwiseConv2DOptions, DType, Op, OpKind, Padding, Tensor
from ...plan import Overlap
from ..arith import INT32_MAX, INT32_MIN, check_accumulator, max_abs_acc, quantize_multiplier, tensor_activation_range
from ..lowering import Candidate, CArray, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable, require_int8, require_int16
from ..overlap import sliding_window_lead
from .dsp_common import prefer_packed
from .dsp_conv import (conv2d_dsp_applies, conv2d_int4_applies, conv2d_pal_applies, conv2d_pal_pixel_applies,
                       conv2d_sparse_applies, live_channels, lower_conv2d_dsp, lower_conv2d_int4_dsp,
                       lower_conv2d_pal_dsp, lower_conv2d_pal_pixel, lower_conv2d_sparse_dsp)
from .dsp_depthwise import depthwise_dsp_applies, depthwise_rows_applies, lower_depthwise_dsp, lower_depthwise_rows
from .dsp_fully_connected import conv2d_fc_applies, conv2d_fc_int4_applies, lower_conv2d_fc, lower_conv2d_fc_int4
from .dsp_s16 import conv2d_s16_dsp_applies, lower_conv2d_s16_dsp
from .int16x8 import accumulator_16x8
from .palette import lower_packed_conv2d, packing_applies
from .winograd import lower_winograd, winograd_applies


@dataclass(frozen=True)
class Conv2DParams(CStruct):
    C_TYPE = "ek_conv2d_params"
    input_h: int
    input_w: int
    input_c: int
    output_h: int
    output_w: int
    output_c: int
    filter_h: int
    filter_w: int
    filter_c: int  # input channels seen by one filter (input_c / groups)
    groups: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int
    input_zero_point: int  # the value an out-of-bounds tap reads
    output_offset: int
    act_min: int
    act_max: int
    weights: CArray  # [output_c][filter_h][filter_w][filter_c]
    bias: CArray | str  # [output_c], bias - input_zero_point * sum(filter), folded; 16x8: "NULL"
    multiplier: CArray  # [output_c] (a per-tensor value repeated)
    shift: CArray  # [output_c]


@dataclass(frozen=True)
class DepthwiseConv2DParams(CStruct):
    C_TYPE = "ek_depthwise_conv2d_params"
    input_h: int
    input_w: int
    input_c: int
    output_h: int
    output_w: int
    output_c: int  # input_c * depth_multiplier
    depth_multiplier: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int
    input_zero_point: int
    output_offset: int
    act_min: int
    act_max: int
    weights: CArray  # [filter_h][filter_w][output_c]
    bias: CArray | str  # [output_c], folded as for CONV_2D; 16x8: "NULL"
    multiplier: CArray
    shift: CArray


@dataclass(frozen=True)
class Conv2DS16Params(CStruct):
    C_TYPE = "ek_conv2d_s16_params"
    conv: Conv2DParams  # bias "NULL", zero points 0
    bias: CArray  # int64
    wide: int  # 1: int64 accumulator (int64 bias), 0: int32


@dataclass(frozen=True)
class DepthwiseConv2DS16Params(CStruct):
    C_TYPE = "ek_depthwise_conv2d_s16_params"
    dw: DepthwiseConv2DParams  # bias "NULL", zero points 0, reduced multipliers and right shifts
    bias: CArray  # int64


def out_size_and_pad(padding: Padding, in_size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """Output size and leading padding along one axis, as TFLite's ``ComputePaddingHeightWidth``.

    The effective filter size with dilation is ``(k - 1) * dilation + 1``; SAME puts the odd
    pixel of padding at the end (bottom/right), so only the leading amount is needed.
    """
    eff = (k - 1) * dilation + 1
    if padding == Padding.SAME:
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size + stride - eff) // stride
    total = max((out - 1) * stride + eff - in_size, 0)
    return out, total // 2


def effective_scales(input_scale: float, filter_scales, output_scale: float, channels: int) -> list[float]:
    """Per-channel real multipliers exactly as TFLM computes them for int8 convolutions."""
    fs = list(filter_scales) if len(filter_scales) > 1 else [filter_scales[0]] * channels
    # float32 scales widened to double, then double product and quotient
    return [float(np.float64(np.float32(input_scale)) * np.float64(np.float32(s))
                  / np.float64(np.float32(output_scale))) for s in fs]


def _requant_arrays(ctx: LowerCtx, op: Op, x: Tensor, w: Tensor, y: Tensor, channels: int):
    n = len(w.quant.scale)
    if n not in (1, channels):
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: {n} filter scales for {channels} output channels")
    qs = [quantize_multiplier(r) for r in effective_scales(x.scale, w.quant.scale, y.scale, channels)]
    return (ctx.array(op, "multiplier", "int32_t", [m for m, _ in qs]),
            ctx.array(op, "shift", "int32_t", [s for _, s in qs]))


def _folded_bias(ctx: LowerCtx, op: Op, b: Tensor | None, x: Tensor, filter_sums: np.ndarray) -> CArray:
    bias = b.data.astype(np.int64).reshape(-1) if b is not None else np.zeros(filter_sums.size, np.int64)
    if bias.size != filter_sums.size:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: bias has {bias.size} values, "
                                    f"{filter_sums.size} output channels")
    folded = bias - x.zero_point * filter_sums
    if folded.min(initial=0) < INT32_MIN or folded.max(initial=0) > INT32_MAX:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: folded bias overflows int32")
    return ctx.array(op, "bias", "int32_t", folded, "bias with the input offset folded in")


def _check_common(ctx: LowerCtx, op: Op):
    ins = ctx.graph.op_inputs(op)
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    y = ctx.graph.op_outputs(op)[0]
    require = require_int16 if x.dtype == DType.INT16 else require_int8
    require(x, "input", op)
    require(y, "output", op)
    if not w.is_constant or w.dtype not in (DType.INT8, DType.INT4) or w.quant is None:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: filter must be constant int8 or int4")
    if w.dtype == DType.INT4 and x.dtype != DType.INT8:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: int4 filter with {x.dtype.name} activations")
    if any(z != 0 for z in w.quant.zero_point):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: asymmetric filter (zero point != 0)")
    if b is not None and x.dtype == DType.INT8 and (not b.is_constant or b.dtype.name != "INT32"):
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: bias must be constant int32")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: input, filter and output must be 4-D")
    if x.shape[0] != 1 or y.shape[0] != 1:
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: batch {x.shape[0]}; edgekit convolutions take batch 1")
    return x, w, b, y


def _geometry(op: Op, opts, x: Tensor, y: Tensor, kh: int, kw: int) -> tuple[int, int]:
    oh, pad_top = out_size_and_pad(opts.padding, x.shape[1], kh, opts.stride_h, opts.dilation_h)
    ow, pad_left = out_size_and_pad(opts.padding, x.shape[2], kw, opts.stride_w, opts.dilation_w)
    if (oh, ow) != tuple(y.shape[1:3]):
        raise UnsupportedModelError(
            f"op {op.index} {op.type_name}: output is {y.shape[1]}x{y.shape[2]}, "
            f"the padding and strides give {oh}x{ow}")
    return pad_top, pad_left


def conv_overlap(p: "Conv2DParams | DepthwiseConv2DParams") -> tuple[Overlap, ...]:
    """How far the output of ek_conv2d_s8, ek_conv2d_pal_s8 and ek_depthwise_conv2d_s8 may
    overlap the input (the planner's and the C headers' one source).

    All three walk output pixels in row-major order and, while at pixel (oy, ox), write only
    that pixel's output channels and read only its window (see ek_conv2d.h, ek_depthwise_conv2d.h).
    That is the case ``sliding_window_lead`` proves a lead for: the output may start ``lead``
    bytes below the input (or further).
    """
    lead = sliding_window_lead((p.input_h, p.input_w, p.input_c),
                               (p.output_h, p.output_w, p.output_c), (p.stride_h, p.stride_w),
                               (p.pad_top, p.pad_left), (p.filter_h, p.filter_w),
                               (p.dilation_h, p.dilation_w))
    return (Overlap(input=0, lead=lead),)


@lowers(OpKind.CONV_2D, int16=True)
def lower_conv2d(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: Conv2DOptions = op.options
    x, w, b, y = _check_common(ctx, op)
    _, ih, iw, ic = x.shape
    oc, kh, kw, fc = w.shape
    if ic % fc != 0 or oc % (ic // fc) != 0 or y.shape[3] != oc:
        raise UnsupportedModelError(
            f"op {op.index} CONV_2D: {ic} input channels, filter {w.shape}, output {y.shape} "
            "do not form a (grouped) convolution")
    pad_top, pad_left = _geometry(op, opts, x, y, kh, kw)
    act_min, act_max = tensor_activation_range(opts.activation, y)
    geometry = dict(
        input_h=ih, input_w=iw, input_c=ic, output_h=y.shape[1], output_w=y.shape[2], output_c=oc,
        filter_h=kh, filter_w=kw, filter_c=fc, groups=ic // fc,
        stride_h=opts.stride_h, stride_w=opts.stride_w,
        dilation_h=opts.dilation_h, dilation_w=opts.dilation_w, pad_top=pad_top, pad_left=pad_left,
        act_min=act_min, act_max=act_max,
        weights=ctx.const_array(w, "int8_t"))  # int4 filters widened (ek_conv2d_int4_dsp_s8 packs them)
    if x.dtype == DType.INT16:
        acc = accumulator_16x8(ctx, op, b, w.data.reshape(oc, -1).astype(np.int64),
                               effective_scales(x.scale, w.quant.scale, y.scale, oc))
        conv = Conv2DParams(**geometry, input_zero_point=0, output_offset=0, bias="NULL",
                            multiplier=acc.multiplier, shift=acc.shift)
        return choose(CONV_2D_S16_KERNELS, ctx, KernelCall(op, "ek_conv2d_s16", "ek_conv2d.h",
                      Conv2DS16Params(conv, acc.bias, acc.wide), (ctx.ptr(x), ctx.ptr(y))))
    multiplier, shift = _requant_arrays(ctx, op, x, w, y, oc)
    params = Conv2DParams(
        **geometry, input_zero_point=x.zero_point, output_offset=y.zero_point,
        bias=_folded_bias(ctx, op, b, x, w.data.astype(np.int64).sum(axis=(1, 2, 3))),
        multiplier=multiplier, shift=shift,
    )
    check_accumulator(f"op {op.index} {op.type_name}", max_abs_acc(params.bias.values, w.data.reshape(oc, -1)),
                      effective_scales(x.scale, w.quant.scale, y.scale, oc))
    call = KernelCall(op, "ek_conv2d_s8", "ek_conv2d.h", params, (ctx.ptr(x), ctx.ptr(y)),
                      overlaps=conv_overlap(params))
    return choose(CONV_2D_KERNELS, ctx, call)


def _taps_in_image(size: int, out: int, k: int, stride: int, dilation: int, pad: int) -> tuple[int, int]:
    """The filter taps [first, end) along one axis that some output's window puts on the image; the
    others read padding for every output, which TFLM skips (a 3x3 filter on a 1x1 map with SAME
    padding: only the centre tap), so the int8 depthwise kernels can run without them."""
    used = [t for t in range(k) if any(0 <= o * stride - pad + t * dilation < size for o in range(out))]
    return (used[0], used[-1] + 1) if used else (0, k)


@lowers(OpKind.DEPTHWISE_CONV_2D, int16=True)
def lower_depthwise_conv2d(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: DepthwiseConv2DOptions = op.options
    x, w, b, y = _check_common(ctx, op)
    _, ih, iw, ic = x.shape
    one, kh, kw, oc = w.shape
    if one != 1 or oc % ic != 0 or y.shape[3] != oc:
        raise UnsupportedModelError(
            f"op {op.index} DEPTHWISE_CONV_2D: {ic} input channels, filter {w.shape}, output {y.shape} "
            "do not form a depthwise convolution")
    dm = oc // ic
    if opts.depth_multiplier != dm:
        # TFLM indexes with the option's value, so a disagreeing model has no defined result
        raise UnsupportedModelError(
            f"op {op.index} DEPTHWISE_CONV_2D: depth_multiplier {opts.depth_multiplier}, "
            f"but the filter maps {ic} input channels to {oc}")
    pad_top, pad_left = _geometry(op, opts, x, y, kh, kw)
    act_min, act_max = tensor_activation_range(opts.activation, y)
    geometry = dict(
        input_h=ih, input_w=iw, input_c=ic, output_h=y.shape[1], output_w=y.shape[2], output_c=oc,
        depth_multiplier=dm, filter_h=kh, filter_w=kw, stride_h=opts.stride_h, stride_w=opts.stride_w,
        dilation_h=opts.dilation_h, dilation_w=opts.dilation_w, pad_top=pad_top, pad_left=pad_left,
        act_min=act_min, act_max=act_max, weights=ctx.const_array(w, "int8_t"))  # int4 filters widened
    if x.dtype == DType.INT16:
        acc = accumulator_16x8(ctx, op, b, w.data.reshape(-1, oc).T.astype(np.int64),
                               effective_scales(x.scale, w.quant.scale, y.scale, oc), int32_bias=False)
        dw = DepthwiseConv2DParams(**geometry, input_zero_point=0, output_offset=0, bias="NULL",
                                   multiplier=acc.multiplier, shift=acc.shift)
        return choose(DEPTHWISE_CONV_2D_S16_KERNELS, ctx, KernelCall(
            op, "ek_depthwise_conv2d_s16", "ek_depthwise_conv2d.h", DepthwiseConv2DS16Params(dw, acc.bias),
            (ctx.ptr(x), ctx.ptr(y))))
    multiplier, shift = _requant_arrays(ctx, op, x, w, y, oc)
    taps = w.data
    (r0, r1), (c0, c1) = (_taps_in_image(ih, y.shape[1], kh, opts.stride_h, opts.dilation_h, pad_top),
                          _taps_in_image(iw, y.shape[2], kw, opts.stride_w, opts.dilation_w, pad_left))
    if (r0, r1, c0, c1) != (0, kh, 0, kw):  # filter rows or columns no window puts on the image
        taps = w.data[:, r0:r1, c0:c1, :]
        geometry.update(filter_h=r1 - r0, filter_w=c1 - c0, pad_top=pad_top - r0 * opts.dilation_h,
                        pad_left=pad_left - c0 * opts.dilation_w,
                        weights=ctx.array(op, "weights", "int8_t", taps.reshape(-1),
                                          f"{w.name}: filter rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1}, "
                                          "the taps some window puts on the image"))
    params = DepthwiseConv2DParams(
        **geometry, input_zero_point=x.zero_point, output_offset=y.zero_point,
        bias=_folded_bias(ctx, op, b, x, taps.astype(np.int64).sum(axis=(0, 1, 2))),
        multiplier=multiplier, shift=shift,
    )
    check_accumulator(f"op {op.index} {op.type_name}", max_abs_acc(params.bias.values, taps.reshape(-1, oc).T),
                      effective_scales(x.scale, w.quant.scale, y.scale, oc))
    call = KernelCall(op, "ek_depthwise_conv2d_s8", "ek_depthwise_conv2d.h", params,
                      (ctx.ptr(x), ctx.ptr(y)), overlaps=conv_overlap(params))
    return choose(DEPTHWISE_CONV_2D_KERNELS, ctx, call)


# ---------------------------------------------------------------------------- kernel tables


def packed_beats_dsp(ctx: LowerCtx, call: KernelCall) -> bool:
    """On a DSP core, compressed weights (several times slower) only when much smaller than what
    the DSP kernel stores (its live channels' weights): ``dsp_common.prefer_packed``."""
    if not ctx.target.dsp:
        return False
    w = ctx.tensor(call.op.inputs[1])
    w_rows = w.data.reshape(w.shape[0], -1).astype(np.int64)
    return prefer_packed(ctx.target, w_rows, live_channels(w_rows).size * w_rows.shape[1])


def lower_sparse_conv2d(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """The block-sparse DSP kernel, before the palette (as small where blocks are pruned, and as fast
    as the dense DSP kernel per MAC kept); where Winograd could take the convolution (2.25x fewer
    multiplies), only if it reads at most half the dense kernel's pairs of k."""
    return lower_conv2d_sparse_dsp(ctx, call, max_work=WINOGRAD_SPARSE_WORK if winograd_applies(ctx, call) else None)


#: the largest fraction of the dense kernel's work the block-sparse kernel may keep to be taken
#: over Winograd
WINOGRAD_SPARSE_WORK = 0.5


CONV_2D_KERNELS = kernel_table(
    (OpKind.CONV_2D,),
    Candidate("ek_fully_connected_int4_dsp_s8", conv2d_fc_int4_applies, lower_conv2d_fc_int4),  # one int4 pixel
    Candidate("ek_conv2d_int4_dsp_s8", conv2d_int4_applies, lower_conv2d_int4_dsp),  # int4 filters stay packed
    Candidate("ek_conv2d_sparse_dsp_s8", conv2d_sparse_applies, lower_sparse_conv2d),  # zero blocks skipped
    Candidate("ek_conv2d_pal_dsp_pixel_s8", conv2d_pal_pixel_applies, lower_conv2d_pal_pixel),  # one pixel
    Candidate("ek_conv2d_pal_dsp_s8", conv2d_pal_applies, lower_conv2d_pal_dsp),  # clustered: palettes decoded
    Candidate("ek_conv2d_pal_s8", packed_beats_dsp, lower_packed_conv2d),  # heavily pruned
    Candidate("ek_conv3x3_wino_dsp_s8", winograd_applies, lower_winograd),
    Candidate("ek_fully_connected_dsp_s8", conv2d_fc_applies, lower_conv2d_fc),  # one pixel, the whole input
    Candidate("ek_conv2d_dsp_s8", conv2d_dsp_applies, lower_conv2d_dsp),
    Candidate("ek_conv2d_pal_s8", packing_applies, lower_packed_conv2d),  # when it saves flash
    portable("ek_conv2d_s8"),
)

DEPTHWISE_CONV_2D_KERNELS = kernel_table(
    (OpKind.DEPTHWISE_CONV_2D,),
    Candidate("ek_depthwise_rows_dsp_s8", depthwise_rows_applies, lower_depthwise_rows),
    Candidate("ek_depthwise_dsp_s8", depthwise_dsp_applies, lower_depthwise_dsp),
    portable("ek_depthwise_conv2d_s8"),
)

CONV_2D_S16_KERNELS = kernel_table(
    (OpKind.CONV_2D,),
    Candidate("ek_conv2d_dsp_s16", conv2d_s16_dsp_applies, lower_conv2d_s16_dsp),
    portable("ek_conv2d_s16"),
)
DEPTHWISE_CONV_2D_S16_KERNELS = (portable("ek_depthwise_conv2d_s16"),)

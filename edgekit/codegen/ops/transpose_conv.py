"""TRANSPOSE_CONV (Keras ``Conv2DTranspose``), int8 activations, int8 weights (``ek_transpose_conv.h``).

The arithmetic is TFLM's reference ``TransposeConv``: ``acc = sum (x - input_zp) * w`` over the
taps that reach an output pixel, plus the bias, requantized per output channel exactly as a
CONV_2D's multipliers (``PopulateConvolutionQuantizationParams``), offset and clamped. The
padding is what TFLite's ``ComputePaddingHeightWidth`` gives for the equivalent forward
convolution: its input is this operator's output (``conv.out_size_and_pad`` on the output size).
TFLM needs an int32 buffer the size of the output; the kernel gathers per output pixel and
needs none (its header says why the sums are the same).

16x8 (int16 activations, int8 weights): TFLM's int16 path accumulates in int64 whatever the
bias, so the bias and requantization are ``int16x8.accumulator_16x8``'s 64-bit ones (an int32 bias
refused: TFLM would read it as int64) and the kernel is ``ek_transpose_conv_s16``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import DType, Op, OpKind, TransposeConvOptions
from ..arith import INT32_MAX, check_accumulator, tensor_activation_range
from ..lowering import (Candidate, CArray, CStruct, KernelCall, LowerCtx, choose, kernel_table, lowers, portable,
                        require_int8, require_int16)
from .conv import _requant_arrays, effective_scales, out_size_and_pad
from .dsp_transpose_conv import lower_transpose_conv_dsp, transpose_conv_dsp_applies
from .int16x8 import accumulator_16x8


@dataclass(frozen=True)
class TransposeConvParams(CStruct):
    C_TYPE = "ek_transpose_conv_params"
    input_h: int
    input_w: int
    input_c: int
    output_h: int
    output_w: int
    output_c: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    weights: CArray  # [output_c][filter_h][filter_w][input_c]
    bias: CArray | str  # [output_c]; 16x8: "NULL" (the int64 bias is beside it)
    multiplier: CArray
    shift: CArray


@dataclass(frozen=True)
class TransposeConvS16Params(CStruct):
    C_TYPE = "ek_transpose_conv_s16_params"
    conv: TransposeConvParams  # bias "NULL", offsets 0, reduced multipliers and right shifts
    bias: CArray  # int64


TRANSPOSE_CONV_KERNELS = kernel_table(
    (OpKind.TRANSPOSE_CONV,),
    Candidate("ek_transpose_conv_dsp_s8", transpose_conv_dsp_applies, lower_transpose_conv_dsp),
    portable("ek_transpose_conv_s8"),
)
TRANSPOSE_CONV_S16_KERNELS = (portable("ek_transpose_conv_s16"),)


@lowers(OpKind.TRANSPOSE_CONV, int16=True)
def lower_transpose_conv(ctx: LowerCtx, op: Op) -> KernelCall:
    where = f"op {op.index} TRANSPOSE_CONV"
    opts = op.options
    if not isinstance(opts, TransposeConvOptions):
        raise UnsupportedModelError(f"{where}: no options (padding, strides)")
    ins = ctx.graph.op_inputs(op)
    if len(ins) not in (3, 4) or any(t is None for t in ins[:3]):
        raise UnsupportedModelError(f"{where}: needs an output shape, a filter and an input")
    shape_t, w, x = ins[:3]
    b = ins[3] if len(ins) == 4 else None
    y = ctx.graph.op_outputs(op)[0]
    s16 = x.dtype == DType.INT16
    require = require_int16 if s16 else require_int8
    require(x, "input", op)
    require(y, "output", op)
    if not w.is_constant or w.dtype.name != "INT8" or w.quant is None:
        raise UnsupportedModelError(f"{where}: filter must be constant int8")
    if any(z != 0 for z in w.quant.zero_point):
        raise UnsupportedModelError(f"{where}: asymmetric filter (zero point != 0)")
    if b is not None and not s16 and (not b.is_constant or b.dtype.name != "INT32"):
        raise UnsupportedModelError(f"{where}: bias must be constant int32")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4:
        raise UnsupportedModelError(f"{where}: input, filter and output must be 4-D")
    if x.shape[0] != 1 or y.shape[0] != 1:
        raise UnsupportedModelError(f"{where}: batch {x.shape[0]}; edgekit convolutions take batch 1")
    if not shape_t.is_constant or tuple(int(v) for v in np.asarray(shape_t.data).reshape(-1)) != tuple(y.shape):
        raise UnsupportedModelError(f"{where}: the output shape input must be constant and equal the output's "
                                    f"shape {list(y.shape)}")
    _, ih, iw, ic = x.shape
    oc, kh, kw, fc = w.shape
    _, oh, ow, yc = y.shape
    if fc != ic or yc != oc:
        raise UnsupportedModelError(f"{where}: filter {list(w.shape)} does not map {ic} input channels "
                                    f"to {yc} output channels")
    if opts.stride_h < 1 or opts.stride_w < 1:
        raise UnsupportedModelError(f"{where}: strides {opts.stride_h}x{opts.stride_w}")
    # the forward convolution this one transposes: from the output back to the input
    fh, pad_top = out_size_and_pad(opts.padding, oh, kh, opts.stride_h, 1)
    fw, pad_left = out_size_and_pad(opts.padding, ow, kw, opts.stride_w, 1)
    if (fh, fw) != (ih, iw):
        raise UnsupportedModelError(f"{where}: a {ih}x{iw} input does not give a {oh}x{ow} output with "
                                    f"these strides and padding")
    act_min, act_max = tensor_activation_range(opts.activation, y)
    geometry = dict(
        input_h=ih, input_w=iw, input_c=ic, output_h=oh, output_w=ow, output_c=oc, filter_h=kh, filter_w=kw,
        stride_h=opts.stride_h, stride_w=opts.stride_w, pad_top=pad_top, pad_left=pad_left,
        act_min=act_min, act_max=act_max, weights=ctx.const_array(w))
    if s16:
        acc = accumulator_16x8(ctx, op, b, w.data.reshape(oc, -1).astype(np.int64),
                               effective_scales(x.scale, w.quant.scale, y.scale, oc), int32_bias=False)
        assert acc.wide
        conv = TransposeConvParams(**geometry, input_offset=0, output_offset=0, bias="NULL",
                                   multiplier=acc.multiplier, shift=acc.shift)
        return choose(TRANSPOSE_CONV_S16_KERNELS, ctx, KernelCall(
            op, "ek_transpose_conv_s16", "ek_transpose_conv.h", TransposeConvS16Params(conv, acc.bias),
            (ctx.ptr(x), ctx.ptr(y))))
    bias = b.data.astype(np.int64).reshape(-1) if b is not None else np.zeros(oc, np.int64)
    if bias.size != oc:
        raise UnsupportedModelError(f"{where}: bias has {bias.size} values, {oc} output channels")
    # |x - input_zp| <= 255: every partial sum, in any order, stays within this bound
    bound = np.abs(bias) + 255 * np.abs(w.data.astype(np.int64)).reshape(oc, -1).sum(axis=1)
    check_accumulator(where, bound, effective_scales(x.scale, w.quant.scale, y.scale, oc))
    assert bound.max(initial=0) <= INT32_MAX
    multiplier, shift = _requant_arrays(ctx, op, x, w, y, oc)
    params = TransposeConvParams(
        **geometry, input_offset=-x.zero_point, output_offset=y.zero_point,
        bias=ctx.array(op, "bias", "int32_t", bias), multiplier=multiplier, shift=shift)
    call = KernelCall(op, "ek_transpose_conv_s8", "ek_transpose_conv.h", params, (ctx.ptr(x), ctx.ptr(y)))
    return choose(TRANSPOSE_CONV_KERNELS, ctx, call)

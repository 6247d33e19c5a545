"""TRANSPOSE_CONV on the DSP kernel ``ek_transpose_conv_dsp_s8`` (ek_transpose_conv_dsp.h): per
output pixel and tap, the input pixel widened once, four output channels at a time against it.

The weights are stored per tap in the layout of the fully connected DSP kernel
(``dsp_common.gemm_weights``: each tap's [output_c][input_c] matrix, four rows per block), and
the requantization folded per channel for ``ek_requant2`` (``dsp_common.requant_table``); a
layer outside that form's bounds keeps the portable kernel. The input offset is not folded into
the bias (which taps reach a pixel changes at the borders): the kernel adds it as it widens."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import kernel_facts
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from .dsp_common import activation_fields, gemm_weights, requant_table, round_up


@dataclass(frozen=True)
class TransposeConvDspParams(CStruct):
    C_TYPE = "ek_transpose_conv_dsp_params"
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
    k_pad: int
    n_pad: int
    act_full: int
    act_min: int
    act_max: int
    weights: CArray
    requant: CArray


def transpose_conv_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    return ctx.target.dsp


def lower_transpose_conv_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_transpose_conv_dsp_s8 for ``call`` (an ek_transpose_conv_s8 call), None when its
    requantization is outside ek_requant2's bounds."""
    p = call.params
    op = call.op
    w = ctx.tensor(op.inputs[1])
    w_all = w.data.astype(np.int64)  # [output_c][filter_h][filter_w][input_c]
    bias = p.bias.values.astype(np.int64)
    # |x + input_offset| <= 255 (as the portable lowering's accumulator check)
    bound = np.abs(bias) + 255 * np.abs(w_all).reshape(p.output_c, -1).sum(axis=1)
    table = requant_table(bias, p.multiplier.values, p.shift.values, p.output_offset, bound)
    if table is None:
        return None
    k_pad, n_pad = round_up(p.input_c, 4), round_up(p.output_c, 4)
    taps = [gemm_weights(w_all[:, ky, kx, :], k_pad, 4) for ky in range(p.filter_h) for kx in range(p.filter_w)]
    rq = np.zeros((n_pad, 4), np.int64)
    rq[:p.output_c] = table
    params = TransposeConvDspParams(
        input_h=p.input_h, input_w=p.input_w, input_c=p.input_c, output_h=p.output_h, output_w=p.output_w,
        output_c=p.output_c, filter_h=p.filter_h, filter_w=p.filter_w, stride_h=p.stride_h, stride_w=p.stride_w,
        pad_top=p.pad_top, pad_left=p.pad_left, input_offset=p.input_offset, k_pad=k_pad, n_pad=n_pad,
        **activation_fields(p),
        weights=ctx.array(op, "weights", "int8_t", np.concatenate(taps),
                          f"{w.name}: per tap, per 4 output channels and input channel pair, the order the "
                          "DSP kernel reads"),
        requant=ctx.array(op, "requant", "int32_t", rq.reshape(-1),
                          "per output channel: 2 * bias, multiplier, rounding + offset, right shift"))
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_transpose_conv_dsp_s8", header="ek_transpose_conv_dsp.h",
                               params=params, args=(x_arg, y_arg, ctx.scratch(op)),
                               scratch_bytes=kernel_facts.scratch_bytes("ek_transpose_conv_dsp_s8", k_pad, n_pad))

"""CONV_2D and FULLY_CONNECTED of the 16x8 scheme on the DSP kernels ``ek_conv2d_dsp_s16`` and
``ek_fully_connected_dsp_s16`` (ek_s16_dsp.h): the portable kernels' parameters and results, two
output channels a step with 64-bit dual multiply-accumulates, no scratch, the same (absent)
overlaps. A fully connected layer under SMALL_FC_MACS keeps the portable kernel, as in int8."""

from __future__ import annotations

import dataclasses

from ..lowering import KernelCall, LowerCtx
from . import dsp_fully_connected


def conv2d_s16_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    return ctx.target.dsp


def lower_conv2d_s16_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    return dataclasses.replace(call, function="ek_conv2d_dsp_s16", header="ek_s16_dsp.h")


def fully_connected_s16_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    q = call.params.fc
    return ctx.target.dsp and q.batches * q.in_features * q.out_features >= dsp_fully_connected.SMALL_FC_MACS


def lower_fully_connected_s16_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    return dataclasses.replace(call, function="ek_fully_connected_dsp_s16", header="ek_s16_dsp.h")

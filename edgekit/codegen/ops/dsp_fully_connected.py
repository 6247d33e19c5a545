"""FULLY_CONNECTED on the DSP kernel ``ek_fully_connected_dsp_s8`` (ek_fully_connected_dsp.h): each
input row widened once, four output rows at a time against it; ``ek_fully_connected_lean_dsp_s8``
(same parameters) widens in registers and needs no scratch, for the layers whose scratch would
raise the arena (``Target.lean_ops``); ``ek_fully_connected_int4_dsp_s8`` (same parameters and
scratch) reads int4 weights, two per byte, and unpacks them in registers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import kernel_facts
from ...ir import DType
from ..arith import INT32_MAX, max_abs_acc
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from .dsp_common import activation_fields, gemm_weights, paired_words, requant_table, round_up

# a fully connected layer this small (a classifier head) takes the portable kernel on DSP cores:
# a few thousand cycles either way, and the portable kernel (compiled for size there,
# build.DSP_LIGHT_KERNELS) is half the code of the DSP one
SMALL_FC_MACS = 1024


@dataclass(frozen=True)
class FullyConnectedDspParams(CStruct):
    C_TYPE = "ek_fully_connected_dsp_params"
    batches: int
    in_features: int
    out_features: int
    k_pad: int
    act_full: int
    act_min: int
    act_max: int
    paired: int
    weights: CArray
    requant: CArray


def small_fc(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and a layer of fewer than SMALL_FC_MACS multiply-accumulates, where the portable
    kernel's smaller code matters more than its speed."""
    p = call.params
    return ctx.target.dsp and p.batches * p.in_features * p.out_features < SMALL_FC_MACS


def fully_connected_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    return ctx.target.dsp


def _runs_lean(ctx: LowerCtx, call: KernelCall, in_features: int) -> bool:
    """A DSP core, an operator chosen to run without scratch, rows a whole number of words."""
    return ctx.target.dsp and call.op.index in ctx.target.lean_ops and in_features % 4 == 0


def _as_lean(fc: KernelCall) -> KernelCall:
    """An ek_fully_connected_dsp_s8 call on ek_fully_connected_lean_dsp_s8: the same parameters, no scratch."""
    return dataclasses.replace(fc, function="ek_fully_connected_lean_dsp_s8", args=fc.args[:2], scratch_bytes=0)


def fully_connected_lean_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    return _runs_lean(ctx, call, call.params.in_features)


def lower_fully_connected_lean(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    dsp = lower_fully_connected_dsp(ctx, call)
    return None if dsp is None else _as_lean(dsp)


def lower_fully_connected_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_fully_connected_dsp_s8 for ``call`` (an ek_fully_connected_s8 call), None when its
    requantization is outside the kernel's bounds."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    return _fc_dsp(ctx, call, w.data.astype(np.int64), w.name, p.batches, p.in_features, p.out_features)


def _fc_dsp(ctx: LowerCtx, call: KernelCall, w_rows: np.ndarray, w_name: str, batches: int, in_features: int,
            out_features: int, pair: bool = True) -> KernelCall | None:
    """ek_fully_connected_dsp_s8 on weight rows ``w_rows`` ([out_features][in_features]); ``call``'s
    parameters give the folded bias, the per-row requantization and the activation. The weights
    take the paired layout (ek_gemm4_dsp.h) where ``pair`` and it is exact for them; else the call
    needs the build switch EK_FC_PLAIN_WEIGHTS (ek_dsp.h)."""
    p = call.params
    bound = max_abs_acc(p.bias.values, w_rows)
    table = requant_table(p.bias.values, p.multiplier.values, p.shift.values, p.output_offset, bound)
    if table is None:
        return None
    op = call.op
    k_pad = round_up(in_features, 4)
    n_pad = round_up(out_features, 4)
    rq = np.zeros((n_pad, 4), np.int64)
    rq[:out_features] = table
    bound_pad = np.zeros(n_pad, np.int64)
    bound_pad[:out_features] = bound
    words = gemm_weights(w_rows, k_pad, 4)
    paired = paired_words(words, rq, bound_pad) if pair else None
    if paired is not None:
        words, rq = paired
    layout = "paired, " if paired is not None else ""
    params = FullyConnectedDspParams(
        batches=batches, in_features=in_features, out_features=out_features, k_pad=k_pad,
        **activation_fields(p), paired=int(paired is not None),
        weights=ctx.array(op, "weights", "int8_t", words,
                          f"{w_name}: {layout}per 4 rows and k pair, the order the DSP kernel reads"),
        requant=ctx.array(op, "requant", "int32_t", rq.reshape(-1),
                          "per row: 2 * folded bias, multiplier, rounding + offset, right shift"
                          + ("; odd rows start at 256 times theirs plus the row below's" if paired is not None else "")),
    )
    x_arg, y_arg = call.args[:2]
    return dataclasses.replace(call, function="ek_fully_connected_dsp_s8", header="ek_fully_connected_dsp.h",
                               params=params, args=(x_arg, y_arg, ctx.scratch(op)),
                               features=frozenset() if paired is not None else frozenset({"EK_FC_PLAIN_WEIGHTS"}),
                               scratch_bytes=kernel_facts.scratch_bytes("ek_fully_connected_dsp_s8", in_features,
                                                                        k_pad))


def conv2d_fc_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and an ungrouped CONV_2D with one output pixel whose window is the whole input,
    no padding (a 1x1 filter on a 1x1 map, the late layers of MobileNets on small inputs; a filter
    the size of its input): the flattened input is the pixel's column, in the filter's (y, x, c)
    order, and the convolution is a fully connected layer, at least SMALL_FC_MACS of it. The
    convolution kernel computes its output pixels four at a time (one pixel: a loop of its own, 1.5x
    the fully connected kernel's cycles on a 336 -> 112 layer; benchmarks/conv_tail.py)."""
    p = call.params
    return (ctx.target.dsp and call.function == "ek_conv2d_s8" and p.groups == 1
            and (p.output_h, p.output_w) == (1, 1) and (p.filter_h, p.filter_w) == (p.input_h, p.input_w)
            and (p.pad_top, p.pad_left) == (0, 0)
            and p.input_h * p.input_w * p.input_c * p.output_c >= SMALL_FC_MACS)


def lower_conv2d_fc(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_fully_connected_dsp_s8 (ek_fully_connected_lean_dsp_s8 where the operator runs without
    scratch) for a convolution ``conv2d_fc_applies`` takes. The fully connected kernels read the
    whole input before they write (the lean one while it writes): no output/input overlap is
    declared, as for FULLY_CONNECTED."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    w_rows = w.data.reshape(p.output_c, -1).astype(np.int64)  # [out][y][x][c]: the input's order
    fc = _fc_dsp(ctx, call, w_rows, w.name, 1, w_rows.shape[1], p.output_c)
    if fc is None:
        return None
    fc = dataclasses.replace(fc, overlaps=())
    return _as_lean(fc) if _runs_lean(ctx, call, w_rows.shape[1]) else fc


def conv2d_fc_int4_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """What ``conv2d_fc_applies`` takes, with int4 weights: the int4 convolution kernel has no
    one-pixel loop (a block of four pixels for one)."""
    return conv2d_fc_applies(ctx, call) and ctx.tensor(call.op.inputs[1]).dtype == DType.INT4


def lower_conv2d_fc_int4(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_fully_connected_int4_dsp_s8 for a one-pixel convolution with int4 weights (two per byte,
    as FULLY_CONNECTED keeps them); None where its accumulator, 32 (W x + b'), could leave int32.
    No output/input overlap is declared, as for ``lower_conv2d_fc``."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    w_rows = w.data.reshape(p.output_c, -1).astype(np.int64)
    fc = _fc_dsp(ctx, call, w_rows, w.name, 1, w_rows.shape[1], p.output_c, pair=False)
    if fc is None:
        return None
    return _as_int4(ctx, dataclasses.replace(fc, overlaps=(), features=frozenset()), p.bias.values, w_rows, w.name)


def int4_gemm_weights(w_rows: np.ndarray, k_pad: int) -> np.ndarray:
    """Weights [n][k] (values -8..7) as ek_fully_connected_int4_dsp_s8 reads them (its header):
    per four rows and four k, two words; byte j of word c is row 2 c + (j & 1) at k = 2 (j >> 1),
    its low nibble that k, its high nibble k + 1. Rows and k padded with zeros."""
    n, k = w_rows.shape
    n_pad = round_up(n, 4)
    w = np.zeros((n_pad, k_pad), np.int64)
    w[:n, :k] = w_rows
    # [row block][word c][row parity] x [k quad][k half][k parity] -> [block][quad][c][half][parity][k parity]
    b = w.reshape(n_pad // 4, 2, 2, k_pad // 4, 2, 2).transpose(0, 3, 1, 4, 2, 5)
    packed = (b[..., 0] & 0xF) | ((b[..., 1] & 0xF) << 4)
    return packed.reshape(-1).astype(np.uint8).view(np.int8)


def fully_connected_int4_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and int4 weights."""
    return ctx.target.dsp and ctx.tensor(call.op.inputs[1]).dtype == DType.INT4


def lower_fully_connected_int4_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_fully_connected_int4_dsp_s8: the DSP kernel's call with the weights packed two per byte;
    None where its accumulator, 32 (W x + b'), could leave int32."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    dsp = _fc_dsp(ctx, call, w.data.astype(np.int64), w.name, p.batches, p.in_features, p.out_features, pair=False)
    return None if dsp is None else _as_int4(ctx, dsp, call.params.bias.values, w.data.astype(np.int64), w.name)


def _as_int4(ctx: LowerCtx, fc: KernelCall, bias: np.ndarray, w_rows: np.ndarray, w_name: str) -> KernelCall | None:
    """An ek_fully_connected_dsp_s8 call on ek_fully_connected_int4_dsp_s8, the weight rows
    ``w_rows`` ([out][in], values -8..7) packed two per byte; None where its accumulator,
    32 (W x + b'), could leave int32."""
    if 32 * int(max_abs_acc(bias, w_rows).max(initial=0)) > INT32_MAX:
        return None
    weights = ctx.array(fc.op, "weights", "int8_t", int4_gemm_weights(w_rows, fc.params.k_pad),
                        f"{w_name}: int4, two per byte, per 4 rows and 4 k, the order the DSP kernel reads")
    return dataclasses.replace(
        fc, function="ek_fully_connected_int4_dsp_s8", params=dataclasses.replace(fc.params, weights=weights),
        features=frozenset(),  # its own loop: no switch
        scratch_bytes=kernel_facts.scratch_bytes("ek_fully_connected_int4_dsp_s8", w_rows.shape[1], fc.params.k_pad))

"""CONV_2D 3x3 stride 1 by Winograd's F(2x2, 3x3) on DSP targets (``ek_conv3x3_wino_dsp_s8``).

The kernel computes 2x2 outputs from a 4x4 input patch with 16 multiplications per input channel
instead of 36 (see ek_conv3x3_wino_dsp.h for the algebra). It is exact, not an approximation:
with the filter transform scaled by 2 (``G`` below) every transform is an integer sum and the
result is 4 times the direct convolution's sum, which the kernel halves exactly before the same
requantization as ``ek_conv2d_dsp_s8``. What this module checks from the actual weights is that
no intermediate sum leaves int32.

The price is flash: the transformed filter U is 16 int16 per (input, output) channel pair
instead of 9 int8, 32 bytes instead of 9. The generator takes it only for output maps of at
least ``Target.winograd_min_pixels`` pixels (``edgekit.codegen.core``), where the
multiplications saved per extra flash byte are many; ``--no-winograd`` sets it to None.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...plan import Overlap
from .. import kernel_facts
from ..arith import max_abs_acc
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from ..overlap import events_lead
from .dsp_common import activation_fields, fits_int16, pair_order, requant_table

INT32_LIMIT = 2**31
V_MAX = 4 * 128  # |B^T d B| for int8 d: every entry is a sum of four +-d

# 2 x the textbook G of F(2, 3), so that U is an integer matrix
G = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)
# which of the 16 positions (row-major 4x4) each of the 2x2 outputs sums (A^T M A, A^T = [1 1 1 0; 0 1 -1 -1])
_ROWS = ((0, 1, 2), (1, 2, 3))
OUTPUT_SUPPORT = [[4 * r + c for r in _ROWS[dy] for c in _ROWS[dx]] for dy in (0, 1) for dx in (0, 1)]

@dataclass(frozen=True)
class Conv3x3WinoParams(CStruct):
    C_TYPE = "ek_conv3x3_wino_params"
    input_h: int
    input_w: int
    input_c: int
    output_h: int
    output_w: int
    output_c: int
    pad_top: int
    pad_left: int
    tiles_w: int
    tiles_h: int
    block_tiles: int
    pad_value: int
    act_full: int
    act_min: int
    act_max: int
    weights: CArray
    requant: CArray


def transformed_filters(w: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (output, input) channel: weights [n][3][3][c] -> [n][16][c] int64."""
    g = np.asarray(w, np.int64).transpose(0, 3, 1, 2)  # [n][c][3][3]
    u = np.einsum("ik,nckl,jl->ncij", G, g, G)  # [n][c][4][4]
    return u.reshape(u.shape[0], u.shape[1], 16).transpose(0, 2, 1)


def fits_int32(u: np.ndarray) -> bool:
    """No accumulator (M, at any point of its sum over input channels) and no partial sum of
    the output transform can leave int32, for any int8 input."""
    m_max = V_MAX * np.abs(u).sum(axis=2)  # [n][16]
    y_max = max(m_max[:, s].sum(axis=1).max() for s in OUTPUT_SUPPORT)
    return int(y_max) < INT32_LIMIT


def weight_stream(u: np.ndarray, block_tiles: int) -> np.ndarray:
    """U as ek_conv3x3_wino_dsp_s8's channel loop reads it with blocks of ``block_tiles`` tiles,
    int32 words: per group of output channels (``kernel_facts.winograd_group``; the last group
    padded with channels of zeros), per position, per pair of input channels (SXTB16's order: c0,c2
    then c1,c3 of each four) the words {U[n + i][ca], U[n + i][cb]} of each channel n + i of the
    group (int16, low half first)."""
    group = kernel_facts.winograd_group(block_tiles)
    n, _, c = u.shape
    u = np.concatenate([u, np.zeros((-n % group, 16, c), u.dtype)])
    ca, cb = pair_order(c).T
    lo = u[:, :, ca] & 0xFFFF
    words = (lo | (u[:, :, cb] << 16)).astype(np.int64)  # [n][16][c/2], as int32 bits
    words = ((words + INT32_LIMIT) % (2 * INT32_LIMIT)) - INT32_LIMIT
    groups = words.reshape(-1, group, 16, c // 2).transpose(0, 2, 3, 1)  # [group][pos][q][channel]
    return groups.reshape(-1)


def winograd_overlap(ih: int, iw: int, ic: int, oh: int, ow: int, oc: int, pad_top: int,
                     pad_left: int, per_block: int) -> tuple[Overlap, ...]:
    """How far the output may start below the input (see ``edgekit.codegen.overlap``): the kernel
    walks blocks of ``per_block`` 2x2 tiles in row-major order, reads every input pixel of a block
    before writing any of its outputs, and writes only the block's own pixels. So a block's writes
    must land below the lowest input byte any later block reads."""
    tiles = [(ty, tx) for ty in range(-(-oh // 2)) for tx in range(-(-ow // 2))]
    events = []  # per block: its tiles' reads (each patch's lowest pixel), then its writes
    for b in range(0, len(tiles), per_block):
        block = tiles[b:b + per_block]
        for ty, tx in block:
            rows = [r for r in range(2 * ty - pad_top, 2 * ty - pad_top + 4) if 0 <= r < ih]
            cols = [c for c in range(2 * tx - pad_left, 2 * tx - pad_left + 4) if 0 <= c < iw]
            if rows and cols:
                q = rows[0] * iw + cols[0]
                events.append((False, q * ic, (q + 1) * ic))
        for ty, tx in block:
            for oy in (2 * ty, 2 * ty + 1):
                for ox in (2 * tx, 2 * tx + 1):
                    if oy < oh and ox < ow:
                        events.append((True, (oy * ow + ox) * oc, (oy * ow + ox + 1) * oc))
    return (Overlap(input=0, lead=events_lead(events)),)


def winograd_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core with Winograd on, and a CONV_2D it takes: 3x3, stride 1, no dilation, no groups,
    input channels a multiple of 8, output channels even, an output map of at least the target's
    ``winograd_min_pixels``."""
    p = call.params
    min_pixels = ctx.target.winograd_min_pixels
    return (ctx.target.dsp and min_pixels is not None and p.groups == 1 and (p.filter_h, p.filter_w) == (3, 3)
            and (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w) == (1, 1, 1, 1)
            and p.input_c % 8 == 0 and p.output_c % 2 == 0 and p.output_h * p.output_w >= min_pixels)


def lower_winograd(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_conv3x3_wino_dsp_s8 for ``call`` (an ek_conv2d_s8 call), None when a sum could leave
    int32, or the requantization or sizes are outside the kernel's bounds."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    w_data = w.data
    w_rows = w_data.reshape(w.shape[0], -1).astype(np.int64)
    table = requant_table(p.bias.values, p.multiplier.values, p.shift.values, p.output_offset,
                          max_abs_acc(p.bias.values, w_rows))
    if table is None:
        return None
    u = transformed_filters(w_data)
    if not fits_int32(u):
        return None
    op = call.op
    params = Conv3x3WinoParams(
        input_h=p.input_h, input_w=p.input_w, input_c=p.input_c, output_h=p.output_h, output_w=p.output_w,
        output_c=p.output_c, pad_top=p.pad_top, pad_left=p.pad_left, tiles_w=-(-p.output_w // 2),
        tiles_h=-(-p.output_h // 2), block_tiles=ctx.target.winograd_block_tiles, pad_value=p.input_zero_point,
        **activation_fields(p),
        weights=ctx.array(op, "winograd", "int32_t", weight_stream(u, ctx.target.winograd_block_tiles),
                          "U = G g G^T (int16 pairs): per group of output channels, per 4x4 position, "
                          "per input channel pair, the order the kernel reads them"),
        requant=ctx.array(op, "requant", "int32_t", np.asarray(table, np.int64).reshape(-1),
                          "per output channel: 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    if not fits_int16(params):
        return None
    x_arg, y_arg = call.args
    scratch = kernel_facts.scratch_bytes("ek_conv3x3_wino_dsp_s8", p.input_c, params.block_tiles)
    return dataclasses.replace(
        call, function="ek_conv3x3_wino_dsp_s8", header="ek_conv3x3_wino_dsp.h", params=params,
        args=(x_arg, y_arg, ctx.scratch(op)), scratch_bytes=scratch,
        features=frozenset({f"EK_WINO_BLOCKS_{params.block_tiles}"}),  # (ek_dsp.h: that block size's code)
        overlaps=winograd_overlap(p.input_h, p.input_w, p.input_c, p.output_h, p.output_w, p.output_c,
                                  p.pad_top, p.pad_left, params.block_tiles))

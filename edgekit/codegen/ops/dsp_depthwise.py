"""DEPTHWISE_CONV_2D on the DSP kernels: ``ek_depthwise_rows_dsp_s8`` (3x3 filters, a ring of
widened input rows, ek_depthwise_rows_dsp.h) and ``ek_depthwise_dsp_s8`` (any filter, channels in
groups of four, ek_depthwise_dsp.h). Both take depth multiplier 1."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...plan import Overlap
from .. import kernel_facts
from ..arith import max_abs_acc
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from ..overlap import events_lead
from .dsp_common import activation_fields, as_int32, fits_int16, requant_features, requant_table, round_up

# depthwise rows kernel, stride 2: a ring of widened rows larger than this goes in channel groups
# (each input row is then widened 1.5 times, not once; at stride 1 it would be 3 times: never),
# when the ring could raise the arena: the input and the ring exceed the largest activation
DW_RING_BYTES_S2 = 4096
# in a streamed segment (``Target.banded_ops``) a call makes a row or two, so the ring's rows are
# widened afresh for every call anyway: channel groups whose 3 rows fit in this many bytes cost
# only their loop overhead, and the scratch (shared by the segment's kernels) shrinks. The same
# groups where the scratch sets the arena (``Target.lean_ops``) when they widen at most LEAN_WIDEN
# times the rows the ring does, or the map is tiny (LEAN_PIXELS outputs): small maps, where every
# output row's window holds most of the input (a 1x1 map with 336 channels: a 13,440-byte ring
# for a 336-byte tensor)
DW_RING_BYTES_BANDED = 384
LEAN_WIDEN = 1.5
LEAN_PIXELS = 4


def lean_rows_pay(p) -> bool:
    """Channel groups cost little on this depthwise call (``p``: the portable parameters)."""
    ring = p.input_h
    groups = sum(max(0, min(p.input_h, oy * p.stride_h - p.pad_top + 3) - max(0, oy * p.stride_h - p.pad_top))
                 for oy in range(p.output_h))
    return groups <= LEAN_WIDEN * ring or p.output_h * p.output_w <= LEAN_PIXELS


def depthwise_table(ctx: LowerCtx, call: KernelCall) -> tuple[np.ndarray, np.ndarray | None]:
    """The filter as taps x channels, and every channel's ``requant_table`` row (None when some
    channel is outside the folded form's bounds)."""
    p = call.params
    # the portable call's filter (taps no window puts on the image left out: conv._taps_in_image)
    w_taps = p.weights.values.reshape(p.filter_h * p.filter_w, p.output_c).astype(np.int64)
    return w_taps, requant_table(p.bias.values, p.multiplier.values, p.shift.values, p.output_offset,
                                 max_abs_acc(p.bias.values, w_taps.T))


@dataclass(frozen=True)
class DepthwiseDspParams(CStruct):
    C_TYPE = "ek_depthwise_dsp_params"
    input_h: int
    input_w: int
    input_c: int
    output_h: int
    output_w: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int
    pad_value: int
    act_full: int
    act_min: int
    act_max: int
    weights: CArray
    requant: CArray


def depthwise_weights(w_taps: np.ndarray) -> np.ndarray:
    """Weights [taps][c] (c a multiple of 4) as the DSP depthwise kernel reads them: per group
    of four channels, per tap, the doubled int16 pairs (w[c], w[c+2]), (w[c+1], w[c+3])."""
    taps, ch = w_taps.shape
    g = 2 * np.asarray(w_taps, np.int64).reshape(taps, ch // 4, 4)  # [tap][group][4]
    return g[:, :, [0, 2, 1, 3]].transpose(1, 0, 2).reshape(-1)


@dataclass(frozen=True)
class DepthwiseRowsParams(CStruct):
    C_TYPE = "ek_depthwise_rows_params"
    input_h: int
    input_w: int
    channels: int
    output_h: int
    output_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    row_len: int
    group: int
    blocks: int
    tail: int
    direct: int
    pad_value: int
    act_min: int
    act_max: int
    weights: CArray


def depthwise_rows_weights(w: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Weights [3][3][c] and requantization rows [c][4] as ek_depthwise_rows_dsp_s8 reads them:
    per channel one record laid out as its header says (``kernel_facts.depthwise_rows_record``):
    the doubled int16 pairs (w0, w1), (w1, w2) of each filter row (low half first), and the
    terms 2 * bias, multiplier, c, right."""
    w = 2 * np.asarray(w, np.int64)  # [kh][3][c]
    lo = np.stack([w[:, 0], w[:, 1]], axis=-1)  # [kh][c][2]: (w0, w1) and (w1, w2) low halves
    hi = np.stack([w[:, 1], w[:, 2]], axis=-1)
    words = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)  # as unsigned 32-bit
    words = as_int32(words)
    pairs_at, requant_at, record = kernel_facts.depthwise_rows_record()
    records = np.zeros((w.shape[2], record), np.int64)
    records[:, pairs_at:pairs_at + 6] = words.transpose(1, 0, 2).reshape(w.shape[2], 6)
    records[:, requant_at:requant_at + 4] = np.asarray(table, np.int64)
    return records.reshape(-1)


def rows_blocks(output_w: int) -> tuple[int, int]:
    """(blocks of four, outputs after them) covering ``output_w`` outputs: a remainder of 3 takes a
    block of four, of 1 or 2 a tail of one output or a block of two; there is at least one block
    of four."""
    blocks, rem = divmod(output_w, 4)
    if rem == 3 or blocks == 0:
        return blocks + 1, 0
    return blocks, rem


def rows_group(channels: int, row_len: int, budget: int | None) -> int:
    """Channels per group of ek_depthwise_rows_dsp_s8: all of them (a ring of 3 plane rows, each
    input row widened once) when the ring fits in ``budget`` bytes, else the largest multiple
    of 4 dividing ``channels`` whose 3 rows fit (the rows widened again for each output row)."""
    if budget is None or 6 * row_len * channels <= budget or channels % 4:
        return channels
    fits = [g for g in range(4, channels, 4) if channels % g == 0 and 6 * row_len * g <= budget]
    return max(fits) if fits else 4


def rows_overlap(p: DepthwiseRowsParams, clamps: bool) -> tuple[Overlap, ...]:
    """How far ek_depthwise_rows_dsp_s8's output may overlap its input, derived from its loop
    order (ek_depthwise_rows_dsp.h): the events of the kernel in order, input rows read
    (channels of the group) and output rows written; the lead is the largest distance from the
    end of a write to the lowest input byte read after it (``edgekit.codegen.overlap``)."""
    c, iw, ow, g = p.channels, p.input_w, p.output_w, p.group
    events = []  # (is_write, start, end) in kernel order
    next_iy = 0
    for oy in range(p.output_h):
        iy0 = oy * p.stride_h - p.pad_top
        for c0 in range(0, c, g):
            for iy in range(iy0, iy0 + 3):
                if not 0 <= iy < p.input_h:
                    continue
                todo = [iy]
                if g == c:  # the ring: rows not read before, from the window's top
                    todo = list(range(max(next_iy, iy0, 0), iy + 1))
                    next_iy = max(next_iy, iy + 1)
                events += [(False, iy * iw * c + c0, ((iy + 1) * iw - 1) * c + c0 + g) for iy in todo]
            if p.direct:
                events.append((True, oy * ow * c + c0, ((oy + 1) * ow - 1) * c + c0 + g))
        if not p.direct or clamps:
            events.append((True, oy * ow * c, (oy + 1) * ow * c))
    return (Overlap(input=0, lead=events_lead(events)),)


#: the fewest outputs per row (horizontal stride 1, 2) for which ek_depthwise_rows_dsp_s8 beats
#: ek_depthwise_dsp_s8 (its 3x3 assembly), measured in place in vww and a MobileNetV2
#: (benchmarks/depthwise_kernels.py): at stride 1 the general kernel takes 1.11-2.17x the rows
#: kernel's cycles on rows of 4 to 48 outputs and 0.79x on rows of 3 (the rows kernel computes a
#: block of four there; rows of 1 and 2: 0.49-0.56x); at stride 2, where the rows kernel widens
#: 1.5 input rows for each output row, 1.08x on rows of 12 and 24 and 0.61-0.91x on rows of 3 to
#: 8 (rows of 1 and 2: 0.40x). (Filter taps no window puts on the image are left out, and a 1x1
#: map's 3x3 filter is its centre tap, conv._taps_in_image, which only the general kernel takes.)
DWR_MIN_OUTPUT_W = {1: 4, 2: 12}


def depthwise_rows_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core, a 3x3 filter, depth multiplier 1, no dilation, horizontal stride 1 or 2; where
    ek_depthwise_dsp_s8 can take the layer too (channels a multiple of 4), only on
    rows of at least DWR_MIN_OUTPUT_W outputs, where the rows kernel is the faster, and not where a
    streamed segment's bands make it the slower (``Target.direct_dw_ops``): a call makes a band of
    a row or two, and the rows kernel widens its windows' rows afresh for every output row (channel
    groups, ``DW_RING_BYTES_BANDED``), three times each row at stride 1 in bands of one row, where
    ek_depthwise_dsp_s8 widens nothing (measured on kws in bands of one row: 1.27 M cycles against
    the rows kernel's 1.52 M, its widening included; whole, the rows kernel: 0.96 M; ``stream.DW_DIRECT_UNITS``);
    nor, lean (``Target.lean_ops``: its ring sets the arena), where channel groups would widen the
    rows more than ``lean_rows_pay`` allows: the general kernel's scratch is a row of the zero point
    (but it reads the weights once per output pixel: not where they sit behind flash wait states,
    ``Target.slow_flash``: kws on the NUCLEO-L4R5ZI's memory system took 1.28x the cycles so)."""
    p = call.params
    if not (ctx.target.dsp and p.depth_multiplier == 1 and (p.filter_h, p.filter_w) == (3, 3)
            and (p.dilation_h, p.dilation_w) == (1, 1) and p.stride_w in (1, 2)):
        return False
    if not depthwise_dsp_applies(ctx, call):
        return True
    if call.op.index in ctx.target.lean_ops and not lean_rows_pay(p) and not ctx.target.slow_flash:
        return False  # its scratch sets the arena: the general kernel's row, not a ring (codegen.leaner)
    return p.output_w >= DWR_MIN_OUTPUT_W[p.stride_w] and call.op.index not in ctx.target.direct_dw_ops


def lower_depthwise_rows(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_depthwise_rows_dsp_s8 for ``call`` (an ek_depthwise_conv2d_s8 call), None when its
    requantization or sizes are outside the kernel's bounds."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    _, table = depthwise_table(ctx, call)
    if table is None:
        return None
    c, s = p.input_c, p.stride_w
    blocks, tail = rows_blocks(p.output_w)
    n_out = 4 * blocks + tail
    # one past the last int16 a plane row is read at: block b starts at tap 4 * s * b and reads
    # 2 * s + 1 words (a block of two: s + 1, one output: 2)
    last = 4 * s * blocks + {0: 2, 1: 4, 2: 2 * s + 2}[tail]
    row_len = round_up(max(p.pad_left + p.input_w, last), 2)
    x = ctx.tensor(call.op.inputs[0])
    largest = max(t.nbytes for t in ctx.graph.tensors if not t.is_constant)
    may_raise_arena = x.nbytes + 6 * row_len * c > largest
    group = rows_group(c, row_len, DW_RING_BYTES_S2 if s == 2 and may_raise_arena else None)
    op = call.op
    if op.index in ctx.target.banded_ops or (op.index in ctx.target.lean_ops and lean_rows_pay(p)):
        group = min(group, rows_group(c, row_len, DW_RING_BYTES_BANDED))
    params = DepthwiseRowsParams(
        input_h=p.input_h, input_w=p.input_w, channels=c, output_h=p.output_h, output_w=p.output_w,
        stride_h=p.stride_h, stride_w=s, pad_top=p.pad_top, pad_left=p.pad_left,
        row_len=row_len, group=group, blocks=blocks, tail=tail, direct=int(n_out == p.output_w),
        pad_value=p.input_zero_point, act_min=p.act_min, act_max=p.act_max,
        weights=ctx.array(op, "weights", "int32_t",
                          depthwise_rows_weights(p.weights.values.reshape(3, 3, p.output_c), table),
                          f"{w.name}: per channel, per filter row the doubled int16 pairs (w0,w1), (w1,w2), "
                          "then 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    if not fits_int16(params):
        return None
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_depthwise_rows_dsp_s8", header="ek_depthwise_rows_dsp.h",
                               params=params, args=(x_arg, y_arg, ctx.scratch(op)),
                               scratch_bytes=kernel_facts.scratch_bytes("ek_depthwise_rows_dsp_s8", row_len, group, c,
                                                                        blocks, tail, params.direct),
                               features=requant_features(p.act_min, p.output_offset),
                               overlaps=rows_overlap(params, clamps=(p.act_min, p.act_max) != (-128, 127)))


def depthwise_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core, depth multiplier 1, channels a multiple of four."""
    p = call.params
    return ctx.target.dsp and p.depth_multiplier == 1 and p.input_c % 4 == 0


def lower_depthwise_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_depthwise_dsp_s8 for ``call`` (an ek_depthwise_conv2d_s8 call), None when its
    requantization or sizes are outside the kernel's bounds."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    w_taps, table = depthwise_table(ctx, call)
    if table is None:
        return None
    op = call.op
    params = DepthwiseDspParams(
        input_h=p.input_h, input_w=p.input_w, input_c=p.input_c, output_h=p.output_h,
        output_w=p.output_w, filter_h=p.filter_h, filter_w=p.filter_w, stride_h=p.stride_h,
        stride_w=p.stride_w, dilation_h=p.dilation_h, dilation_w=p.dilation_w, pad_top=p.pad_top,
        pad_left=p.pad_left, pad_value=p.input_zero_point, **activation_fields(p),
        weights=ctx.array(op, "weights", "int16_t", depthwise_weights(w_taps),
                          f"{w.name}: doubled int16 pairs per group of 4 channels and tap"),
        requant=ctx.array(op, "requant", "int32_t", table.reshape(-1),
                          "per channel: 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    if not fits_int16(params):
        return None
    scratch = kernel_facts.scratch_bytes("ek_depthwise_dsp_s8", p.input_c, p.filter_h, p.filter_w)
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_depthwise_dsp_s8", header="ek_depthwise_dsp.h", params=params,
                               args=(x_arg, y_arg, ctx.scratch(op)), scratch_bytes=scratch,
                               features=requant_features(p.act_min, p.output_offset))

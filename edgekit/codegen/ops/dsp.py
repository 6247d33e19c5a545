"""Lowerings to the DSP-extension kernels (``firmware/kernels/dsp/``), for targets that have it.

Each function takes the portable kernel's call (all of whose constants are already computed
exactly as TFLM does) and returns the DSP kernel's call for the same operator, or the portable
call unchanged when the DSP kernel does not cover the case. The DSP kernels compute the same
bits; what changes is only the layout of the constants:

* weights are reordered into the order the inner loop reads them (``gemm_weights``,
  ``fc_weights``, ``depthwise_weights``); padding rows/columns are zero;
* the requantization is folded per channel into four int32 (``requant_table``): the doubled
  folded bias the accumulator starts from, the multiplier, the rounding-and-offset term ``c``
  and the right shift, for ``ek_requant2`` (ek_dsp.h). That form is exact only under bounds
  the generator proves here from the actual weights and biases (no left shift, right shift at
  least 1, no int32 overflow of the doubled accumulator); a layer outside them keeps the
  portable kernel.

Palettized/sparse weights (``palette.py``) trade speed for flash; on a DSP target they are used
only for clustered weights (a palette at most half the size) or heavily pruned ones (sparse,
at most a quarter), not for the zeros a trained model has anyway. Output channels whose
weights are all zero are not computed at all: their constant output is worked out here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...ir import Tensor
from ...plan import Overlap
from ..arith import multiply_by_quantized_multiplier
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from ..overlap import events_lead
from .palette import ENCODING_PALETTE, _enabled, choose_encoding, packed_conv2d, packed_fully_connected
from .winograd import winograd_conv2d

INT32_LIMIT = 2**31
MAX_RIGHT = 23  # c = 2^(right-1) + (offset << right) must fit int32 for |offset| <= 128
# depthwise rows kernel, stride 2: a ring of widened rows larger than this goes in channel groups
# (each input row is then widened 1.5 times, not once; at stride 1 it would be 3 times: never),
# when the ring could raise the arena: the input and the ring exceed the largest activation
DW_RING_BYTES_S2 = 4096
LAST_PAIR = 1 << 31  # EK_LAST_PAIR of ek_conv2d_dsp.c
# a fully connected layer this small (a classifier head) takes the portable kernel on DSP cores:
# a few thousand cycles either way, and the portable kernel (compiled for size there,
# build.DSP_LIGHT_KERNELS) is half the code of the DSP one
SMALL_FC_MACS = 1024
PACKED_MAX_RATIO = 0.5  # on DSP targets, a palette only when it takes <= half the bytes
SPARSE_MAX_RATIO = 0.25  # and a sparse encoding only when it takes <= a quarter


# ---------------------------------------------------------------------------- requantization


def requant_table(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, output_offset: int,
                  max_abs_acc: np.ndarray) -> np.ndarray | None:
    """Per channel (2 * bias', multiplier, c, right) for ``ek_requant2``, or None when some
    channel is outside the bounds under which that form equals TFLite's arithmetic.

    ``max_abs_acc[n]`` bounds |accumulator| of channel n over all inputs (bias included)."""
    bias = np.asarray(bias, np.int64)
    rows = np.zeros((bias.size, 4), np.int64)
    for n in range(bias.size):
        m, s, amax = int(multiplier[n]), int(shift[n]), int(max_abs_acc[n])
        if 2 * amax >= INT32_LIMIT:
            return None
        rows[n, 0] = 2 * bias[n]
        if m == 0:  # a dead channel: the output is the offset whatever the accumulator
            rows[n, 1:] = (0, 1 + 2 * output_offset, 1)
            continue
        if s >= 0:  # needs a left shift, or rounds at no fractional bit
            return None
        right = -s
        t_max = amax * m // INT32_LIMIT + 1  # |SaturatingRoundingDoublingHighMul(acc, m)|
        if right > MAX_RIGHT:
            # every reachable t rounds to 0 at MAX_RIGHT as it does at `right`
            if t_max >= 2 ** (MAX_RIGHT - 1):
                return None
            right = MAX_RIGHT
        c = 2 ** (right - 1) + output_offset * 2**right
        if abs(c) + t_max + 1 >= INT32_LIMIT:
            return None
        rows[n, 1:] = (m, c, right)
    return rows


def requant_features(act_min: int, output_offset: int) -> frozenset[str]:
    """The ek_config.h switches a call of ek_conv2d_dsp_s8 or ek_depthwise_rows_dsp_s8 needs:
    EK_REQUANT_BELOW_ZERO_POINT unless its outputs are clamped at or above the output zero
    point (ek_requant2_clamped, ek_dsp.h)."""
    return frozenset() if act_min >= output_offset else frozenset({"EK_REQUANT_BELOW_ZERO_POINT"})


def max_abs_acc(bias: np.ndarray, w_rows: np.ndarray) -> np.ndarray:
    """Bound of |bias' + sum_k x_k * w_k| for int8 x (padding taps read an int8 zero point)."""
    return np.abs(np.asarray(bias, np.int64)) + 128 * np.abs(np.asarray(w_rows, np.int64)).sum(axis=1)


def packing_enabled() -> bool:
    """False inside ``palette.packing(False)`` (dense weights asked for)."""
    return _enabled.get()


def _fits_int16(params: CStruct) -> bool:
    """The DSP parameter structs store sizes and offsets as int16_t (ek_*_dsp.h)."""
    return all(-(2**15) <= v < 2**15 for _, v in params.c_fields() if isinstance(v, int))


def _activation(p) -> dict:
    return {"act_full": int(p.act_min == -128 and p.act_max == 127), "act_min": p.act_min,
            "act_max": p.act_max}


def _prefer_packed(w_rows: np.ndarray, dsp_bytes: int | None = None) -> bool:
    """Compressed weights (``palette.py``) run several times slower than the DSP kernels: they
    are chosen only when they are much smaller than what the DSP kernel stores (``dsp_bytes``,
    default the dense tensor): a palette (clustered weights) at most half of it, a sparse
    encoding (pruned weights) at most a quarter."""
    if not packing_enabled():
        return False
    enc = choose_encoding(np.asarray(w_rows, np.int8))
    if enc is None:
        return False
    limit = PACKED_MAX_RATIO if enc.kind == ENCODING_PALETTE else SPARSE_MAX_RATIO
    return enc.nbytes <= limit * (w_rows.size if dsp_bytes is None else dsp_bytes)


# ---------------------------------------------------------------------------- weight layouts


def _as_int32(words: np.ndarray) -> np.ndarray:
    """Unsigned 32-bit words (values in [0, 2^32)) as the int32 values with the same bits."""
    return np.where(words >= 2**31, words - 2**32, words)


def _round_up(v: int, m: int) -> int:
    return (v + m - 1) // m * m


def pair_order(k_pad: int) -> np.ndarray:
    """The k of each int16 pair the kernels read: SXTB16 unpacks a word of four int8 columns
    {k0, k1, k2, k3} into the pairs (k0, k2) and (k1, k3). Shape (k_pad // 2, 2)."""
    g = np.arange(k_pad // 4)
    first = np.stack([4 * g, 4 * g + 1], axis=1).reshape(-1)
    return np.stack([first, first + 2], axis=1)


def gemm_weights(w_rows: np.ndarray, k_pad: int, rows_per_word: int) -> np.ndarray:
    """Weights [n][k] as the DSP GEMM kernels read them: per block of ``rows_per_word`` rows
    (2 for the convolution, 4 for fully connected), per k pair (``pair_order``), per pair of
    rows in the block one word {w[r][ka], w[r+1][ka], w[r][kb], w[r+1][kb]}: SXTB16 of it is
    row r's int16 pair, SXTB16 of it rotated by 8 bits row r+1's. Rows and k are padded with
    zeros to the block and to ``k_pad``."""
    n, k = w_rows.shape
    block = rows_per_word
    n_pad = _round_up(n, block)
    w = np.zeros((n_pad, k_pad), np.int64)
    w[:n, :k] = w_rows
    ka, kb = pair_order(k_pad).T
    # [block][k pair][row pair within block][4 bytes]
    blocks = w.reshape(n_pad // block, block // 2, 2, k_pad)
    words = np.stack([blocks[:, :, 0, ka], blocks[:, :, 1, ka], blocks[:, :, 0, kb], blocks[:, :, 1, kb]],
                     axis=-1)  # (blocks, row pairs, k pairs, 4)
    return words.transpose(0, 2, 1, 3).reshape(-1)


# ---------------------------------------------------------------------------- CONV_2D


@dataclass(frozen=True)
class Conv2DDspParams(CStruct):
    C_TYPE = "ek_conv2d_dsp_params"
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
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int
    k_pad: int
    pad_value: int
    act_full: int
    act_min: int
    act_max: int
    live_c: int
    stream: CArray
    dead_row: CArray | str


def constant_outputs(bias, multiplier, shift, output_offset: int, act_min: int, act_max: int) -> np.ndarray:
    """The outputs of channels whose weights are all zero: requantized folded bias, exactly as
    TFLM computes it (the accumulator is the bias alone, whatever the input)."""
    v = multiply_by_quantized_multiplier(np.asarray(bias, np.int64), np.asarray(multiplier, np.int64),
                                         np.asarray(shift, np.int64)) + output_offset
    return np.clip(v, act_min, act_max)


def column_order(filter_h: int, row: int) -> np.ndarray:
    """The k (index into a filter's (ky, kx, c) taps) at each position of the column
    ek_conv2d_dsp_s8 builds, -1 for a position it fills with a don't-care byte: every filter
    row's whole words (``row // 4 * 4`` taps), then the last ``row % 4`` taps of every row,
    gathered into words; when they fit one word (and a row has a whole word) they sit at its
    top, else they start the first word and the last one is padded."""
    full, rem = row // 4 * 4, row % 4
    order = [ky * row + b for ky in range(filter_h) for b in range(full)]
    tail = [ky * row + full + b for ky in range(filter_h) for b in range(rem)]
    pad = [-1] * (-len(tail) % 4)
    quick = row >= 4 and len(tail) <= 4
    order += pad + tail if quick else tail + pad
    return np.asarray(order, np.int64)


def conv_stream(w_live: np.ndarray, table: np.ndarray, channels: np.ndarray, k_pad: int) -> np.ndarray:
    """What ek_conv2d_dsp_s8's channel loop reads, as int32 words in reading order: per pair of
    live channels, the two doubled folded biases (its columns are doubled), the weights
    (``gemm_weights``, four int8 per word, little-endian), then per channel the multiplier, c
    and right | channel << 8, with ``LAST_PAIR`` set in the last pair's last word (the kernel's
    loop ends there). An odd last channel is paired with a copy of itself (same output, stored
    twice)."""
    n = w_live.shape[0]
    if n == 0:
        return np.zeros(1, np.int64)  # no pair is read
    if n % 2:
        w_live = np.concatenate([w_live, w_live[-1:]])
        table = np.concatenate([table, table[-1:]])
        channels = np.concatenate([channels, channels[-1:]])
    pairs = w_live.shape[0] // 2
    wb = gemm_weights(w_live, k_pad, 2).astype(np.int8)
    words = wb.view("<i4").astype(np.int64).reshape(pairs, k_pad // 2)
    table = np.asarray(table, np.int64)
    terms = np.stack([table[:, 1], table[:, 2], table[:, 3] | (np.asarray(channels, np.int64) << 8)], axis=1)
    terms[-1, 2] |= LAST_PAIR
    out = np.concatenate([table[:, 0].reshape(pairs, 2), words, terms.reshape(pairs, 6)], axis=1)
    return _as_int32(out).reshape(-1)


def dsp_conv2d(ctx: LowerCtx, call: KernelCall, w: Tensor) -> KernelCall:
    """ek_conv2d_dsp_s8 for a non-grouped CONV_2D, else the portable (or packed) call."""
    p = call.params
    w_rows = w.data.reshape(w.shape[0], -1).astype(np.int64)
    live = np.flatnonzero(np.abs(w_rows).sum(axis=1) > 0)
    if p.groups != 1 or p.dilation_w != 1 or _prefer_packed(w_rows, live.size * w_rows.shape[1]):
        return packed_conv2d(ctx, call, w)
    bias, mult, shift = p.bias.values, p.multiplier.values, p.shift.values
    full = requant_table(bias, mult, shift, p.output_offset, max_abs_acc(bias, w_rows))
    wino = None if full is None else winograd_conv2d(ctx, call, w.data, full)
    if wino is not None:
        return wino
    table = full if live.size == p.output_c else requant_table(
        bias[live], mult[live], shift[live], p.output_offset, max_abs_acc(bias[live], w_rows[live]))
    if table is None:
        return packed_conv2d(ctx, call, w)
    op = call.op
    run = p.filter_w * p.input_c  # a window row's taps
    order = column_order(p.filter_h, run)
    k_pad = _round_up(order.size, 4)  # already whole words
    w_cols = np.where(order >= 0, w_rows[:, np.maximum(order, 0)], 0)  # the weights in column order
    n_live = live.size
    if n_live < p.output_c:
        dead = np.setdiff1d(np.arange(p.output_c), live)
        row = np.zeros(p.output_c, np.int64)
        row[dead] = constant_outputs(bias[dead], mult[dead], shift[dead], p.output_offset, p.act_min, p.act_max)
        dead_row = ctx.array(op, "dead_row", "int8_t", row,
                             f"outputs of the {dead.size} channels whose weights are all zero")
    else:
        dead_row = "NULL"
    params = Conv2DDspParams(
        input_h=p.input_h, input_w=p.input_w, input_c=p.input_c, output_h=p.output_h,
        output_w=p.output_w, output_c=p.output_c, filter_h=p.filter_h, filter_w=p.filter_w,
        stride_h=p.stride_h, stride_w=p.stride_w, dilation_h=p.dilation_h, dilation_w=p.dilation_w,
        pad_top=p.pad_top, pad_left=p.pad_left, k_pad=k_pad, pad_value=p.input_zero_point, **_activation(p),
        live_c=n_live,
        stream=ctx.array(op, "stream", "int32_t", conv_stream(w_cols[live], table, live, k_pad),
                         f"{w.name}: per channel pair the doubled folded biases, the weights per k pair in "
                         "the order the DSP GEMM reads them, then per channel multiplier, rounding + offset, "
                         "right shift | output channel << 8"
                         + (f" ({n_live} of {p.output_c} channels; the rest are all zero)"
                            if n_live < p.output_c else "")),
        dead_row=dead_row,
    )
    if not _fits_int16(params):
        return packed_conv2d(ctx, call, w)
    scratch = 9 * k_pad + _round_up(p.output_c, 4)
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_conv2d_dsp_s8", header="ek_conv2d_dsp.h", params=params,
                               args=(x_arg, y_arg, ctx.scratch(op)), scratch_bytes=scratch,
                               features=requant_features(p.act_min, p.output_offset))


# ---------------------------------------------------------------------------- DEPTHWISE_CONV_2D


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
    half: int
    direct: int
    pad_value: int
    act_min: int
    act_max: int
    weights: CArray


def depthwise_rows_weights(w: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Weights [3][3][c] and requantization rows [c][4] as ek_depthwise_rows_dsp_s8 reads them:
    per channel ten int32 words, the doubled int16 pairs (w0, w1), (w1, w2) of each filter row
    (low half first), then 2 * bias, multiplier, c, right."""
    w = 2 * np.asarray(w, np.int64)  # [kh][3][c]
    lo = np.stack([w[:, 0], w[:, 1]], axis=-1)  # [kh][c][2]: (w0, w1) and (w1, w2) low halves
    hi = np.stack([w[:, 1], w[:, 2]], axis=-1)
    words = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)  # as unsigned 32-bit
    words = _as_int32(words)
    per_channel = words.transpose(1, 0, 2).reshape(w.shape[2], 6)
    return np.concatenate([per_channel, np.asarray(table, np.int64)], axis=1).reshape(-1)


def rows_blocks(output_w: int) -> tuple[int, int]:
    """(blocks of four, 1 if a block of two follows) covering ``output_w`` outputs: a remainder
    of 3 takes a block of four, of 1 or 2 a block of two; there is at least one block of four."""
    blocks, rem = divmod(output_w, 4)
    if rem == 3 or blocks == 0:
        return blocks + 1, 0
    return blocks, int(rem > 0)


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


def _dw_rows_call(ctx: LowerCtx, call: KernelCall, w: Tensor, table: np.ndarray) -> KernelCall | None:
    p = call.params
    if p.filter_h != 3 or p.filter_w != 3 or p.dilation_h != 1 or p.dilation_w != 1:
        return None
    if p.stride_w not in (1, 2):
        return None
    c, s = p.input_c, p.stride_w
    blocks, half = rows_blocks(p.output_w)
    n_out = 4 * blocks + 2 * half
    # one past the last int16 a plane row is read at: block b starts at tap 4 * s * b and reads
    # 2 * s + 1 words (a block of two: s + 1)
    last = 4 * s * blocks + 2
    if half:
        last = 4 * s * blocks + 2 * s + 2
    row_len = _round_up(max(p.pad_left + p.input_w, last), 2)
    x = ctx.tensor(call.op.inputs[0])
    largest = max(t.nbytes for t in ctx.graph.tensors if not t.is_constant)
    may_raise_arena = x.nbytes + 6 * row_len * c > largest
    group = rows_group(c, row_len, DW_RING_BYTES_S2 if s == 2 and may_raise_arena else None)
    op = call.op
    params = DepthwiseRowsParams(
        input_h=p.input_h, input_w=p.input_w, channels=c, output_h=p.output_h, output_w=p.output_w,
        stride_h=p.stride_h, stride_w=s, pad_top=p.pad_top, pad_left=p.pad_left,
        row_len=row_len, group=group, blocks=blocks, half=half, direct=int(n_out == p.output_w),
        pad_value=p.input_zero_point, act_min=p.act_min, act_max=p.act_max,
        weights=ctx.array(op, "weights", "int32_t", depthwise_rows_weights(w.data.reshape(3, 3, p.output_c), table),
                          f"{w.name}: per channel, per filter row the doubled int16 pairs (w0,w1), (w1,w2), "
                          "then 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    if not _fits_int16(params):
        return None
    slots = 6 * row_len * group
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_depthwise_rows_dsp_s8", header="ek_depthwise_rows_dsp.h",
                               params=params, args=(x_arg, y_arg, ctx.scratch(op)),
                               scratch_bytes=slots + (0 if params.direct else n_out * c),
                               features=requant_features(p.act_min, p.output_offset),
                               overlaps=rows_overlap(params, clamps=(p.act_min, p.act_max) != (-128, 127)))


def dsp_depthwise(ctx: LowerCtx, call: KernelCall, w: Tensor) -> KernelCall:
    """ek_depthwise_rows_dsp_s8 for 3-wide filters, else ek_depthwise_dsp_s8 for channels a
    multiple of 4 (depth multiplier 1 for both), else the portable call."""
    p = call.params
    if p.depth_multiplier != 1:
        return call
    w_taps = w.data.reshape(p.filter_h * p.filter_w, p.output_c).astype(np.int64)
    table = requant_table(p.bias.values, p.multiplier.values, p.shift.values, p.output_offset,
                          max_abs_acc(p.bias.values, w_taps.T))
    if table is None:
        return call
    rows = _dw_rows_call(ctx, call, w, table)
    if rows is not None:
        return rows
    if p.input_c % 4 != 0:
        return call
    op = call.op
    params = DepthwiseDspParams(
        input_h=p.input_h, input_w=p.input_w, input_c=p.input_c, output_h=p.output_h,
        output_w=p.output_w, filter_h=p.filter_h, filter_w=p.filter_w, stride_h=p.stride_h,
        stride_w=p.stride_w, dilation_h=p.dilation_h, dilation_w=p.dilation_w, pad_top=p.pad_top,
        pad_left=p.pad_left, pad_value=p.input_zero_point, **_activation(p),
        weights=ctx.array(op, "weights", "int16_t", depthwise_weights(w_taps),
                          f"{w.name}: doubled int16 pairs per group of 4 channels and tap"),
        requant=ctx.array(op, "requant", "int32_t", table.reshape(-1),
                          "per channel: 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    if not _fits_int16(params):
        return call
    # a row of the zero point, and one tap pointer per filter tap (8 bytes covers 64-bit hosts)
    scratch = _round_up(p.input_c, 8) + 8 * p.filter_h * p.filter_w
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_depthwise_dsp_s8", header="ek_depthwise_dsp.h", params=params,
                               args=(x_arg, y_arg, ctx.scratch(op)), scratch_bytes=scratch)


# ---------------------------------------------------------------------------- FULLY_CONNECTED


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
    weights: CArray
    requant: CArray


def dsp_fully_connected(ctx: LowerCtx, call: KernelCall, w: Tensor) -> KernelCall:
    """ek_fully_connected_dsp_s8, else the portable (or packed) call: also for a layer of fewer
    than SMALL_FC_MACS multiply-accumulates, where the portable kernel's smaller code matters
    more than its speed."""
    p = call.params
    if p.batches * p.in_features * p.out_features < SMALL_FC_MACS:
        return call
    w_rows = w.data.astype(np.int64)
    if _prefer_packed(w_rows):
        return packed_fully_connected(ctx, call, w)
    table = requant_table(p.bias.values, p.multiplier.values, p.shift.values, p.output_offset,
                          max_abs_acc(p.bias.values, w_rows))
    if table is None:
        return packed_fully_connected(ctx, call, w)
    op = call.op
    k_pad = _round_up(p.in_features, 4)
    n_pad = _round_up(p.out_features, 4)
    rq = np.zeros((n_pad, 4), np.int64)
    rq[:p.out_features] = table
    params = FullyConnectedDspParams(
        batches=p.batches, in_features=p.in_features, out_features=p.out_features, k_pad=k_pad,
        **_activation(p),
        weights=ctx.array(op, "weights", "int8_t", gemm_weights(w_rows, k_pad, 4),
                          f"{w.name}: per 4 rows and k pair, the order the DSP kernel reads"),
        requant=ctx.array(op, "requant", "int32_t", rq.reshape(-1),
                          "per row: 2 * folded bias, multiplier, rounding + offset, right shift"),
    )
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function="ek_fully_connected_dsp_s8", header="ek_fully_connected_dsp.h",
                               params=params, args=(x_arg, y_arg, ctx.scratch(op)),
                               scratch_bytes=2 * k_pad + (k_pad if k_pad != p.in_features else 0))


# ---------------------------------------------------------------------------- ADD


@dataclass(frozen=True)
class AddDspParams(CStruct):
    C_TYPE = "ek_add_dsp_params"
    size: int
    table1: CArray
    table2: CArray
    out_m: int
    out_c: int
    out_right: int
    act_full: int
    act_min: int
    act_max: int


def add_input_table(offset: int, left_shift: int, multiplier: int, shift: int) -> np.ndarray:
    """TFLite's rescaled ADD input for every int8 value (index value + 128)."""
    x = np.arange(-128, 128, dtype=np.int64)
    return multiply_by_quantized_multiplier((x + offset) * (1 << left_shift), multiplier, shift)


def dsp_add(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    """ek_add_dsp_s8 for an ADD of equal shapes, else the portable call."""
    p = call.params
    if call.function != "ek_add_s8" or p.broadcast:
        return call
    t1 = add_input_table(p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift)
    t2 = add_input_table(p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift)
    raw_max = int(np.abs(t1).max() + np.abs(t2).max())
    rows = requant_table(np.zeros(1), np.array([p.output_multiplier]), np.array([p.output_shift]),
                         p.output_offset, np.array([raw_max]))
    if rows is None or np.abs(t1).max() >= INT32_LIMIT // 4 or np.abs(t2).max() >= INT32_LIMIT // 4:
        return call
    _, m, c, right = (int(v) for v in rows[0])
    op = call.op
    params = AddDspParams(
        size=p.size,
        table1=ctx.array(op, "table1", "int32_t", t1, "input 1 rescaled to the common scale, by value + 128"),
        table2=ctx.array(op, "table2", "int32_t", t2, "input 2 rescaled to the common scale, by value + 128"),
        out_m=m, out_c=c, out_right=right, **_activation(p))
    return dataclasses.replace(call, function="ek_add_dsp_s8", header="ek_add_dsp.h", params=params)

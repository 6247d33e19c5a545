"""CONV_2D on the DSP kernel ``ek_conv2d_dsp_s8`` (firmware/kernels/dsp/ek_conv2d_dsp.h): columns
of four pixels against pairs of output channels, 2x4 SMLAD, one word stream per channel pair;
``ek_conv2d_int4_dsp_s8`` (same parameters and scratch) reads int4 weights, two per byte, from its
stream and unpacks them in registers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...ir import DType
from ...plan import Overlap
from .. import kernel_facts
from ..arith import INT32_MAX, max_abs_acc, multiply_by_quantized_multiplier
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from .dsp_common import activation_fields, as_int32, fits_int16, gemm_weights, requant_features, requant_table, round_up
from .palette import pack_bits

LAST_PAIR = 1 << 31  # EK_LAST_PAIR of ek_conv2d_dsp.c


@dataclass(frozen=True)
class Conv2DDspParams(CStruct):
    C_TYPE = "ek_conv2d_dsp_params"
    input_h: int
    input_w: int
    input_c: int  # one group's
    groups: int
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


@dataclass(frozen=True)
class Conv2DPalDspParams(CStruct):
    C_TYPE = "ek_conv2d_pal_dsp_params"
    conv: Conv2DDspParams  # its stream the palettized one
    bits: int
    chunk_pairs: int  # 0: ek_conv2d_pal_dsp_pixel_s8 (no chunks)


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


def conv_stream(w_live: np.ndarray, table: np.ndarray, channels: np.ndarray, k_pad: int,
                int4: bool = False) -> np.ndarray:
    """What ek_conv2d_dsp_s8's channel loop reads, as int32 words in reading order: per pair of
    live channels, the two doubled folded biases (its columns are doubled), the weights
    (``gemm_weights``, four int8 per word, little-endian), then per channel the multiplier, c
    and right | channel << 8, with ``LAST_PAIR`` set in the last pair's last word (the kernel's
    loop ends there). An odd last channel is paired with a copy of itself (same output, stored
    twice). ``int4`` (weights -8..7): ek_conv2d_int4_dsp_s8's stream, the biases 16 times
    larger and one word per two k pairs, pair 2i's word in the low nibbles, pair 2i + 1's in the
    high ones (``int4_words``)."""
    if w_live.shape[0] == 0:
        return np.zeros(1, np.int64)  # no pair is read
    w_live, table, channels = _paired(w_live, table, channels)
    pairs = w_live.shape[0] // 2
    wb = gemm_weights(w_live, k_pad, 2).astype(np.int8)
    if int4:
        words = int4_words(wb.reshape(pairs, k_pad // 2, 4))
    else:
        words = wb.view("<i4").astype(np.int64).reshape(pairs, k_pad // 2)
    table = np.asarray(table, np.int64)
    terms = np.stack([table[:, 1], table[:, 2], table[:, 3] | (np.asarray(channels, np.int64) << 8)], axis=1)
    terms[-1, 2] |= LAST_PAIR
    biases = table[:, 0].reshape(pairs, 2) * (16 if int4 else 1)
    out = np.concatenate([biases, words, terms.reshape(pairs, 6)], axis=1)
    return as_int32(out).reshape(-1)


#: k of a block of the block-sparse stream: one iteration of the channel loop (eight pairs of k)
SPARSE_BLOCK_K = 16
#: the sentinel word that ends a channel pair's blocks (ek_conv2d_dsp.h)
SPARSE_END = -1
#: the block-sparse kernel is taken when it reads at most this fraction of the dense kernel's pairs
#: of k (a block costs an offset word and a loop test more than eight pairs of the dense loop)
SPARSE_MAX_WORK = 0.85


def sparse_blocks(w_pairs: np.ndarray) -> np.ndarray:
    """[channel pairs][blocks] True where a block of SPARSE_BLOCK_K column positions holds a
    nonzero weight of either channel of the pair (``w_pairs``: [pairs][2][k_pad], k_pad a
    multiple of SPARSE_BLOCK_K)."""
    pairs, _, k_pad = w_pairs.shape
    return np.abs(w_pairs).reshape(pairs, 2, k_pad // SPARSE_BLOCK_K, SPARSE_BLOCK_K).sum(axis=(1, 3)) > 0


def sparse_stream(w_live: np.ndarray, table: np.ndarray, channels: np.ndarray, k_pad: int) -> np.ndarray:
    """ek_conv2d_sparse_dsp_s8's stream: ``conv_stream``'s with, per channel pair, only the blocks
    of eight k pairs that hold a nonzero weight, each after its byte offset in the columns
    (block * 128), then SPARSE_END."""
    if w_live.shape[0] == 0:
        return np.zeros(1, np.int64)
    w_live, table, channels = _paired(w_live, table, channels)
    pairs = w_live.shape[0] // 2
    words = gemm_weights(w_live, k_pad, 2).astype(np.int8).view("<i4").astype(np.int64).reshape(
        pairs, k_pad // SPARSE_BLOCK_K, SPARSE_BLOCK_K // 2)
    live = sparse_blocks(_padded(w_live, k_pad).reshape(pairs, 2, k_pad))
    table = np.asarray(table, np.int64)
    terms = np.stack([table[:, 1], table[:, 2], table[:, 3] | (np.asarray(channels, np.int64) << 8)], axis=1)
    terms[-1, 2] |= LAST_PAIR
    terms = terms.reshape(pairs, 6)
    biases = table[:, 0].reshape(pairs, 2)
    out = []
    for q in range(pairs):
        out.append(biases[q])
        for b in np.flatnonzero(live[q]):
            out.append([b * SPARSE_BLOCK_K * 8])  # the block's byte offset in the columns (16 bytes a pair)
            out.append(words[q, b])
        out.append([SPARSE_END])
        out.append(terms[q])
    return as_int32(np.concatenate(out))


def sparse_kept(params: "Conv2DDspParams") -> float:
    """The fraction of its channel pairs' blocks an ek_conv2d_sparse_dsp_s8 call's stream holds (read
    back from the stream: per pair two biases, offset + eight words per block, SPARSE_END, six terms)."""
    words = params.stream.values
    i, blocks, pairs = 0, 0, 0
    while i < len(words):
        i += 2
        while words[i] != SPARSE_END:
            i += 1 + SPARSE_BLOCK_K // 2
            blocks += 1
        i += 1 + 6
        pairs += 1
    return blocks / max(1, pairs * (params.k_pad // SPARSE_BLOCK_K))


#: the palettized kernel decodes channel pairs into a chunk of scratch of at most this many bytes
#: (at least one pair): more pairs a chunk, fewer walks over the image (each builds every column
#: again), more RAM; where its scratch sets the arena (``Target.lean_ops``), PAL_LEAN_CHUNK_BYTES
PAL_CHUNK_BYTES = 8192
PAL_LEAN_CHUNK_BYTES = 2048
#: the palettized kernel is taken when its stream is at most this fraction of the int8 kernel's (it
#: decodes every weight once a call: a few percent more cycles on large maps, twice as many on 2x2)
PAL_MAX_RATIO = 0.8
#: palette bit widths the kernel decodes
PAL_BITS = (1, 2, 4)


def pal_tables(w_pairs: np.ndarray) -> tuple[int, list[np.ndarray]] | None:
    """The fewest bits (``PAL_BITS``) whose tables hold every value of each channel of ``w_pairs``
    ([pairs * 2][k_pad], the column padding's zeros included), and each channel's table (its values
    sorted, padded with the last to 2^bits); None beyond 16 values in a channel."""
    values = [np.unique(r) for r in w_pairs]
    most = max(len(v) for v in values)
    bits = next((b for b in PAL_BITS if most <= 1 << b), None)
    if bits is None:
        return None
    return bits, [np.concatenate([v, np.full((1 << bits) - len(v), v[-1])]) for v in values]


def pal_stream(w_live: np.ndarray, table: np.ndarray, channels: np.ndarray, k_pad: int):
    """ek_conv2d_pal_dsp_s8's stream and its bits (None where a channel has more than 16 values):
    per channel pair the two doubled folded biases, the two channels' tables, the index of each
    byte of ``conv_stream``'s weight words in its channel's table (``bits`` each, LSB first, padded
    to a word), the six terms."""
    w_live, table, channels = _paired(w_live, table, channels)
    pairs = w_live.shape[0] // 2
    found = pal_tables(_padded(w_live, k_pad))
    if found is None:
        return None
    bits, tables = found
    wb = gemm_weights(w_live, k_pad, 2).reshape(pairs, 2 * k_pad)  # even bytes channel 2q, odd 2q + 1
    table = np.asarray(table, np.int64)
    terms = np.stack([table[:, 1], table[:, 2], table[:, 3] | (np.asarray(channels, np.int64) << 8)], axis=1)
    terms[-1, 2] |= LAST_PAIR
    terms = terms.reshape(pairs, 6)
    code_words = -(-k_pad * bits // 16)
    out = []
    for q in range(pairs):
        t0, t1 = tables[2 * q], tables[2 * q + 1]
        idx = np.empty(2 * k_pad, np.int64)
        idx[0::2] = np.searchsorted(t0, wb[q, 0::2])
        idx[1::2] = np.searchsorted(t1, wb[q, 1::2])
        codes = np.zeros(4 * code_words, np.uint8)
        packed = pack_bits(idx, bits)
        codes[:packed.size] = packed
        tab = np.concatenate([t0, t1]).astype(np.int8).view(np.uint8)
        out += [table[2 * q:2 * q + 2, 0], tab.view("<u4").astype(np.int64), codes.view("<u4").astype(np.int64),
                terms[q]]
    return as_int32(np.concatenate(out)), bits


def pal_walks(params: "Conv2DPalDspParams") -> int:
    """The passes an ek_conv2d_pal_dsp_s8 call makes over the image: one per chunk of channel pairs."""
    return max(1, -(-((params.conv.live_c + 1) // 2) // params.chunk_pairs))


def _padded(w: np.ndarray, k_pad: int) -> np.ndarray:
    out = np.zeros((w.shape[0], k_pad), np.int64)
    out[:, :w.shape[1]] = w
    return out


def _paired(w_live: np.ndarray, table: np.ndarray, channels: np.ndarray):
    """An odd last channel paired with a copy of itself (same output, stored twice)."""
    if w_live.shape[0] % 2 == 0:
        return w_live, table, channels
    return (np.concatenate([w_live, w_live[-1:]]), np.concatenate([table, table[-1:]]),
            np.concatenate([channels, channels[-1:]]))


def int4_words(pair_bytes: np.ndarray) -> np.ndarray:
    """int8 weight words as bytes [channel pairs][k pairs][4] (k pairs even, values -8..7) to the
    int4 stream's words [channel pairs][k pairs / 2]: byte b of word i holds byte b of pair 2i's
    word in its low nibble and byte b of pair 2i + 1's in its high nibble."""
    b = np.asarray(pair_bytes, np.int64)
    nib = (b[:, 0::2] & 0xF) | ((b[:, 1::2] & 0xF) << 4)
    return nib.astype(np.uint8).view("<u4").reshape(b.shape[0], -1).astype(np.int64)


def conv2d_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and a CONV_2D without horizontal dilation (grouped too)."""
    p = call.params
    return ctx.target.dsp and p.dilation_w == 1


def live_channels(w_rows: np.ndarray) -> np.ndarray:
    """The output channels with a nonzero weight (the others' outputs are constants)."""
    return np.flatnonzero(np.abs(w_rows).sum(axis=1) > 0)


def conv2d_int4_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """What ek_conv2d_dsp_s8 takes, with int4 weights."""
    return conv2d_dsp_applies(ctx, call) and ctx.tensor(call.op.inputs[1]).dtype == DType.INT4


def lower_conv2d_int4_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_conv2d_int4_dsp_s8: ek_conv2d_dsp_s8's call with the weights packed two per byte in its
    stream; None where its accumulator, 32 (W x + b'), could leave int32."""
    return lower_conv2d_dsp(ctx, call, int4=True)


def conv2d_sparse_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """What ek_conv2d_dsp_s8 takes, ungrouped, with int8 weights (whether enough blocks are zero
    is the lowering's to say)."""
    return (conv2d_dsp_applies(ctx, call) and call.params.groups == 1
            and ctx.tensor(call.op.inputs[1]).dtype != DType.INT4)


def lower_conv2d_sparse_dsp(ctx: LowerCtx, call: KernelCall, max_work: float | None = None) -> KernelCall | None:
    """ek_conv2d_sparse_dsp_s8: ek_conv2d_dsp_s8's call with only the blocks of sixteen k that hold
    a nonzero weight in its stream; None when it would read more than ``max_work`` (default
    SPARSE_MAX_WORK) of the dense kernel's pairs of k."""
    return lower_conv2d_dsp(ctx, call, sparse=True, max_work=SPARSE_MAX_WORK if max_work is None else max_work)


def conv2d_pal_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """What ek_conv2d_sparse_dsp_s8 takes, where weights may be stored compressed (whether each
    channel has few enough values, and whether it pays, is the lowering's to say)."""
    return ctx.target.weight_packing and conv2d_sparse_applies(ctx, call)


def lower_conv2d_pal_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_conv2d_pal_dsp_s8: ek_conv2d_dsp_s8's call with palettized weights in its stream; None
    where a channel has more than 16 values or the stream would not be at most PAL_MAX_RATIO of the
    int8 kernel's."""
    return lower_conv2d_dsp(ctx, call, palette=True)


def conv2d_pal_pixel_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """What ek_conv2d_pal_dsp_s8 takes, as a 1x1 filter on a 1x1 input of whole words of channels:
    one output pixel, the column the input itself."""
    p = call.params
    return (conv2d_pal_applies(ctx, call) and p.input_h == p.input_w == 1 and p.filter_h == p.filter_w == 1
            and p.filter_c % 4 == 0)


def lower_conv2d_pal_pixel(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_conv2d_pal_dsp_pixel_s8: ek_conv2d_pal_dsp_s8's parameters and stream, no scratch, no
    overlap (it reads the whole input for every channel pair)."""
    pal = lower_conv2d_pal_dsp(ctx, call)
    if pal is None:
        return None
    x_arg, y_arg = call.args
    return dataclasses.replace(pal, function="ek_conv2d_pal_dsp_pixel_s8", args=(x_arg, y_arg), scratch_bytes=0,
                               overlaps=(), params=dataclasses.replace(pal.params, chunk_pairs=0))


def lower_conv2d_dsp(ctx: LowerCtx, call: KernelCall, int4: bool = False, sparse: bool = False,
                     max_work: float = SPARSE_MAX_WORK, palette: bool = False) -> KernelCall | None:
    """ek_conv2d_dsp_s8 for ``call`` (an ek_conv2d_s8 call), None when its requantization or sizes
    are outside the kernel's bounds; ``int4``: ek_conv2d_int4_dsp_s8; ``sparse``:
    ek_conv2d_sparse_dsp_s8 (the column padded to whole blocks); ``palette``:
    ek_conv2d_pal_dsp_s8."""
    p = call.params
    w = ctx.tensor(call.op.inputs[1])
    w_rows = w.data.reshape(w.shape[0], -1).astype(np.int64)
    # grouped: every channel is computed (the dead rows are per whole output, ek_conv2d_dsp.h)
    live = live_channels(w_rows) if p.groups == 1 else np.arange(p.output_c)
    bias, mult, shift = p.bias.values, p.multiplier.values, p.shift.values
    acc_bound = max_abs_acc(bias[live], w_rows[live])
    table = requant_table(bias[live], mult[live], shift[live], p.output_offset, acc_bound)
    if table is None:
        return None
    if int4 and 32 * int(np.max(acc_bound, initial=0)) > INT32_MAX:
        return None
    op = call.op
    run = p.filter_w * p.filter_c  # a window row's taps (one group's channels)
    order = column_order(p.filter_h, run)
    k_pad = round_up(order.size, SPARSE_BLOCK_K if sparse else 4)  # already whole words
    w_cols = np.where(order >= 0, w_rows[:, np.maximum(order, 0)], 0)  # the weights in column order
    if sparse:
        pairs = (live.size + 1) // 2
        w_pairs = _padded(w_cols[np.append(live, live[-1:])[:2 * pairs]], k_pad).reshape(pairs, 2, k_pad)
        read = int(sparse_blocks(w_pairs).sum()) * SPARSE_BLOCK_K // 2
        if live.size == 0 or read > max_work * pairs * round_up(order.size, 4) // 2:
            return None
        stream = sparse_stream(w_cols[live], table, live, k_pad)
    elif palette:
        if live.size == 0:
            return None
        found = pal_stream(w_cols[live], table, live, k_pad)
        if found is None:
            return None
        stream, bits = found
        if stream.size > PAL_MAX_RATIO * ((live.size + 1) // 2 * (8 + k_pad // 2)):  # vs the int8 stream's words
            return None
    elif p.groups > 1:  # each group's pairs a part of the stream of its own
        per = p.output_c // p.groups
        parts = [live[g * per:(g + 1) * per] for g in range(p.groups)]
        stream = np.concatenate([conv_stream(w_cols[c], table[c], c, k_pad, int4) for c in parts])
    else:
        stream = conv_stream(w_cols[live], table, live, k_pad, int4)
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
        input_h=p.input_h, input_w=p.input_w, input_c=p.filter_c, groups=p.groups, output_h=p.output_h,
        output_w=p.output_w, output_c=p.output_c, filter_h=p.filter_h, filter_w=p.filter_w,
        stride_h=p.stride_h, stride_w=p.stride_w, dilation_h=p.dilation_h, dilation_w=p.dilation_w,
        pad_top=p.pad_top, pad_left=p.pad_left, k_pad=k_pad, pad_value=p.input_zero_point, **activation_fields(p),
        live_c=n_live,
        stream=ctx.array(op, "stream", "int32_t", stream,
                         f"{w.name}: per channel pair the "
                         + ("doubled folded biases x 16, the int4 weights, a word per two k pairs, "
                            if int4 else
                            f"doubled folded biases, both channels' {1 << bits}-value tables, a {bits}-bit "
                            "index per byte of the int8 kernel's weight words, " if palette else
                            "doubled folded biases, per block of 16 k holding a nonzero weight its offset "
                            "and its weights per k pair, the end mark, " if sparse else
                            "doubled folded biases, the weights per k pair ")
                         + "in the order the DSP GEMM reads them, then per channel multiplier, rounding + offset, "
                         "right shift | output channel << 8"
                         + (f" ({n_live} of {p.output_c} channels; the rest are all zero)"
                            if n_live < p.output_c else "")
                         + (f"; {p.groups} groups, one after another" if p.groups > 1 else "")),
        dead_row=dead_row,
    )
    if not fits_int16(params):
        return None
    overlaps = grouped_overlap(call.overlaps, p)
    if palette:
        pairs = (n_live + 1) // 2
        budget = PAL_LEAN_CHUNK_BYTES if op.index in ctx.target.lean_ops else PAL_CHUNK_BYTES
        chunk = max(1, min(pairs, budget // (4 * (8 + k_pad // 2))))
        function = "ek_conv2d_pal_dsp_s8"
        scratch = kernel_facts.scratch_bytes(function, k_pad, p.output_c, chunk)
        params = Conv2DPalDspParams(params, bits, chunk)
        if chunk < pairs:  # a later chunk's walk reads pixels whose outputs an earlier one wrote
            overlaps = ()
    else:
        function = "ek_conv2d_int4_dsp_s8" if int4 else "ek_conv2d_sparse_dsp_s8" if sparse else "ek_conv2d_dsp_s8"
        scratch = kernel_facts.scratch_bytes(function, k_pad, p.output_c)
    x_arg, y_arg = call.args
    return dataclasses.replace(call, function=function, header="ek_conv2d_dsp.h", params=params,
                               args=(x_arg, y_arg, ctx.scratch(op)), scratch_bytes=scratch,
                               overlaps=overlaps, features=requant_features(p.act_min, p.output_offset))


def grouped_overlap(overlaps: tuple[Overlap, ...], p) -> tuple[Overlap, ...]:
    """The DSP conv's overlap: the portable kernel's (the same walk, ek_conv2d_dsp.h); grouped none,
    since each group walks the whole image after the groups before it wrote every output pixel."""
    return overlaps if p.groups == 1 else ()

"""What the DSP-extension kernels (``firmware/kernels/dsp/``) share: the folded requantization
and the weight layouts their inner loops read.

Each DSP lowering (``dsp_conv``, ``dsp_depthwise``, ``dsp_fully_connected``, ``dsp_add``,
``winograd``) takes the portable kernel's call, all of whose constants are already computed
exactly as TFLM does, and builds the DSP kernel's call for the same operator, or returns None
when the operator's data rules the kernel out; the operator's kernel table (in its lowering
module) then tries the next candidate. The DSP kernels compute the same bits; what changes is
only the layout of the constants:

* weights are reordered into the order the inner loop reads them (``gemm_weights`` here, and
  the layouts next to each kernel's lowering); padding rows/columns are zero; ``paired_words``
  recodes ``gemm_weights``' words so that one SXTB16 per word serves two rows;
* the requantization is folded per channel into four int32 (``requant_table``): the doubled
  folded bias the accumulator starts from, the multiplier, the rounding-and-offset term ``c``
  and the right shift, for ``ek_requant2`` (ek_dsp.h). That form is exact only under bounds
  the generator proves here from the actual weights and biases (no left shift, right shift at
  least 1, no int32 overflow of the doubled accumulator); a layer outside them keeps the
  portable kernel.

Clustered CONV_2D weights take the DSP palettized convolution (``dsp_conv``: tables and indices
decoded into the int8 kernel's stream). The portable palettized/sparse kernels (``palette.py``)
trade much more speed for flash; on a DSP target they are used only where no DSP kernel takes the
compressed weights: a palette at most half the size or heavily pruned weights (sparse, at most a
quarter), not the zeros a trained model has anyway (``prefer_packed``).
"""

from __future__ import annotations

import numpy as np

from ..core import Target
from ..lowering import CStruct
from .palette import ENCODING_PALETTE, choose_encoding

INT32_LIMIT = 2**31
MAX_RIGHT = 23  # c = 2^(right-1) + (offset << right) must fit int32 for |offset| <= 128
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
    """The ek_config.h switches a call of ek_conv2d_dsp_s8 or a depthwise DSP kernel needs:
    EK_REQUANT_BELOW_ZERO_POINT unless its outputs are clamped at or above the output zero
    point (ek_requant2_clamped, ek_dsp.h)."""
    return frozenset() if act_min >= output_offset else frozenset({"EK_REQUANT_BELOW_ZERO_POINT"})


def fits_int16(params: CStruct) -> bool:
    """The DSP parameter structs store sizes and offsets as int16_t (ek_*_dsp.h)."""
    return all(-(2**15) <= v < 2**15 for _, v in params.c_fields() if isinstance(v, int))


def activation_fields(p) -> dict:
    return {"act_full": int(p.act_min == -128 and p.act_max == 127), "act_min": p.act_min,
            "act_max": p.act_max}


def prefer_packed(target: Target, w_rows: np.ndarray, dsp_bytes: int | None = None) -> bool:
    """Compressed weights (``palette.py``) run several times slower than the DSP kernels: they
    are chosen only when they are much smaller than what the DSP kernel stores (``dsp_bytes``,
    default the dense tensor): a palette (clustered weights) at most half of it, a sparse
    encoding (pruned weights) at most a quarter."""
    if not target.weight_packing:
        return False
    enc = choose_encoding(np.asarray(w_rows, np.int8))
    if enc is None:
        return False
    limit = PACKED_MAX_RATIO if enc.kind == ENCODING_PALETTE else SPARSE_MAX_RATIO
    return enc.nbytes <= limit * (w_rows.size if dsp_bytes is None else dsp_bytes)


# ---------------------------------------------------------------------------- weight layouts


def as_int32(words: np.ndarray) -> np.ndarray:
    """Unsigned 32-bit words (values in [0, 2^32)) as the int32 values with the same bits."""
    return np.where(words >= 2**31, words - 2**32, words)


def round_up(v: int, m: int) -> int:
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
    n_pad = round_up(n, block)
    w = np.zeros((n_pad, k_pad), np.int64)
    w[:n, :k] = w_rows
    ka, kb = pair_order(k_pad).T
    # [block][k pair][row pair within block][4 bytes]
    blocks = w.reshape(n_pad // block, block // 2, 2, k_pad)
    words = np.stack([blocks[:, :, 0, ka], blocks[:, :, 1, ka], blocks[:, :, 0, kb], blocks[:, :, 1, kb]],
                     axis=-1)  # (blocks, row pairs, k pairs, 4)
    return words.transpose(0, 2, 1, 3).reshape(-1)


PAIRED_ROW_LIMIT = 2**22  # |w . x + b'| of a paired word's upper row: 256 * 2 * it must fit int32


def paired_words(words: np.ndarray, table: np.ndarray, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``gemm_weights``' words (bytes {w[r][ka], w[r+1][ka], w[r][kb], w[r+1][kb]}, r even) in the
    paired layout of ek_gemm4_dsp.h, and the requantization ``table`` (one row per weight row,
    padding included) with each odd row's start made 256 times its own plus the even row's below
    it; None where that layout is not exact. Each 16-bit half becomes 256 * w[r+1][k] + w[r][k]:
    the low byte stays w[r][k], the high byte is w[r+1][k] less one where w[r][k] < 0. Exact when
    every half is a valid int16 (no -128 in row r+1 above a negative weight), every odd row's
    accumulator ``bound`` (per row, as ``table``) is below PAIRED_ROW_LIMIT (the kernel recovers
    it from 256 times it, modulo 2^32) and every new start fits int32."""
    b = np.asarray(words, np.int64).reshape(-1, 2, 2)  # [word][half][low byte, high byte]
    half = 256 * b[..., 1] + b[..., 0]
    odd = np.arange(1, table.shape[0], 2)
    if half.min(initial=0) < -(2**15) or (np.asarray(bound)[odd] >= PAIRED_ROW_LIMIT).any():
        return None
    paired = table.copy()
    paired[odd, 0] = 256 * table[odd, 0] + table[odd - 1, 0]
    if np.abs(paired[:, 0]).max(initial=0) >= INT32_LIMIT:
        return None
    out = np.stack([half & 0xFF, (half >> 8) & 0xFF], axis=-1).reshape(-1)
    return np.where(out >= 128, out - 256, out), paired

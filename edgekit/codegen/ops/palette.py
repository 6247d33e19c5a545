"""Compressed weight storage for CONV_2D and FULLY_CONNECTED: palettized or sparse.

A weight tensor is seen as ``rows`` output channels of ``K`` weights each, in its dense layout
(CONV_2D ``[output_c][filter_h][filter_w][filter_c]``, FULLY_CONNECTED ``[out][in]``). Two
encodings can store it in fewer bytes than int8, and the kernels decode them on the fly in the
dense kernels' loop order, so results stay bit-exact and no scratch RAM is needed:

* **palette** (weights clustered to few values, ``edgekit cluster``): every weight is a
  ``bits``-wide index (1, 2 or 4 bits, packed LSB first, flat over the whole tensor) into an
  int8 table. The table is shared by the tensor (``table_stride`` 0) when the tensor has at
  most ``2**bits`` distinct int8 values, else one table per output channel. Clustering a
  float tensor to K values and quantizing per channel leaves <= K values per channel but up
  to K * rows per tensor, hence the per-channel tables.
* **sparse** (magnitude-pruned weights, ``edgekit prune``): one bit per weight marks the
  nonzeros (flat, LSB first); the nonzero values follow in order, and ``row_start[r]`` is the
  position of row r's first nonzero among them.

An encoding is used only when it takes at most ``MAX_RATIO`` of the dense bytes, counting
every array it adds; ``Target.weight_packing = False`` turns the selection off (to measure the
dense size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...ir import Op, Tensor
from ..lowering import CArray, CStruct, KernelCall, LowerCtx

MAX_RATIO = 0.95  # an encoding must save at least 5% of the tensor's bytes

ENCODING_PALETTE = 1
ENCODING_SPARSE = 2

# ---------------------------------------------------------------------------- encodings


@dataclass(frozen=True)
class Encoding:
    """A packed weight tensor: ``codes`` (indices or bitmap), ``values`` (tables or nonzeros)."""

    kind: int  # ENCODING_PALETTE or ENCODING_SPARSE
    bits: int  # palette: bits per index; sparse: 1
    table_stride: int  # palette: entries per row's table, 0 = one shared table
    codes: np.ndarray  # uint8
    values: np.ndarray  # int8
    row_start: np.ndarray | None  # int32, sparse only

    @property
    def nbytes(self) -> int:
        return int(self.codes.size + self.values.size
                   + (self.row_start.size * 4 if self.row_start is not None else 0))

    @property
    def name(self) -> str:
        if self.kind == ENCODING_SPARSE:
            return "sparse"
        return f"palette{self.bits}" + ("" if self.table_stride == 0 else "_per_channel")


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned ``bits``-wide values packed LSB first into bytes (the last byte zero-padded)."""
    per = 8 // bits
    v = np.asarray(values, dtype=np.uint16).reshape(-1)
    pad = (-v.size) % per
    v = np.concatenate([v, np.zeros(pad, np.uint16)]).reshape(-1, per)
    shifts = (np.arange(per, dtype=np.uint16) * bits)
    return (v << shifts).sum(axis=1).astype(np.uint8)


def unpack_bits(codes: np.ndarray, bits: int, n: int) -> np.ndarray:
    per = 8 // bits
    c = np.asarray(codes, dtype=np.uint16).reshape(-1, 1)
    shifts = np.arange(per, dtype=np.uint16) * bits
    return ((c >> shifts) & ((1 << bits) - 1)).reshape(-1)[:n].astype(np.int64)


def palette_encoding(q: np.ndarray) -> Encoding | None:
    """The smallest palette encoding of int8 rows ``q`` (rows, K), or None beyond 16 values."""
    q = np.asarray(q, dtype=np.int8)
    rows, k = q.shape
    best = None
    shared = np.unique(q)
    per_row = [np.unique(r) for r in q]
    most = max(len(u) for u in per_row)
    for bits in (1, 2, 4):
        cap = 1 << bits
        if len(shared) <= cap:
            idx = np.searchsorted(shared, q)
            enc = Encoding(ENCODING_PALETTE, bits, 0, pack_bits(idx, bits), shared.astype(np.int8), None)
        elif most <= cap:
            table = np.stack([np.concatenate([u, np.full(most - len(u), u[-1], np.int8)]) for u in per_row])
            idx = np.stack([np.searchsorted(t, r) for t, r in zip(table, q)])
            enc = Encoding(ENCODING_PALETTE, bits, most, pack_bits(idx, bits), table.astype(np.int8).reshape(-1), None)
        else:
            continue
        if best is None or enc.nbytes < best.nbytes:
            best = enc
    return best


def sparse_encoding(q: np.ndarray) -> Encoding:
    q = np.asarray(q, dtype=np.int8)
    nz = q != 0
    counts = nz.sum(axis=1)
    row_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
    return Encoding(ENCODING_SPARSE, 1, 0, pack_bits(nz.reshape(-1).astype(np.uint16), 1),
                    q[nz].astype(np.int8), row_start)


def decode(enc: Encoding, rows: int, k: int) -> np.ndarray:
    """The int8 rows an encoding stores (what the kernels see); used to check every encoding."""
    n = rows * k
    if enc.kind == ENCODING_PALETTE:
        idx = unpack_bits(enc.codes, enc.bits, n).reshape(rows, k)
        if enc.table_stride == 0:
            return enc.values[idx].astype(np.int8)
        tables = enc.values.reshape(rows, enc.table_stride)
        return np.take_along_axis(tables, idx, axis=1).astype(np.int8)
    mask = unpack_bits(enc.codes, 1, n).astype(bool)
    out = np.zeros(n, np.int8)
    out[mask] = enc.values
    return out.reshape(rows, k)


def choose_encoding(q: np.ndarray) -> Encoding | None:
    """The smallest encoding of (rows, K) int8 weights that saves enough, else None."""
    q = np.asarray(q, dtype=np.int8)
    candidates = [e for e in (palette_encoding(q), sparse_encoding(q)) if e is not None]
    if not candidates:
        return None
    best = min(candidates, key=lambda e: e.nbytes)
    if best.nbytes > MAX_RATIO * q.size:
        return None
    if not np.array_equal(decode(best, *q.shape), q):  # a packing bug must never reach C
        raise AssertionError(f"{best.name} encoding does not round-trip")
    return best


# ---------------------------------------------------------------------------- lowerings


def _arrays(ctx: LowerCtx, op: Op, enc: Encoding, w: Tensor):
    what = f"{w.name}: {enc.name} encoding"
    codes = ctx.array(op, "codes", "uint8_t", enc.codes,
                      f"{what}, {'nonzero bitmap' if enc.kind == ENCODING_SPARSE else f'{enc.bits}-bit indices'}")
    values = ctx.array(op, "values", "int8_t", enc.values,
                       "nonzero weights" if enc.kind == ENCODING_SPARSE else "palette table(s)")
    row_start = (ctx.array(op, "row_start", "int32_t", enc.row_start, "first nonzero of each row")
                 if enc.row_start is not None else "NULL")
    return codes, values, row_start


_PACKED_FIELDS = ("encoding", "bits", "table_stride", "codes", "values", "row_start")


def _packed_params(cls, base: CStruct, enc: Encoding, arrays) -> CStruct:
    codes, values, row_start = arrays
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.name != "weights"}
    return cls(**fields, encoding=enc.kind, bits=enc.bits, table_stride=enc.table_stride,
               codes=codes, values=values, row_start=row_start)


def _packed_struct(name: str, c_type: str, base_cls) -> type:
    """A params dataclass: ``base_cls``'s fields without ``weights``, then the packed fields."""
    fields = [(f.name, f.type) for f in dataclasses.fields(base_cls) if f.name != "weights"]
    fields += [("encoding", int), ("bits", int), ("table_stride", int), ("codes", CArray),
               ("values", CArray), ("row_start", object)]
    cls = dataclasses.make_dataclass(name, fields, bases=(CStruct,), frozen=True)
    cls.C_TYPE = c_type
    return cls


_STRUCTS: dict[str, type] = {}


def _struct_for(base: CStruct, c_type: str) -> type:
    if c_type not in _STRUCTS:
        _STRUCTS[c_type] = _packed_struct(type(base).__name__.replace("Params", "PackedParams"),
                                          c_type, type(base))
    return _STRUCTS[c_type]


def packing_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """Compressed storage is allowed for this target (``Target.weight_packing``)."""
    return ctx.target.weight_packing


def lower_packed_conv2d(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """``call`` (an ``ek_conv2d_s8`` call) with compressed weights, None when no encoding saves
    enough flash."""
    w = ctx.tensor(call.op.inputs[1])
    enc = choose_encoding(w.data.reshape(w.shape[0], -1))
    if enc is None:
        return None
    cls = _struct_for(call.params, "ek_conv2d_pal_params")
    params = _packed_params(cls, call.params, enc, _arrays(ctx, call.op, enc, w))
    return dataclasses.replace(call, function="ek_conv2d_pal_s8", header="ek_conv2d_pal.h", params=params)


def lower_packed_fully_connected(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """``call`` (an ``ek_fully_connected_s8`` call) with compressed weights, None when no encoding
    saves enough flash."""
    w = ctx.tensor(call.op.inputs[1])
    enc = choose_encoding(w.data.reshape(w.shape[0], -1))
    if enc is None:
        return None
    cls = _struct_for(call.params, "ek_fully_connected_pal_params")
    params = _packed_params(cls, call.params, enc, _arrays(ctx, call.op, enc, w))
    return dataclasses.replace(call, function="ek_fully_connected_pal_s8",
                               header="ek_fully_connected_pal.h", params=params)

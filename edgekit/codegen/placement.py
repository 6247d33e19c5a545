"""Which constant arrays are read from RAM: copied there at start-up (``Target.ram_weights``,
``--ram-weights``), or copied into an operator's scratch just before it runs (``Target.stage_weights``,
``--stage-weights``).

On a board whose flash has wait states (the STM32L4+ at 120 MHz: 5), every weight read that misses
the flash accelerator's small data cache stalls the core; the same read from SRAM does not. A
kernel reads a convolution's weights once per block of output pixels, a fully connected layer's
once per inference: so the arrays are ranked by how often each of their bytes is used, estimated
as the work of the operators that read them (multiply-accumulates, or output elements where an
operator has none) over the bytes of those operators' arrays, and taken in that order while they
fit the budget. A taken array is emitted without ``const`` (``templates/weights.c.j2``), so any C
toolchain puts it in ``.data``: stored in flash, copied to RAM by the start-up code, read from RAM.

Staging costs no static RAM: an operator whose arrays are each used at least STAGE_MIN_USES times
per byte (a convolution over many pixels; not a fully connected layer, whose weights are read once)
gets them copied into its scratch in the arena at the start of its step (``memcpy``, one pass over
flash) and its parameters point there; in a streamed segment, whose kernels are called once per
band, the copies are made before the loop into the stage's own memory in the segment's block (kept
from its first step to its last). The copies often fit where the arena has room; the budget is how
much more arena they may take (``codegen.stage`` takes the operators the most used per byte first).
"""

from __future__ import annotations

import dataclasses

from ..ir import Graph
from ..ir.analysis import op_macs
from .core import RAM_WEIGHTS_ALL
from .lowering import CArray, CStruct, KernelCall

#: an operator's arrays are staged when each byte is used at least this often per inference: a
#: convolution's kernel reads its weights once per block of four output pixels, so 16 uses are
#: about four reads, and the copy (one read and one store per word) pays from two
STAGE_MIN_USES = 16
#: staged arrays start at the kernel's scratch rounded up to this, and each is rounded up to it
STAGE_ALIGN = 8


def uses_per_byte(graph: Graph, calls: list[KernelCall]) -> dict[str, float]:
    """Each constant array's estimated uses per byte in one inference (array name -> uses)."""
    uses: dict[str, float] = {}
    for call in calls:
        arrays = {a.name: a for a in call.arrays}
        total = sum(a.nbytes for a in arrays.values())
        if not total:
            continue
        work = max(op_macs(graph, call.op), sum(t.num_elements for t in graph.op_outputs(call.op)))
        for name in arrays:
            uses[name] = uses.get(name, 0.0) + work / total
    return uses


def ram_arrays(graph: Graph, calls: list[KernelCall], budget: int) -> frozenset[str]:
    """The names of the arrays to place in RAM: the most used per byte first, each taken while the
    ones taken stay within ``budget`` bytes (RAM_WEIGHTS_ALL: every array; 0: none)."""
    if budget == 0:
        return frozenset()
    sizes = {a.name: a.nbytes for c in calls for a in c.arrays}
    if budget == RAM_WEIGHTS_ALL:
        return frozenset(sizes)
    uses = uses_per_byte(graph, calls)
    taken, left = set(), budget
    for name in sorted(sizes, key=lambda n: (-uses.get(n, 0.0), n)):
        if sizes[name] <= left:
            taken.add(name)
            left -= sizes[name]
    return frozenset(taken)


def _round(n: int) -> int:
    return -(-n // STAGE_ALIGN) * STAGE_ALIGN


def stage_candidates(graph: Graph, calls: list[KernelCall], in_ram: frozenset[str],
                     skip: frozenset[int] = frozenset()) -> dict[int, tuple[CArray, ...]]:
    """Per operator index, the arrays staging would copy, the most used per byte first: every array
    of a call whose arrays are each used at least STAGE_MIN_USES times per byte, none of them already
    in RAM; operators in ``skip`` are left."""
    uses = uses_per_byte(graph, calls)
    out = []
    for call in calls:
        arrays = tuple({a.name: a for a in call.arrays}.values())
        if not arrays or call.op.index in skip or any(a.name in in_ram for a in arrays):
            continue
        least = min(uses.get(a.name, 0.0) for a in arrays)
        if least >= STAGE_MIN_USES:
            out.append((-least, call.op.index, arrays))
    return {op: arrays for _, op, arrays in sorted(out)}


def staged_bytes(arrays: tuple[CArray, ...]) -> int:
    """The bytes the copies of ``arrays`` take (each rounded up to STAGE_ALIGN)."""
    return sum(_round(a.nbytes) for a in arrays)


def stage_offsets(start: int, arrays: tuple[CArray, ...]) -> dict[str, int]:
    """Where each staged array sits, from ``start`` (rounded up to STAGE_ALIGN): the end of a call's
    scratch, or a streamed stage's state."""
    offsets, at = {}, _round(start)
    for a in arrays:
        offsets[a.name] = at
        at += _round(a.nbytes)
    return offsets


def with_staging(calls: list[KernelCall], staged: dict[int, tuple[CArray, ...]]) -> list[KernelCall]:
    """The calls with their scratch grown by their staged arrays."""
    out = []
    for c in calls:
        arrays = staged.get(c.op.index)
        if arrays:
            c = dataclasses.replace(c, scratch_bytes=_round(c.scratch_bytes) + staged_bytes(arrays))
        out.append(c)
    return out


def point_to(params: CStruct, where: dict[str, str]) -> CStruct:
    """``params`` with each array named in ``where`` replaced by the C expression of its copy."""
    changes = {}
    for name, v in params.c_fields():
        if isinstance(v, CArray) and v.name in where:
            changes[name] = where[v.name]
        elif isinstance(v, CStruct):
            nested = point_to(v, where)
            if nested is not v:
                changes[name] = nested
    return dataclasses.replace(params, **changes) if changes else params


__all__ = ["STAGE_MIN_USES", "point_to", "ram_arrays", "stage_candidates", "stage_offsets", "staged_bytes",
           "uses_per_byte", "with_staging"]

"""Which constant arrays are copied to RAM at start-up (``Target.ram_weights``, ``--ram-weights``).

On a board whose flash has wait states (the STM32L4+ at 120 MHz: 5), every weight read that misses
the flash accelerator's small data cache stalls the core; the same read from SRAM does not. A
kernel reads a convolution's weights once per block of output pixels, a fully connected layer's
once per inference: so the arrays are ranked by how often each of their bytes is used, estimated
as the work of the operators that read them (multiply-accumulates, or output elements where an
operator has none) over the bytes of those operators' arrays, and taken in that order while they
fit the budget. A taken array is emitted without ``const`` (``templates/weights.c.j2``), so any C
toolchain puts it in ``.data``: stored in flash, copied to RAM by the start-up code, read from RAM.
"""

from __future__ import annotations

from ..ir import Graph
from ..ir.analysis import op_macs
from .core import RAM_WEIGHTS_ALL
from .lowering import KernelCall


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


__all__ = ["ram_arrays", "uses_per_byte"]

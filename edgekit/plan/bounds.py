"""Lower bounds: the bytes each schedule step needs whatever the offsets.

At a step, every live buffer must have its own bytes, except the pairs a kernel declared may
overlap (:class:`~edgekit.plan.buffers.SharedBytes`). For such a pair (input of ``a`` bytes,
output of ``b`` bytes, output starting at least ``lead`` below the input) the two together
span at least ``min(a + b, max(a + lead, b))`` bytes. Buffers linked by declarations form a
component; its inputs are pairwise disjoint, so are its outputs, so the component needs at least
``max(sum of inputs, sum of outputs, largest pair span)``. Components do not share bytes with
each other, so a step's requirement is the sum over components -- a true lower bound on any
arena, which the verifier's rules guarantee.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

from .buffers import ALIGNMENT, Buffer, SharedBytes, align_up


def pair_span(input_size: int, output_size: int, lead: int, alignment: int = ALIGNMENT) -> int:
    """The fewest bytes an (input, output) pair with a declared overlap can occupy."""
    lead = align_up(lead, alignment)
    return min(input_size + output_size, max(input_size + lead, output_size))


def requirement(sizes: Mapping[Hashable, int], pairs: Iterable[tuple[Hashable, Hashable, int]]) -> int:
    """Bytes needed by buffers ``sizes`` (key -> size) alive together, where ``pairs``
    (input key, output key, lead) may share bytes."""
    pairs = [p for p in pairs if p[0] in sizes and p[1] in sizes]
    if not pairs:
        return sum(sizes.values())
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for i, o, _ in pairs:
        parent.setdefault(i, i)
        parent.setdefault(o, o)
        ri, ro = find(i), find(o)
        if ri != ro:
            parent[ri] = ro
    comps: dict = {}
    for i, o, lead in pairs:
        c = comps.setdefault(find(o), {"in": set(), "out": set(), "span": 0})
        c["in"].add(i)
        c["out"].add(o)
        c["span"] = max(c["span"], pair_span(sizes[i], sizes[o], lead))
    linked = set(parent)
    total = sum(s for k, s in sizes.items() if k not in linked)
    for c in comps.values():
        total += max(sum(sizes[k] for k in c["in"]), sum(sizes[k] for k in c["out"]), c["span"])
    return total


def step_requirements(buffers: Sequence[Buffer], shared: Sequence[SharedBytes] = (),
                      num_steps: int | None = None) -> list[int]:
    """Per step, the fewest bytes its live buffers can occupy given the declared overlaps."""
    if num_steps is None:
        num_steps = max((b.last for b in buffers), default=-1) + 1
    out = []
    for s in range(num_steps):
        sizes = {b.id: b.size for b in buffers if b.first <= s <= b.last}
        out.append(requirement(sizes, [(p.input, p.output, p.lead) for p in shared if p.step == s]))
    return out


def no_overlap_requirements(buffers: Sequence[Buffer], num_steps: int | None = None) -> list[int]:
    """Per step, the bytes of the buffers alive at that step (no overlap allowed)."""
    return step_requirements(buffers, (), num_steps)

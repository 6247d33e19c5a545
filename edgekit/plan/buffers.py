"""From a lowered graph to planner buffers: lifetimes, aliases, scratch."""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Mapping

from ..ir import Graph

ALIGNMENT = 16


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Buffer:
    """One block of arena memory, alive over schedule steps ``first..last`` (inclusive).

    ``tensors``: the activation tensors stored here (several when an operator only
    reinterprets its input, e.g. RESHAPE). ``scratch_of``: the operator whose scratch this is.
    """

    id: int
    name: str
    size: int
    first: int
    last: int
    alignment: int = ALIGNMENT
    tensors: tuple[int, ...] = ()
    scratch_of: int | None = None

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


def buffers_for(graph: Graph, aliases: Mapping[int, int] | None = None,
                scratch: Mapping[int, int] | None = None) -> list[Buffer]:
    """Lifetimes in schedule steps: op i reads its inputs and writes its outputs at step i.

    Graph inputs are alive from step 0, graph outputs until the end (step ``len(ops)``).
    ``aliases`` maps an output tensor to the input tensor whose storage it reuses (RESHAPE and
    the like); ``scratch`` maps an operator index to the scratch bytes its kernel needs.
    """
    aliases = aliases or {}
    scratch = scratch or {}
    n = len(graph.ops)
    # alias groups: the output of a pure reinterpretation shares its input's storage
    root: dict[int, int] = {}

    def find(t: int) -> int:
        while t in root:
            t = root[t]
        return t

    for out, src in aliases.items():
        root[out] = find(src)

    first: dict[int, int] = {}
    last: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}

    def touch(t: int, step: int) -> None:
        r = find(t)
        first[r] = min(first.get(r, step), step)
        last[r] = max(last.get(r, step), step)
        if t not in members.setdefault(r, []):
            members[r].append(t)
        sizes[r] = max(sizes.get(r, 0), graph.tensors[t].nbytes)

    for t in graph.inputs:
        touch(t, 0)
    for step, op in enumerate(graph.ops):
        for t in (*op.inputs, *op.outputs):
            if t >= 0 and not graph.tensors[t].is_constant:
                touch(t, step)
    for t in graph.outputs:
        touch(t, n)

    buffers = [
        Buffer(id=r, name=graph.tensors[r].name, size=align_up(sizes[r]), first=first[r],
               last=last[r], tensors=tuple(members[r]))
        for r in sorted(first, key=lambda r: (first[r], r))
    ]
    next_id = len(graph.tensors)
    for step, op in enumerate(graph.ops):
        if scratch.get(op.index, 0) > 0:
            buffers.append(Buffer(id=next_id, name=f"op{op.index} scratch",
                                  size=align_up(scratch[op.index]), first=step, last=step,
                                  scratch_of=op.index))
            next_id += 1
    return buffers

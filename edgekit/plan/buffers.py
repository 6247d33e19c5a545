"""From a scheduled graph to planner buffers: lifetimes, aliases, scratch, declared overlaps.

The planner never sees kernels. What it needs to know about an operator arrives as plain data,
an :class:`OpMemory` per operator index (the code generator builds these from its lowerings):

* ``alias_input``: the operator only reinterprets that input (RESHAPE, SQUEEZE, ...); its output
  shares the input's storage and costs no memory;
* ``scratch_bytes``: working memory the kernel needs while it runs;
* ``overlaps``: :class:`Overlap` declarations, how far the kernel's output may share bytes with
  one of its inputs. A kernel that declares none never has its output overlap an input.

Time is counted in schedule steps: operator ``k`` reads its inputs and writes its outputs at
step ``k``. A buffer is alive over ``first..last`` (inclusive); graph inputs are alive from step
0 (they are copied in before the first operator), graph outputs until step ``len(ops)`` (copied
out after the last). Variable tensors (state a stateful operator keeps across invokes) are alive
from step 0 to step ``len(ops)``: nothing else is ever placed over them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..ir import Graph

ALIGNMENT = 16


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Overlap:
    """A kernel's declaration: output number ``output`` may share bytes with input number
    ``input`` if it starts at least ``lead`` bytes before it::

        output_start <= input_start - lead        (or the two do not overlap at all)

    ``lead == 0`` is in-place execution (element-wise kernels that read element i before they
    write element i, in ascending order). A sliding-window kernel walking both tensors forwards
    needs the output to stay ahead of the input bytes it will still read: ``lead`` is the
    smallest such distance, derived from the kernel's loop order. The planner only uses a
    declaration at the step where the input dies; the verifier checks exactly this inequality.
    """

    input: int
    lead: int = 0
    output: int = 0

    def __post_init__(self):
        if self.lead < 0:
            raise ValueError("Overlap.lead is a number of bytes >= 0")


@dataclass(frozen=True)
class OpMemory:
    """What the planner needs to know about one operator's kernel (plain data)."""

    alias_input: int | None = None
    scratch_bytes: int = 0
    overlaps: tuple[Overlap, ...] = ()


@dataclass(frozen=True)
class Buffer:
    """One block of arena memory, alive over schedule steps ``first..last`` (inclusive).

    ``size`` is rounded up to the alignment. ``tensors``: the activation tensors stored here
    (several when an operator only reinterprets its input, e.g. RESHAPE). ``scratch_of``: the
    operator whose scratch this is.
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


@dataclass(frozen=True)
class SharedBytes:
    """A declared overlap that applies in this schedule: at ``step`` the operator reads buffer
    ``input`` for the last time and writes buffer ``output``, whose start may lie up to
    ``lead`` bytes or more below the input's start, sharing the bytes above."""

    input: int  # Buffer.id
    output: int  # Buffer.id
    step: int
    lead: int

    def aligned_lead(self, alignment: int = ALIGNMENT) -> int:
        return align_up(self.lead, alignment)


def alias_roots(graph: Graph, memory: Mapping[int, OpMemory]) -> dict[int, int]:
    """Tensor -> the tensor whose storage it shares (itself when it owns its storage)."""
    parent: dict[int, int] = {}

    def find(t: int) -> int:
        while t in parent:
            t = parent[t]
        return t

    for op in graph.ops:
        m = memory.get(op.index)
        if m is not None and m.alias_input is not None:
            parent[op.outputs[0]] = find(op.inputs[m.alias_input])
    roots = {}
    for t in range(len(graph.tensors)):
        roots[t] = find(t)
    return roots


def variables(graph: Graph) -> list[int]:
    """The variable tensors an operator uses (an LSTM's output and cell state): their values
    persist from one invoke to the next, so their buffers live from step 0 to the end and no
    other buffer ever shares their bytes."""
    used = {t for op in graph.ops for t in op.inputs if t >= 0}
    return [t.index for t in graph.tensors if t.variable and t.index in used]


def _is_activation(graph: Graph, t: int) -> bool:
    return t >= 0 and not graph.tensors[t].is_constant


def buffers_for(graph: Graph, memory: Mapping[int, OpMemory] | None = None
                ) -> tuple[list[Buffer], list[SharedBytes]]:
    """Buffers (one per alias group of activation tensors, one per scratch) and the declared
    overlaps that apply in the graph's schedule.

    A declaration of operator k for (input i, output o) applies when the input's buffer is last
    used at step k and the output's buffer is first written at step k. If the same buffer
    reaches the operator through several inputs, each of them must declare an overlap with that
    output; the largest lead holds.
    """
    memory = memory or {}
    n = len(graph.ops)
    root = alias_roots(graph, memory)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    nbytes: dict[int, int] = {}

    def touch(t: int, step: int) -> None:
        r = root[t]
        first[r] = min(first.get(r, step), step)
        last[r] = max(last.get(r, step), step)
        if t not in members.setdefault(r, []):
            members[r].append(t)
        nbytes[r] = max(nbytes.get(r, 0), graph.tensors[t].nbytes)

    for t in graph.inputs:
        touch(t, 0)
    for step, op in enumerate(graph.ops):
        for t in (*op.inputs, *op.outputs):
            if _is_activation(graph, t):
                touch(t, step)
    for t in variables(graph):  # state kept across invokes: alive over all of every invoke
        touch(t, 0)
        touch(t, n)
    for t in graph.outputs:
        touch(t, n)

    buffers = [
        Buffer(id=r, name=graph.tensors[r].name, size=align_up(max(nbytes[r], 1)), first=first[r],
               last=last[r], tensors=tuple(members[r]))
        for r in sorted(first, key=lambda r: (first[r], r))
    ]
    next_id = len(graph.tensors)
    for step, op in enumerate(graph.ops):
        m = memory.get(op.index)
        if m is not None and m.scratch_bytes > 0:
            streamed = op.type_name.startswith("STREAMED")  # a streamed segment's block (plan/stream.py)
            buffers.append(Buffer(id=next_id, name=f"{op.type_name} rows" if streamed else f"op{op.index} scratch",
                                  size=align_up(m.scratch_bytes), first=step, last=step,
                                  scratch_of=op.index))
            next_id += 1

    shared: list[SharedBytes] = []
    for step, op in enumerate(graph.ops):
        m = memory.get(op.index)
        if m is None or not m.overlaps or m.alias_input is not None:
            continue
        for o in sorted({d.output for d in m.overlaps}):
            if o >= len(op.outputs) or not _is_activation(graph, op.outputs[o]):
                continue
            out = root[op.outputs[o]]
            if first[out] != step:
                continue
            declared = {d.input: d.lead for d in m.overlaps if d.output == o}
            for src in sorted({root[t] for t in op.inputs if _is_activation(graph, t)}):
                if src == out or last[src] != step:
                    continue
                positions = [i for i, t in enumerate(op.inputs)
                             if _is_activation(graph, t) and root[t] == src]
                if all(i in declared for i in positions):
                    shared.append(SharedBytes(src, out, step, max(declared[i] for i in positions)))
    return buffers, shared

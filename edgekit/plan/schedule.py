"""Operator reordering: the topological order with the smallest peak memory.

A separate pass before offset packing. The cost of an order is its peak step requirement (see
:mod:`edgekit.plan.bounds`): at each step, the bytes of the tensors alive then, with the
overlaps the kernels declared taken into account. This is exactly the lower bound the packer is
measured against, so lowering it lowers what any packing can reach.

The search runs over "states" -- the sets of operators already executed (they determine which
tensors are alive). Dynamic programming over all reachable states is exact; the number of states
grows with the width of the graph (a chain has n, a residual block a few more), so beyond
``max_states`` a beam search keeps only the best states of each level. The file's own order is
kept whenever nothing is strictly better, so plans stay stable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..ir import Graph
from .bounds import requirement
from .buffers import OpMemory, alias_roots, align_up

MAX_STATES = 50_000
BEAM_WIDTH = 256


@dataclass(frozen=True)
class Schedule:
    graph: Graph  # the operators in the chosen order, renumbered (op.index == step)
    order: tuple[int, ...]  # order[step] = index of that operator in the input graph
    method: str  # how the order was chosen, for people
    exact: bool  # the peak is the minimum over all topological orders
    peak: int  # peak step requirement of the chosen order (bytes)
    original_peak: int  # the same for the input order

    @property
    def changed(self) -> bool:
        return self.order != tuple(range(len(self.order)))

    def remap(self, memory: Mapping[int, OpMemory]) -> dict[int, OpMemory]:
        """Per-operator facts keyed by the input graph's indices -> keyed by step."""
        return {step: memory[old] for step, old in enumerate(self.order) if old in memory}


class _Problem:
    """The graph reduced to what ordering needs: groups of tensors sharing storage, their
    sizes, producers and consumers; per operator the groups it creates and its overlaps."""

    def __init__(self, graph: Graph, memory: Mapping[int, OpMemory]):
        n = len(graph.ops)
        self.n = n
        root = alias_roots(graph, memory)
        act = [i for i, t in enumerate(graph.tensors) if not t.is_constant]
        producer: dict[int, int] = {}
        for op in graph.ops:
            for t in op.outputs:
                producer[t] = op.index
        self.size: dict[int, int] = {}
        consumers: dict[int, int] = {}  # group -> bitmask of ops reading it
        for t in act:
            r = root[t]
            self.size[r] = max(self.size.get(r, 0), align_up(max(graph.tensors[t].nbytes, 1)))
        self.outputs_groups = {root[t] for t in graph.outputs}
        self.pred = [0] * n
        self.reads: list[set[int]] = [set() for _ in range(n)]
        self.creates: list[list[int]] = [[] for _ in range(n)]
        self.scratch = [align_up(memory[k].scratch_bytes) if k in memory and memory[k].scratch_bytes
                        else 0 for k in range(n)]
        self.pairs: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for op in graph.ops:
            k = op.index
            for t in op.inputs:
                if t < 0 or graph.tensors[t].is_constant:
                    continue
                if t in producer:
                    self.pred[k] |= 1 << producer[t]
                r = root[t]
                self.reads[k].add(r)
                consumers[r] = consumers.get(r, 0) | (1 << k)
            for t in op.outputs:
                if not graph.tensors[t].is_constant and root[t] == t:
                    self.creates[k].append(t)
            m = memory.get(k)
            if m is None or not m.overlaps or m.alias_input is not None:
                continue
            for o in sorted({d.output for d in m.overlaps}):
                if o >= len(op.outputs) or root[op.outputs[o]] != op.outputs[o]:
                    continue
                out = op.outputs[o]
                declared = {d.input: d.lead for d in m.overlaps if d.output == o}
                for src in sorted(self.reads[k]):
                    positions = [i for i, t in enumerate(op.inputs)
                                 if t >= 0 and not graph.tensors[t].is_constant and root[t] == src]
                    if src != out and all(i in declared for i in positions):
                        self.pairs[k].append((src, out, max(declared[i] for i in positions)))
        self.consumers = consumers
        self.initial = sorted({root[t] for t in graph.inputs})
        self.initial_live = sum(self.size[r] for r in self.initial)

    def dies(self, r: int, done: int) -> bool:
        """Group ``r`` is no longer needed once the operators in ``done`` have run."""
        return r not in self.outputs_groups and self.consumers.get(r, 0) & ~done == 0

    def step(self, done: int, live: int, k: int) -> tuple[int, int]:
        """Run operator k after ``done``: (its step requirement, live bytes afterwards)."""
        new = sum(self.size[r] for r in self.creates[k])
        cost = live + new + self.scratch[k]
        after = done | (1 << k)
        active = [(i, o, lead) for i, o, lead in self.pairs[k] if self.dies(i, after)]
        if active:
            involved = {x for i, o, _ in active for x in (i, o)}
            sizes = {x: self.size[x] for x in involved}
            cost += requirement(sizes, active) - sum(sizes.values())
        freed = sum(self.size[r] for r in self.reads[k] if self.dies(r, after))
        freed += sum(self.size[r] for r in self.creates[k] if self.dies(r, after))
        if done == 0:  # graph inputs nobody reads are copied in and dead after step 0
            freed += sum(self.size[r] for r in self.initial
                         if r not in self.reads[k] and self.dies(r, after))
        return cost, live + new - freed

    def ready(self, done: int) -> list[int]:
        return [k for k in range(self.n) if not done >> k & 1 and self.pred[k] & ~done == 0]

    def peak_of(self, order: Sequence[int]) -> int:
        done, live, peak = 0, self.initial_live, 0
        for k in order:
            cost, live = self.step(done, live, k)
            peak = max(peak, cost)
            done |= 1 << k
        return max(peak, live)


def _search(p: _Problem, max_states: int | None, beam: int | None) -> tuple[list[int], int] | None:
    """Level-by-level search over executed-operator sets. ``beam=None``: exact (returns None if
    more than ``max_states`` states are reached); otherwise keep the ``beam`` best per level."""
    level: dict[int, tuple[int, int]] = {0: (0, p.initial_live)}  # state -> (peak, live)
    back: list[dict[int, tuple[int, int]]] = []  # per level: state -> (previous state, op)
    seen = 1
    for _ in range(p.n):
        nxt: dict[int, tuple[int, int]] = {}
        links: dict[int, tuple[int, int]] = {}
        for done, (peak, live) in level.items():
            for k in p.ready(done):
                cost, live2 = p.step(done, live, k)
                cand = (max(peak, cost), live2)
                s2 = done | (1 << k)
                if s2 not in nxt or cand < nxt[s2]:
                    nxt[s2] = cand
                    links[s2] = (done, k)
        seen += len(nxt)
        if beam is None and max_states is not None and seen > max_states:
            return None
        if beam is not None and len(nxt) > beam:
            keep = sorted(nxt, key=lambda s: (nxt[s], s))[:beam]
            nxt = {s: nxt[s] for s in keep}
        level = nxt
        back.append(links)
    (final, (peak, live)), = level.items()
    order = []
    state = final
    for links in reversed(back):
        prev, k = links[state]
        order.append(k)
        state = prev
    order.reverse()
    return order, seen


def reorder(graph: Graph, memory: Mapping[int, OpMemory] | None = None,
            max_states: int = MAX_STATES, beam_width: int = BEAM_WIDTH) -> Schedule:
    """The topological order of ``graph`` with the smallest peak step requirement."""
    memory = memory or {}
    p = _Problem(graph, memory)
    file_order = list(range(p.n))
    original = p.peak_of(file_order)
    found = _search(p, max_states, None)
    if found is not None:
        order, states = found
        exact = True
        method = f"exact: dynamic programming over {states} operator sets"
    else:
        order, states = _search(p, None, beam_width)
        exact = False
        method = (f"heuristic: beam search keeping {beam_width} operator sets per step "
                  f"(more than {max_states} sets to search exactly)")
    peak = p.peak_of(order)
    if peak >= original:
        order, peak = file_order, original
        method += "; the file's order is already best" if exact else "; kept the file's order"
    return Schedule(apply_order(graph, order), tuple(order), method, exact, peak, original)


def apply_order(graph: Graph, order: Sequence[int]) -> Graph:
    """The graph with its operators in ``order``, renumbered so op.index is the step."""
    if list(order) == list(range(len(graph.ops))):
        return graph
    ops = tuple(dataclasses.replace(graph.ops[old], index=step) for step, old in enumerate(order))
    return dataclasses.replace(graph, ops=ops).validate()

"""Offset packing: every buffer gets an offset in one arena.

Several heuristics run and the smallest arena wins; for small problems an exact branch and bound
search then tries to beat it (or proves it cannot be beaten). All of them place buffers one at a
time at a position allowed by every buffer already placed that is alive at the same time:

* the two share no byte, or
* the consuming kernel declared the overlap (:class:`~edgekit.plan.buffers.SharedBytes`) and the
  output starts at least ``lead`` bytes below the input.

So, seen from a placed buffer ``p``, a buffer ``b`` may not start inside the open interval
``(p.offset - lo, p.offset + hi)``: normally ``lo = b.size``, ``hi = p.size``; if ``b`` is the
output of a declaration on ``p``, ``lo = min(lead, b.size)``; if ``b`` is its input,
``hi = min(lead, p.size)``. Leads are rounded up to the alignment, as offsets are aligned.

Heuristics (``Plan.tried`` lists what each reached):

* ``greedy-by-size``: largest buffer first, each at the lowest offset that fits (TFLM's
  greedy planner; also the classic first-fit-decreasing for dynamic storage allocation);
* ``greedy-by-conflicts``: the steps that need the most memory first, each step's buffers placed
  together (outputs of declared overlaps before their inputs), best fit;
* ``chronological``: buffers in the order they are written, best fit;
* ``outward-from-peak``: from the step with the highest requirement outwards to its neighbours,
  best fit.

"Best fit" puts a buffer where the arena grows least, below offset 0 if that is better (offsets
are shifted to start at 0 at the end): chains of overlapping buffers drift downwards. Among
equally good places it takes the lowest; the "(ties upward)" variants take the highest.

``exact-search``: depth-first over the order in which buffers are placed, each at the lowest
offset allowed at or above the previous one. Every arrangement can be pushed down until each
buffer rests on offset 0 or on the edge of an earlier one without growing the arena; placing the
buffers of such an arrangement in order of offset reproduces it, so trying every order finds the
optimum. Branches that cannot beat the best arena so far are cut; the search stops when it
reaches the lower bound or after ``node_budget`` nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import PlanError
from .bounds import no_overlap_requirements, step_requirements
from .buffers import ALIGNMENT, Buffer, SharedBytes, align_up
from .schedule import Schedule
from .verify import verify

EXACT_MAX_BUFFERS = 18
NODE_BUDGET = 200_000


@dataclass(frozen=True)
class Plan:
    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]  # offsets[i] belongs to buffers[i]
    arena_bytes: int
    algorithm: str  # the packing that produced the offsets
    shared: tuple[SharedBytes, ...] = ()  # the declared overlaps the offsets may use
    num_steps: int = 0  # operators + 1 (the step where outputs are copied out)
    tried: tuple[tuple[str, int], ...] = ()  # every packing tried and its arena
    exact: str = ""  # what the exact search concluded, for people
    optimal: bool = False  # no packing of this schedule can be smaller
    schedule: Schedule | None = None  # the reordering that produced this operator order

    def offset_of_tensor(self, tensor: int) -> int:
        for b, off in zip(self.buffers, self.offsets):
            if tensor in b.tensors:
                return off
        raise KeyError(f"tensor {tensor} is not in the plan")

    def offset_of_scratch(self, op_index: int) -> int:
        for b, off in zip(self.buffers, self.offsets):
            if b.scratch_of == op_index:
                return off
        raise KeyError(f"op {op_index} has no scratch buffer")

    @property
    def step_requirements(self) -> list[int]:
        """Per schedule step, the fewest bytes its live buffers can occupy."""
        return step_requirements(self.buffers, self.shared, self.steps)

    @property
    def steps(self) -> int:
        return self.num_steps or max((b.last for b in self.buffers), default=-1) + 1

    @property
    def lower_bound(self) -> int:
        """The largest single-step requirement: no plan of this schedule can beat it."""
        return max(self.step_requirements, default=0)

    @property
    def no_overlap_bound(self) -> int:
        """The most bytes alive at one step: what any plan without overlaps needs."""
        return max(no_overlap_requirements(self.buffers, self.steps), default=0)


# ---------------------------------------------------------------------------- placement


class _Packing:
    """The buffers with, for each pair alive at the same time, the interval rule above."""

    def __init__(self, buffers: Sequence[Buffer], shared: Sequence[SharedBytes]):
        self.buffers = list(buffers)
        self.size = [b.size for b in buffers]
        self.align = max((b.alignment for b in buffers), default=ALIGNMENT)
        pos = {b.id: i for i, b in enumerate(buffers)}
        rules = {}
        for s in shared:
            if s.input in pos and s.output in pos:
                rules[(pos[s.input], pos[s.output])] = align_up(s.lead, self.align)
        n = len(buffers)
        # lim[b][p] = (lo, hi): b may not start inside (offset[p] - lo, offset[p] + hi)
        self.lim: list[dict[int, tuple[int, int]]] = [{} for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                if buffers[i].overlaps_in_time(buffers[j]):
                    self.lim[i][j] = self._limit(i, j, rules)
                    self.lim[j][i] = self._limit(j, i, rules)

    def _limit(self, b: int, p: int, rules) -> tuple[int, int]:
        lo, hi = self.size[b], self.size[p]
        if (p, b) in rules:  # b is the output, may start `lead` below p
            lo = min(rules[(p, b)], lo)
        if (b, p) in rules:  # b is the input, p the output
            hi = min(rules[(b, p)], hi)
        return lo, hi

    def feasible(self, b: int, x: int, offsets: dict[int, int]) -> bool:
        for p, (lo, hi) in self.lim[b].items():
            if p in offsets and offsets[p] - lo < x < offsets[p] + hi:
                return False
        return True

    def lowest(self, b: int, floor: int, offsets: dict[int, int]) -> int:
        """The lowest aligned offset >= floor allowed by the placed buffers."""
        cons = sorted((offsets[p] - lo, offsets[p] + hi) for p, (lo, hi) in self.lim[b].items()
                      if p in offsets)
        x = align_up(max(floor, 0), self.align)
        moved = True
        while moved:
            moved = False
            for lo, hi in cons:
                if lo < x < hi:
                    x = align_up(hi, self.align)
                    moved = True
        return x

    def best_fit(self, b: int, offsets: dict[int, int], extent: tuple[int, int] | None,
                 prefer_high: bool = False) -> int:
        """The allowed offset where the arena grows least (below 0 if need be)."""
        size = self.size[b]
        if extent is None:
            return 0
        lo_e, hi_e = extent
        cands = {lo_e, hi_e - size}
        for p, (lo, hi) in self.lim[b].items():
            if p in offsets:
                cands.add(offsets[p] - lo)
                cands.add(offsets[p] + hi)
        best = None
        for x in sorted(cands):
            if x % self.align or not self.feasible(b, x, offsets):
                continue
            grow = max(hi_e, x + size) - min(lo_e, x)
            key = (grow, -x if prefer_high else x)
            if best is None or key < best[0]:
                best = (key, x)
        if best is None:  # cannot happen: hi_e is always allowed
            return hi_e
        return best[1]

    def run(self, order: Sequence[int], fit: str) -> list[int]:
        offsets: dict[int, int] = {}
        extent: tuple[int, int] | None = None
        for b in order:
            if fit == "lowest":
                x = self.lowest(b, 0, offsets)
            else:
                x = self.best_fit(b, offsets, extent, prefer_high=(fit == "best-high"))
            offsets[b] = x
            lo_e, hi_e = extent if extent is not None else (x, x + self.size[b])
            extent = (min(lo_e, x), max(hi_e, x + self.size[b]))
        base = min(offsets.values(), default=0)
        return [offsets[i] - base for i in range(len(self.buffers))]

    def arena(self, offsets: Sequence[int]) -> int:
        return max((o + s for o, s in zip(offsets, self.size)), default=0)


# ---------------------------------------------------------------------------- heuristics


def _step_order(buffers: Sequence[Buffer], shared: Sequence[SharedBytes], steps: Sequence[int]) -> list[int]:
    """Buffers of the given steps in that order; within a step, declared-overlap outputs,
    then their inputs, then the rest, larger first."""
    pos = {b.id: i for i, b in enumerate(buffers)}
    outs = {pos[s.output] for s in shared if s.output in pos}
    ins = {pos[s.input] for s in shared if s.input in pos}
    order: list[int] = []
    seen: set[int] = set()
    for s in steps:
        live = [i for i, b in enumerate(buffers) if b.first <= s <= b.last and i not in seen]
        live.sort(key=lambda i: (0 if i in outs else 1 if i in ins else 2, -buffers[i].size, i))
        order += live
        seen.update(live)
    order += [i for i in range(len(buffers)) if i not in seen]
    return order


def _orders(buffers: Sequence[Buffer], shared: Sequence[SharedBytes], req: Sequence[int]) -> dict[str, list[int]]:
    n = len(buffers)
    by_size = sorted(range(n), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    by_req = sorted(range(len(req)), key=lambda s: (-req[s], s))
    outward: list[int] = []
    if req:
        peak = by_req[0]
        lo = hi = peak
        outward = [peak]
        while lo > 0 or hi < len(req) - 1:
            left = req[lo - 1] if lo > 0 else -1
            right = req[hi + 1] if hi < len(req) - 1 else -1
            if right > left:
                hi += 1
                outward.append(hi)
            else:
                lo -= 1
                outward.append(lo)
    return {
        "greedy-by-size": by_size,
        "greedy-by-conflicts": _step_order(buffers, shared, by_req),
        "chronological": _step_order(buffers, shared, range(len(req))),
        "outward-from-peak": _step_order(buffers, shared, outward),
    }


# ---------------------------------------------------------------------------- exact search


def _exact(pk: _Packing, best: int, bound: int, node_budget: int) -> tuple[list[int] | None, int, bool]:
    """Branch and bound; returns (better offsets or None, nodes visited, search completed)."""
    n = len(pk.buffers)
    offsets: dict[int, int] = {}
    found: list[int] | None = None
    nodes = 0
    complete = True

    def dfs(floor: int, last: int, top: int, last_stayed: bool) -> bool:  # True: stop
        nonlocal best, found, nodes, complete
        if len(offsets) == n:
            if top < best:
                best = top
                found = [offsets[i] for i in range(n)]
            return best <= bound
        nodes += 1
        if nodes > node_budget:
            complete = False
            return True
        cand = []
        for b in range(n):
            if b in offsets:
                continue
            x = pk.lowest(b, floor, offsets)
            if x + pk.size[b] >= best:
                return False  # b can only go higher from here on: no better arrangement below
            cand.append((x, b))
        cand.sort()
        for x, b in cand:
            # `last` went to its parent's floor and b, which never meets it, goes there too:
            # placing b first reaches the same state, so only that order is searched
            if x == floor and last_stayed and b < last and last not in pk.lim[b]:
                continue
            offsets[b] = x
            stop = dfs(x, b, max(top, x + pk.size[b]), x == floor)
            del offsets[b]
            if stop:
                return True
        return False

    dfs(0, -1, 0, False)
    return found, nodes, complete


# ---------------------------------------------------------------------------- entry points


def plan_memory(buffers: Sequence[Buffer], shared: Sequence[SharedBytes] = (),
                ram_limit: int | None = None, num_steps: int | None = None,
                exact_max_buffers: int = EXACT_MAX_BUFFERS, node_budget: int = NODE_BUDGET,
                schedule: Schedule | None = None) -> Plan:
    """Pack ``buffers`` (best of the heuristics, then the exact search for small problems),
    verify the result, and check it against ``ram_limit``."""
    buffers = list(buffers)
    shared = list(shared)
    if num_steps is None:
        num_steps = max((b.last for b in buffers), default=-1) + 1
    req = step_requirements(buffers, shared, num_steps)
    bound = max(req, default=0)
    pk = _Packing(buffers, shared)
    tried: list[tuple[str, int]] = []
    best: tuple[int, str, list[int]] | None = None
    orders = _orders(buffers, shared, req)
    runs = [("greedy-by-size", orders["greedy-by-size"], "lowest"),
            ("greedy-by-size (best fit)", orders["greedy-by-size"], "best")]
    for name in ("greedy-by-conflicts", "chronological", "outward-from-peak"):
        runs += [(name, orders[name], "best"), (f"{name} (ties upward)", orders[name], "best-high")]
    for label, order, fit in runs:
        offs = pk.run(order, fit)
        arena = pk.arena(offs)
        tried.append((label, arena))
        if best is None or arena < best[0]:
            best = (arena, label, offs)
    arena, algorithm, offsets = best if best is not None else (0, "empty", [])
    optimal = arena <= bound
    if optimal:
        exact = "not needed: the heuristics reached the lower bound"
    elif len(buffers) > exact_max_buffers:
        exact = f"not run: {len(buffers)} buffers (exact search up to {exact_max_buffers})"
    else:
        found, nodes, complete = _exact(pk, arena, bound, node_budget)
        if found is not None:
            tried.append(("exact-search", pk.arena(found)))
            arena, algorithm, offsets = pk.arena(found), "exact-search", found
        if complete:
            optimal = True
            exact = (f"proved optimal after {nodes} nodes" if found is not None
                     else f"proved the heuristic optimal after {nodes} nodes")
        else:
            exact = f"stopped after {nodes} nodes" + (", found a better packing" if found else "")
    plan = Plan(tuple(buffers), tuple(offsets), arena, algorithm, tuple(shared), num_steps,
                tuple(tried), exact, optimal, schedule)
    verify(plan)
    if ram_limit is not None and plan.arena_bytes > ram_limit:
        raise PlanError(f"no memory plan fits in {ram_limit:,} bytes: the best plan found needs "
                        f"{plan.arena_bytes:,} bytes (lower bound {plan.lower_bound:,})", plan.arena_bytes)
    return plan

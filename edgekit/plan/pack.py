"""Offset packing and the verifier."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PlanError
from .buffers import Buffer


@dataclass(frozen=True)
class Plan:
    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]  # offsets[i] belongs to buffers[i]
    arena_bytes: int
    algorithm: str

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
    def lower_bound(self) -> int:
        """The most bytes alive at any one step: no plan without overlap can beat it."""
        steps = {s for b in self.buffers for s in (b.first, b.last)}
        return max((sum(b.size for b in self.buffers if b.first <= s <= b.last) for s in steps),
                   default=0)


def _greedy_by_size(buffers: list[Buffer]) -> list[int]:
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    offsets = [0] * len(buffers)
    placed: list[int] = []
    for i in order:
        b = buffers[i]
        busy = sorted((offsets[j], offsets[j] + buffers[j].size) for j in placed
                      if buffers[j].overlaps_in_time(b))
        off = 0
        for lo, hi in busy:
            if off + b.size <= lo:
                break
            off = max(off, -(-hi // b.alignment) * b.alignment)
        offsets[i] = off
        placed.append(i)
    return offsets


def plan_memory(buffers: list[Buffer], ram_limit: int | None = None) -> Plan:
    offsets = _greedy_by_size(buffers)
    arena = max((o + b.size for b, o in zip(buffers, offsets)), default=0)
    plan = Plan(tuple(buffers), tuple(offsets), arena, "greedy-by-size")
    verify(plan)
    if ram_limit is not None and plan.arena_bytes > ram_limit:
        raise PlanError(f"no plan fits: best arena {plan.arena_bytes} bytes > limit {ram_limit} bytes")
    return plan


def verify(plan: Plan) -> None:
    """Raise AssertionError if two buffers alive at the same step share a byte or an offset
    is misaligned. Runs on every plan before code is generated."""
    bs, offs = plan.buffers, plan.offsets
    for i, (a, oa) in enumerate(zip(bs, offs)):
        if oa % a.alignment:
            raise AssertionError(f"buffer {a.name!r} at offset {oa} is not {a.alignment}-aligned")
        if oa + a.size > plan.arena_bytes:
            raise AssertionError(f"buffer {a.name!r} ends past the arena")
        for b, ob in zip(bs[i + 1:], offs[i + 1:]):
            if a.overlaps_in_time(b) and oa < ob + b.size and ob < oa + a.size:
                raise AssertionError(f"buffers {a.name!r} and {b.name!r} are alive together and overlap")

"""The verifier: runs on every plan before code is generated.

It trusts nothing the packers computed. A plan is accepted when

* every offset is a multiple of its buffer's alignment and every buffer lies inside the arena;
* every declared overlap it relies on is one the schedule allows: at ``step`` the input buffer is
  read for the last time and the output buffer is written for the first time;
* any two buffers alive at the same step share no byte -- unless they are the input and output
  of such a declaration and the output starts at least ``lead`` bytes below the input, which is
  exactly what the consuming kernel declared safe.

A violation is a bug in edgekit, not in the user's model: it raises ``AssertionError``.
"""

from __future__ import annotations

from .buffers import Buffer


class PlanViolation(AssertionError):
    """A plan breaks one of the rules above."""


def _desc(b: Buffer, off: int) -> str:
    return f"{b.name!r} [{off}, {off + b.size}) steps {b.first}..{b.last}"


def verify(plan) -> None:
    bs, offs = plan.buffers, plan.offsets
    if len(bs) != len(offs):
        raise PlanViolation(f"{len(bs)} buffers but {len(offs)} offsets")
    by_id = {b.id: (b, o) for b, o in zip(bs, offs)}
    if len(by_id) != len(bs):
        raise PlanViolation("two buffers share an id")
    for b, off in zip(bs, offs):
        if off < 0 or off % b.alignment:
            raise PlanViolation(f"buffer {_desc(b, off)} is not at a {b.alignment}-aligned offset")
        if off + b.size > plan.arena_bytes:
            raise PlanViolation(f"buffer {_desc(b, off)} ends past the arena ({plan.arena_bytes} bytes)")
        if b.first > b.last:
            raise PlanViolation(f"buffer {b.name!r} dies before it is written")
    allowed: dict[tuple[int, int], int] = {}
    for s in plan.shared:
        if s.input not in by_id or s.output not in by_id:
            raise PlanViolation(f"declared overlap at step {s.step} names an unknown buffer")
        bi, bo = by_id[s.input][0], by_id[s.output][0]
        if bi.last != s.step or bo.first != s.step or s.lead < 0:
            raise PlanViolation(f"declared overlap of {bi.name!r} and {bo.name!r} at step {s.step}: "
                                "the input must die and the output be born at that step")
        allowed[(s.input, s.output)] = s.lead
    for i, (a, oa) in enumerate(zip(bs, offs)):
        for b, ob in zip(bs[i + 1:], offs[i + 1:]):
            if not a.overlaps_in_time(b) or not (oa < ob + b.size and ob < oa + a.size):
                continue
            if (a.id, b.id) in allowed:
                src, so, dst, do, lead = a, oa, b, ob, allowed[(a.id, b.id)]
            elif (b.id, a.id) in allowed:
                src, so, dst, do, lead = b, ob, a, oa, allowed[(b.id, a.id)]
            else:
                raise PlanViolation(f"buffers {_desc(a, oa)} and {_desc(b, ob)} are alive together "
                                    "and share bytes")
            if do > so - lead:
                raise PlanViolation(f"output {_desc(dst, do)} starts {so - do} bytes below input "
                                    f"{_desc(src, so)}; its kernel needs at least {lead}")

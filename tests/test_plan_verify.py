"""The verifier rejects every kind of broken plan and accepts the overlaps kernels declare."""

from __future__ import annotations

import dataclasses

import pytest

from edgekit.plan import Buffer, Plan, PlanViolation, SharedBytes, plan_memory, verify


def plan(buffers, offsets, shared=(), arena=None):
    arena = arena if arena is not None else max(o + b.size for b, o in zip(buffers, offsets))
    return Plan(tuple(buffers), tuple(offsets), arena, "hand-made", tuple(shared))


A = Buffer(0, "a", 64, 0, 1)  # input of the operator at step 1, dies there
B = Buffer(1, "b", 64, 1, 2)  # its output
C = Buffer(2, "c", 32, 2, 3)  # alive after a is dead


def test_disjoint_buffers_pass():
    verify(plan([A, B], [0, 64]))


def test_buffers_alive_at_different_steps_may_share_bytes():
    verify(plan([A, C], [0, 0]))


def test_shared_bytes_without_a_declaration_are_rejected():
    with pytest.raises(PlanViolation, match="alive together and share bytes"):
        verify(plan([A, B], [0, 48]))


@pytest.mark.parametrize("lead,gap,ok", [(0, 0, True), (16, 16, True), (16, 0, False),
                                         (20, 16, False), (20, 32, True), (64, 48, False)])
def test_declared_overlap_needs_the_output_lead_bytes_below(lead, gap, ok):
    p = plan([A, B], [gap, 0], [SharedBytes(0, 1, 1, lead)])
    if ok:
        verify(p)
    else:
        with pytest.raises(PlanViolation, match="kernel needs at least"):
            verify(p)


def test_output_above_its_input_is_rejected_even_when_declared():
    with pytest.raises(PlanViolation):
        verify(plan([A, B], [0, 16], [SharedBytes(0, 1, 1, 0)]))


def test_declaration_must_match_the_lifetimes():
    late = dataclasses.replace(A, last=2)  # the input lives on after step 1
    with pytest.raises(PlanViolation, match="the input must die"):
        verify(plan([late, B], [0, 0], [SharedBytes(0, 1, 1, 0)]))


def test_misaligned_offset_is_rejected():
    with pytest.raises(PlanViolation, match="aligned"):
        verify(plan([A, B], [0, 72]))


def test_buffer_past_the_arena_is_rejected():
    with pytest.raises(PlanViolation, match="past the arena"):
        verify(plan([A, B], [0, 64], arena=100))


def test_scratch_never_overlaps():
    scratch = Buffer(5, "op1 scratch", 32, 1, 1, scratch_of=1)
    with pytest.raises(PlanViolation):
        verify(plan([A, B, scratch], [0, 64, 96]))
    verify(plan([A, B, scratch], [0, 64, 128]))


def test_plan_memory_runs_the_verifier(monkeypatch):
    import edgekit.plan.pack as pack

    def broken(self, order, fit):
        return [0] * len(self.buffers)

    monkeypatch.setattr(pack._Packing, "run", broken)
    with pytest.raises(PlanViolation):
        plan_memory([A, B], exact_max_buffers=0)

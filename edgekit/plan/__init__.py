"""Memory planning: every activation of the model gets a fixed offset in one arena.

The planner is pure: plain data in (the graph and, per operator, an :class:`OpMemory` saying
which input it aliases, how much scratch its kernel needs and which :class:`Overlap` its kernel
tolerates), offsets and peak out. Three passes, each usable alone:

1. ``reorder``: the topological order of the operators with the smallest peak (``schedule``);
2. ``buffers_for``: lifetimes, alias groups, scratch, and the declared overlaps that apply;
3. ``plan_memory``: offset packing (heuristics, exact search for small graphs), then ``verify``,
   which always runs.

``plan_graph`` chains 2 and 3 for a graph already in its final order.
"""

from collections.abc import Mapping

from ..ir import Graph
from .bounds import no_overlap_requirements, pair_span, step_requirements
from .buffers import ALIGNMENT, Buffer, OpMemory, Overlap, SharedBytes, align_up, buffers_for, variables
from .pack import Plan, plan_memory
from .schedule import Schedule, apply_order, reorder
from .verify import PlanViolation, verify


def plan_graph(graph: Graph, memory: Mapping[int, OpMemory] | None = None,
               ram_limit: int | None = None, schedule: Schedule | None = None) -> Plan:
    """Buffers of ``graph`` in its current operator order, packed and verified."""
    buffers, shared = buffers_for(graph, memory)
    return plan_memory(buffers, shared, ram_limit=ram_limit, num_steps=len(graph.ops) + 1,
                       schedule=schedule)


__all__ = ["ALIGNMENT", "Buffer", "OpMemory", "Overlap", "Plan", "PlanViolation", "Schedule",
           "SharedBytes", "align_up", "apply_order", "buffers_for", "no_overlap_requirements", "variables",
           "pair_span", "plan_graph", "plan_memory", "reorder", "step_requirements", "verify"]

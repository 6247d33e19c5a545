"""Memory planning: every activation of the model gets a fixed offset in one arena.

``buffers_for`` turns a lowered graph into planner buffers (size, first use, last use,
alignment); ``plan_memory`` packs them; ``verify`` proves no two live buffers share a byte.
The planner is pure: buffers in, offsets and peak out.
"""

from .buffers import Buffer, buffers_for
from .pack import Plan, plan_memory, verify

__all__ = ["Buffer", "buffers_for", "Plan", "plan_memory", "verify"]

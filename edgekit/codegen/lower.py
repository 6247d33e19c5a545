"""Lowering a whole graph: every operator through its registered lowering and kernel table.

Importing ``ops`` registers every lowering (one module per operator family, ``@lowers``).
"""

from __future__ import annotations

from ..errors import UnsupportedModelError
from ..ir import Graph, OpKind
from . import ops  # noqa: F401  (registers every lowering)
from .core import Target
from .lowering import LOWERINGS, KernelCall, LowerCtx, Lowering

#: unsupported operators named in an error before "... and N more"
LISTED_UNSUPPORTED = 8


def lowering_for(kind: OpKind) -> Lowering | None:
    return LOWERINGS.get(kind)


def supported_kinds() -> set[OpKind]:
    return set(LOWERINGS)


def lower_graph(graph: Graph, target: Target | None = None) -> list[KernelCall]:
    """Lower every operator for ``target`` (default: the host); raise on the first one edgekit
    cannot run."""
    unsupported = [op for op in graph.ops if op.kind is None or lowering_for(op.kind) is None]
    if unsupported:
        names = ", ".join(f"{op.index}:{op.type_name}" for op in unsupported[:LISTED_UNSUPPORTED])
        raise UnsupportedModelError(f"{len(unsupported)} operator(s) edgekit cannot run: {names}")
    ctx = LowerCtx(graph, target)
    return [lowering_for(op.kind)(ctx, op) for op in graph.ops]

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
LISTED_UNSUPPORTED = 4  # indices shown per kind


def lowering_for(kind: OpKind) -> Lowering | None:
    return LOWERINGS.get(kind)


def supported_kinds() -> set[OpKind]:
    return set(LOWERINGS)


def unsupported_text(ops) -> str:
    """Every kind among ``ops`` with its count and first indices: no kind is left out of the line."""
    kinds: dict[str, list[int]] = {}
    for op in ops:
        kinds.setdefault(op.type_name, []).append(op.index)
    parts = []
    for name, idx in kinds.items():
        at = ", ".join(map(str, idx[:LISTED_UNSUPPORTED])) + (", ..." if len(idx) > LISTED_UNSUPPORTED else "")
        parts.append(f"{name} x{len(idx)} (op{'s' if len(idx) > 1 else ''} {at})")
    return f"{len(ops)} operator(s) edgekit cannot run: {'; '.join(parts)}"


def lower_graph(graph: Graph, target: Target | None = None) -> list[KernelCall]:
    """Lower every operator for ``target`` (default: the host); raise on the first one edgekit
    cannot run."""
    unsupported = [op for op in graph.ops if op.kind is None or lowering_for(op.kind) is None]
    if unsupported:
        raise UnsupportedModelError(unsupported_text(unsupported))
    ctx = LowerCtx(graph, target)
    return [lowering_for(op.kind)(ctx, op) for op in graph.ops]

"""Lowering a whole graph: every operator through its registered lowering and kernel table.

Importing ``ops`` registers every lowering (one module per operator family, ``@lowers``).
"""

from __future__ import annotations

from typing import Callable

from ..errors import UnsupportedModelError
from ..ir import DType, Graph, Op, OpKind
from ..ir.analysis import source_scope
from . import ops  # noqa: F401  (registers every lowering)
from .core import Target
from .lowering import INT16_KINDS, LOWERINGS, KernelCall, LowerCtx, Lowering

#: unsupported operators named in an error before "... and N more"
LISTED_UNSUPPORTED = 4  # indices shown per kind


def lowering_for(kind: OpKind) -> Lowering | None:
    return LOWERINGS.get(kind)


def supported_kinds() -> set[OpKind]:
    return set(LOWERINGS)


def unsupported_text(ops, graph: Graph | None = None, scope: Callable[[Op], str] | None = None) -> str:
    """Every kind among ``ops`` with its count, first indices and the layers they came from
    (``scope``, by default the converter's name scope in ``graph``): no kind is left out."""
    if scope is None:
        scope = (lambda op: source_scope(graph, op)) if graph is not None else (lambda op: "")
    kinds: dict[str, list] = {}
    for op in ops:
        kinds.setdefault(op.type_name, []).append(op)
    parts = []
    for name, members in kinds.items():
        idx = [op.index for op in members]
        at = ", ".join(map(str, idx[:LISTED_UNSUPPORTED])) + (", ..." if len(idx) > LISTED_UNSUPPORTED else "")
        where = list(dict.fromkeys(s for s in map(scope, members) if s))
        source = ""
        if where:
            more = f" and {len(where) - LISTED_UNSUPPORTED} more" if len(where) > LISTED_UNSUPPORTED else ""
            source = f", from {', '.join(where[:LISTED_UNSUPPORTED])}{more}"
        parts.append(f"{name} x{len(idx)} (op{'s' if len(idx) > 1 else ''} {at}{source})")
    return f"{len(ops)} operator(s) edgekit cannot run: {'; '.join(parts)}"


def int16_refusal(graph: Graph, op: Op) -> str:
    """Why ``op`` cannot run with its int16 activations, or "" (its lowering takes int16, or it
    has none: a stateful operator's int16 state and constant int16 inputs do not count)."""
    if op.kind in INT16_KINDS:
        return ""
    acts = [t for t in (*graph.op_inputs(op), *graph.op_outputs(op))
            if t is not None and not t.is_constant and not t.variable]
    if not any(t.dtype == DType.INT16 for t in acts):
        return ""
    return (f"op {op.index} {op.type_name}: int16 activations (16x8); edgekit's {op.type_name} kernel takes "
            "int8 only (`edgekit ops` lists the int16 ones)")


def lower_op(ctx: LowerCtx, op: Op) -> KernelCall:
    """``op``'s kernel call for ``ctx``'s target; raises when edgekit cannot run it."""
    lowering = lowering_for(op.kind) if op.kind is not None else None
    if lowering is None:
        raise UnsupportedModelError(unsupported_text([op], ctx.graph))
    refusal = int16_refusal(ctx.graph, op)
    if refusal:
        raise UnsupportedModelError(refusal)
    return lowering(ctx, op)


def lower_graph(graph: Graph, target: Target | None = None) -> list[KernelCall]:
    """Lower every operator for ``target`` (default: the host); raise on the first one edgekit
    cannot run."""
    unsupported = [op for op in graph.ops if op.kind is None or lowering_for(op.kind) is None]
    if unsupported:
        raise UnsupportedModelError(unsupported_text(unsupported, graph))
    ctx = LowerCtx(graph, target)
    return [lower_op(ctx, op) for op in graph.ops]

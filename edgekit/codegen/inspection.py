"""``edgekit inspect``: a model's operators as edgekit sees them -- shapes, weights, MACs, and
whether edgekit can run each: it has a kernel for the operator, and the operator's lowering
accepts this one (its shapes, types and quantization)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EdgekitError
from ..ir import Graph, Op
from ..ir.analysis import GraphTotals, op_macs, source_scope, totals
from .lower import lower_op, supported_kinds
from .lowering import LowerCtx


@dataclass(frozen=True)
class OpRow:
    index: int
    type: str
    inputs: tuple[tuple[int, ...], ...]  # activation inputs' shapes
    weights: tuple[tuple[int, ...], ...]  # constant inputs' shapes
    outputs: tuple[tuple[int, ...], ...]
    dtype: str  # the first output's
    macs: int
    supported: bool
    reason: str = ""  # why not, when not supported
    scope: str = ""  # the layer it came from, as the converter named it (``analysis.source_scope``)

    @property
    def type_name(self) -> str:  # as Op's, for ``lower.unsupported_text``
        return self.type

    def to_json(self) -> dict:
        return {"index": self.index, "type": self.type, "inputs": [list(s) for s in self.inputs],
                "weights": [list(s) for s in self.weights], "outputs": [list(s) for s in self.outputs],
                "dtype": self.dtype, "macs": self.macs, "supported": self.supported,
                **({"reason": self.reason} if self.reason else {}), **({"scope": self.scope} if self.scope else {})}


@dataclass(frozen=True)
class Inspection:
    model: str
    ops: tuple[OpRow, ...]
    totals: GraphTotals

    @property
    def unsupported(self) -> tuple[OpRow, ...]:
        return tuple(r for r in self.ops if not r.supported)

    def to_json(self) -> dict:
        return {"model": self.model, "ops": [r.to_json() for r in self.ops],
                "totals": {"macs": self.totals.macs, "weight_bytes": self.totals.weight_bytes,
                           "activation_bytes": self.totals.activation_bytes},
                "unsupported": [{"index": r.index, "type": r.type, "reason": r.reason, "scope": r.scope}
                                for r in self.unsupported]}

    def table(self) -> str:
        def shp(ss):
            return ",".join("x".join(map(str, s)) for s in ss) or "-"

        lines = [f"{'#':>3}  {'operator':<18} {'input':<16} {'weights':<20} {'output':<16} {'dtype':<7} {'MACs':>11}"]
        for r in self.ops:
            mark = "" if r.supported else "   <- unsupported"
            lines.append(f"{r.index:>3}  {r.type:<18} {shp(r.inputs):<16} {shp(r.weights):<20} "
                         f"{shp(r.outputs):<16} {r.dtype:<7} {r.macs:>11,}{mark}")
        t = self.totals
        lines.append(f"total: {t.macs:,} MACs, {t.weight_bytes:,} weight bytes, "
                     f"{t.activation_bytes:,} activation bytes, {len(self.ops)} operators")
        return "\n".join(lines)


def _why_not(ctx: LowerCtx, op: Op, kinds: set) -> str:
    """Empty if edgekit can run ``op``, else the reason."""
    if op.kind is None or op.kind not in kinds:
        return "no kernel"
    try:
        lower_op(ctx, op)
    except EdgekitError as exc:
        return str(exc)
    return ""


def inspect_graph(graph: Graph) -> Inspection:
    kinds = supported_kinds()
    ctx = LowerCtx(graph)
    rows = []
    for op in graph.ops:
        ins = [graph.tensors[i] for i in op.inputs if i >= 0]
        outs = graph.op_outputs(op)
        reason = _why_not(ctx, op, kinds)
        rows.append(OpRow(
            index=op.index, type=op.type_name,
            inputs=tuple(tuple(t.shape) for t in ins if not t.is_constant),
            weights=tuple(tuple(t.shape) for t in ins if t.is_constant),
            outputs=tuple(tuple(t.shape) for t in outs),
            dtype=outs[0].dtype.np_name if outs else "", macs=op_macs(graph, op),
            supported=not reason, reason=reason, scope=source_scope(graph, op)))
    return Inspection(graph.name, tuple(rows), totals(graph))

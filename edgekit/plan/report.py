"""A plan for people: a text table, a JSON document, a memory timeline plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import EdgekitError
from ..ir import Graph
from .bounds import no_overlap_requirements
from .pack import Plan
from .stream import Segment


def _step_ops(plan: Plan, graph: Graph) -> list[dict]:
    req = plan.step_requirements
    live = no_overlap_requirements(plan.buffers, plan.steps)
    order = plan.schedule.order if plan.schedule is not None else tuple(range(len(graph.ops)))
    rows = []
    for step in range(plan.steps):
        if step < len(graph.ops):
            op = graph.ops[step]
            rows.append({"step": step, "file_index": order[step], "type": op.type_name,
                         "requirement_bytes": req[step], "live_bytes": live[step]})
        else:
            rows.append({"step": step, "file_index": None, "type": "(outputs copied out)",
                         "requirement_bytes": req[step], "live_bytes": live[step]})
    return rows


def _label(b, graph: Graph) -> str:
    """A short name: ``t12 1x25x5x64`` for a tensor (the first of an alias group), or
    ``op9 scratch``."""
    if b.scratch_of is not None or not b.tensors:
        return b.name
    t = graph.tensors[b.tensors[0]]
    alias = f" (+{len(b.tensors) - 1} alias)" if len(b.tensors) > 1 else ""
    return f"t{t.index} {'x'.join(map(str, t.shape)) or 'scalar'}{alias}"


def plan_json(plan: Plan, graph: Graph, file_order_bound: int | None = None) -> dict:
    names = {b.id: b.name for b in plan.buffers}
    where = {b.id: (b, o) for b, o in zip(plan.buffers, plan.offsets)}
    shares: dict[int, list[dict]] = {}
    for s in plan.shared:
        (bi, oi), (bo, oo) = where[s.input], where[s.output]
        common = max(0, min(oi + bi.size, oo + bo.size) - max(oi, oo))
        shares.setdefault(s.output, []).append(
            {"input": names[s.input], "step": s.step, "lead_bytes": s.lead,
             "shared_bytes": common})
    sched = plan.schedule
    doc = {
        "model": graph.name,
        "operators": len(graph.ops),
        "arena_bytes": plan.arena_bytes,
        "lower_bound_bytes": plan.lower_bound,
        "no_overlap_bound_bytes": plan.no_overlap_bound,
        "schedule": {
            "method": sched.method if sched else "file order (not reordered)",
            "exact": bool(sched.exact) if sched else False,
            "changed": bool(sched.changed) if sched else False,
            "peak_bytes": sched.peak if sched else plan.lower_bound,
            "file_order_peak_bytes": sched.original_peak if sched else plan.lower_bound,
            "order": list(sched.order) if sched else list(range(len(graph.ops))),
        },
        "packing": {
            "algorithm": plan.algorithm, "optimal": plan.optimal, "exact_search": plan.exact,
            "tried": [{"algorithm": a, "arena_bytes": n} for a, n in plan.tried],
        },
        "steps": _step_ops(plan, graph),
        "buffers": [
            {"name": b.name, "label": _label(b, graph), "tensors": list(b.tensors),
             "scratch_of": b.scratch_of,
             "size_bytes": b.size, "offset": off, "first_step": b.first, "last_step": b.last,
             "overlaps": shares.get(b.id, [])}
            for b, off in sorted(zip(plan.buffers, plan.offsets), key=lambda x: (x[0].first, x[1]))
        ],
    }
    if file_order_bound is not None:
        doc["file_order_no_overlap_bound_bytes"] = file_order_bound
    return doc


def plan_text(plan: Plan, graph: Graph, file_order_bound: int | None = None) -> str:
    doc = plan_json(plan, graph, file_order_bound)
    out = [f"{graph.name}: {len(graph.ops)} operators, arena {plan.arena_bytes:,} bytes"]
    bound = (f"  lower bound {plan.lower_bound:,} bytes (the largest single-operator requirement "
             f"of this schedule, overlaps allowed)")
    out.append(bound)
    if file_order_bound is not None:
        out.append(f"  no-overlap lower bound of the file's operator order {file_order_bound:,} bytes")
    out.append(f"  schedule: {doc['schedule']['method']}")
    out.append(f"  packing: {plan.algorithm}"
               + (" (optimal for this schedule)" if plan.optimal else "")
               + f"; exact search: {plan.exact}")
    out.append("  tried: " + ", ".join(f"{a} {n:,}" for a, n in plan.tried))
    out.append("")
    out.append(f"{'step':>4} {'file#':>5}  {'operator':<20} {'needs':>9} {'alive':>9}")
    for r in doc["steps"]:
        fi = "" if r["file_index"] is None else r["file_index"]
        out.append(f"{r['step']:>4} {fi:>5}  {r['type']:<20} {r['requirement_bytes']:>9,} "
                   f"{r['live_bytes']:>9,}")
    out.append("")
    labels = {b["name"]: b["label"] for b in doc["buffers"]}
    out.append(f"{'buffer':<28} {'bytes':>8} {'offset':>8} {'steps':>9}  shares bytes with its input")
    for b in doc["buffers"]:
        ov = ", ".join(f"{o['shared_bytes']:,} B of {labels[o['input']]} (kernel needs a "
                       f"{o['lead_bytes']}-byte lead)" for o in b["overlaps"] if o["shared_bytes"])
        out.append(f"{b['label']:<28} {b['size_bytes']:>8,} {b['offset']:>8,} "
                   f"{b['first_step']:>4}..{b['last_step']:<3}  {ov}")
    return "\n".join(out)


def plot_timeline(plan: Plan, graph: Graph, path, labels: Sequence[str] | None = None,
                  segments: Sequence[Segment] = ()) -> None:
    """Memory timeline: operators along x, arena offsets along y, one rectangle per buffer; a
    streamed segment's block (its STREAMED step, ``segments`` in order) shows its row buffers.
    The file type follows the extension (.png, .svg, .pdf)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise EdgekitError(f"--plot {path}: give a .png, .svg or .pdf file")
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        raise EdgekitError("--plot needs matplotlib (pip install 'edgekit[plot]')") from None
    steps = plan.steps
    if labels is None:
        labels = [f"{k} {op.type_name}" for k, op in enumerate(graph.ops)] + ["out"]
    fig = Figure(figsize=(max(8.0, 0.38 * steps + 3), 6.0))
    ax = fig.add_subplot(1, 1, 1)
    colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
              "#ff9da7", "#9c755f", "#bab0ac"]
    for k, (b, off) in enumerate(zip(plan.buffers, plan.offsets)):
        color = "#999999" if b.scratch_of is not None else colors[k % len(colors)]
        ax.add_patch(Rectangle((b.first - 0.45, off), b.last - b.first + 0.9, b.size,
                               facecolor=color, edgecolor="black", linewidth=0.5, alpha=0.55))
        if b.size >= 0.04 * max(plan.arena_bytes, 1):
            ax.text((b.first + b.last) / 2, off + b.size / 2, _label(b, graph), ha="center",
                    va="center", fontsize=6)
    blocks = [(b, off) for b, off in zip(plan.buffers, plan.offsets)
              if b.scratch_of is not None and graph.ops[b.scratch_of].type_name.startswith("STREAMED")]
    for (b, off), seg in zip(blocks, segments):  # each row buffer inside its segment's block
        for t, r, o in zip(seg.buffers, seg.buffer_rows, seg.offsets):
            ax.add_patch(Rectangle((b.first - 0.4, off + o), 0.8, r * seg.row_bytes[t], facecolor="#d4a6c8",
                                   edgecolor="black", linewidth=0.4))
            also = "".join(f" (+t{x} in place)" for x in seg.sharing(t))
            ax.text(b.first, off + o + r * seg.row_bytes[t] / 2, f"t{t}{also}: {r} row{'s' if r > 1 else ''}",
                    ha="center", va="center", fontsize=5)
    by_id = {b.id: (b, o) for b, o in zip(plan.buffers, plan.offsets)}
    for s in plan.shared:  # the bytes an output shares with its dying input: hatched
        (bi, oi), (bo, oo) = by_id[s.input], by_id[s.output]
        lo, hi = max(oi, oo), min(oi + bi.size, oo + bo.size)
        if lo < hi:
            ax.add_patch(Rectangle((s.step - 0.45, lo), 0.9, hi - lo, fill=False, hatch="///",
                                   edgecolor="black", linewidth=0.0))
    req = plan.step_requirements
    ax.step(range(steps), req, where="mid", color="black", linewidth=1.0,
            label="per-operator requirement")
    ax.axhline(plan.arena_bytes, color="red", linestyle="--", linewidth=1.0,
               label=f"arena {plan.arena_bytes:,} B")
    ax.axhline(plan.lower_bound, color="gray", linestyle=":", linewidth=1.0,
               label=f"lower bound {plan.lower_bound:,} B")
    ax.set_xlim(-0.6, steps - 0.4)
    ax.set_ylim(0, max(plan.arena_bytes, 1) * 1.08)
    ax.set_xticks(range(steps))
    ax.set_xticklabels(list(labels)[:steps], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(f"{graph.name}: memory timeline (hatched: declared overlap)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(str(path))


def segment_json(seg: Segment) -> dict:
    return {"ops": list(seg.ops), "band_rows": seg.band, "steps": seg.steps, "block_bytes": seg.block_bytes,
            "row_buffers": [{"tensor": t, "rows": r, "bytes": r * seg.row_bytes[t], "offset": o,
                             "also_holds": list(seg.sharing(t))}
                            for t, r, o in zip(seg.buffers, seg.buffer_rows, seg.offsets)],
            "state": [{"op": st.op, "what": _state_what(st), "bytes": st.state_bytes, "offset": o}
                      for st, o in zip(seg.stages, seg.state_offsets) if o >= 0],
            "row_pairs": [{"op": st.op, "first_row_alone": st.odd_pairs} for st in seg.stages if st.pairs],
            "scratch_offset": seg.scratch_offset, "whole_inputs": list(seg.inputs),
            "whole_outputs": list(seg.outputs),
            "made_over_in_whole_outputs": [{"tensor": x, "in": y} for x, y in seg.in_whole.items()],
            "overlaps": [{"input": d.input, "output": d.output, "lead": d.lead} for d in seg.overlaps]}


def _state_what(st) -> str:
    """What a stage keeps from one step to the next (``Stage.state_bytes``)."""
    if st.reduce:
        return "sums"
    return "next row's first pixels" if st.ahead else "weights staged"


def segment_text(k: int, seg: Segment) -> str:
    """A streamed segment for people: its operators, steps and row buffers."""
    rows = ", ".join(f"t{t}{''.join(f' (and t{x}, made over in place)' for x in seg.sharing(t))} {r} "
                     f"row{'s' if r > 1 else ''} ({r * seg.row_bytes[t]:,} B at +{o})"
                     for t, r, o in zip(seg.buffers, seg.buffer_rows, seg.offsets))
    driver = "the input (pulled)" if seg.pulled is not None else f"op {seg.ops[0]}'s output"
    whole = "".join(f"; t{x} made over in place in whole t{y}" for x, y in seg.in_whole.items())
    state = "".join(f"; op {st.op}'s {_state_what(st)} ({st.state_bytes:,} B at +{o})"
                    for st, o in zip(seg.stages, seg.state_offsets) if o >= 0)
    odd = [str(st.op) for st in seg.stages if st.odd_pairs]
    pairs = f"; op{'s' if len(odd) > 1 else ''} {', '.join(odd)} in row pairs from row 1 (row 0 alone)" if odd else ""
    return (f"streamed segment {k}: ops {seg.ops[0]}-{seg.ops[-1]} (one STREAMED step above), {seg.steps} steps of "
            f"{seg.band} row{'s' if seg.band > 1 else ''} of {driver}; block {seg.block_bytes:,} bytes: "
            f"row buffers {rows}{whole}{state}{pairs}; kernels' scratch at +{seg.scratch_offset}")

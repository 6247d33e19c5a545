"""``edgekit report``: one self-contained HTML page per model, for the person deciding whether it
ships: every operator in the order it runs (shapes, MACs, weights, the kernel chosen, the arena in
use while it runs, its cycles when a profile is given, its quantization error when the Keras model
is given), the memory timeline, and flash and RAM against the board's limits.

Facts come from the stages that own them: the planner (order, arena, timeline), the lowering
(kernels), a firmware build (sizes), ``edgekit profile``'s JSON (measured time, estimated cycles),
``frontend.layer_error`` (SQNR per layer). Nothing is estimated here.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .codegen import plan_model
from .codegen.core import HOST
from .codegen.inspection import inspect_graph
from .codegen.lower import lower_graph
from .errors import EdgekitError
from .frontend.layer_error import layer_sqnr
from .ir import dequantize_values, read_tflite
from .plan.report import plan_json, plot_timeline
from .target.boards import load_board
from .target.build import build_firmware
from .target.host import load_inputs


@dataclass
class Report:
    model: str
    sha256: str
    target: str
    rows: list[dict] = field(default_factory=list)  # one per operator, in the order they run
    arena_bytes: int = 0
    lower_bound_bytes: int = 0
    timeline_png: bytes = b""
    sizes: dict | None = None  # flash and RAM of the firmware, with the board's limits
    profile_note: str = ""
    sqnr_note: str = ""



def build_report(model: Path, board: str | None = None, keras: Path | None = None, inputs: Path | None = None,
                 profile: Path | None = None) -> Report:
    graph = read_tflite(model)
    brd = load_board(board) if board else None
    target = brd.target() if brd else HOST
    mp = plan_model(graph, target)
    g = mp.graph  # operators in the order they run
    doc = plan_json(mp.plan, mp.steps_graph)
    calls = lower_graph(g, dataclasses.replace(target, lean_ops=mp.lean_ops))  # the kernels generate chooses
    rows_in = inspect_graph(g).ops
    rep = Report(graph.name, graph.digest, brd.name if brd else "host (portable C)",
                 arena_bytes=mp.plan.arena_bytes, lower_bound_bytes=mp.plan.lower_bound)
    for step, (r, call) in enumerate(zip(rows_in, calls)):
        op = g.ops[step]
        weight_bytes = sum(t.nbytes for t in g.op_inputs(op) if t is not None and t.is_constant)
        at = doc["steps"][mp.step_of[step]]  # an operator of a streamed segment: the segment's step
        rep.rows.append({"step": step, "file_index": mp.file_order[step], "type": r.type,
                         "inputs": [list(s) for s in r.inputs], "outputs": [list(s) for s in r.outputs],
                         "macs": r.macs, "weight_bytes": weight_bytes, "kernel": call.function,
                         "live_bytes": at["live_bytes"],
                         "output_name": g.tensors[op.outputs[0]].name, "cycles": None, "measured": None,
                         "sqnr_db": None})
    with tempfile.TemporaryDirectory(prefix="edgekit-report-") as tmp:
        png = Path(tmp) / "timeline.png"
        plot_timeline(mp.plan, mp.steps_graph, png)
        rep.timeline_png = png.read_bytes()
        if brd is not None:
            fw = build_firmware(model, brd, Path(tmp) / "fw", target=target)
            s = fw.sizes
            rep.sizes = {"flash_bytes": s.flash_bytes, "flash_weights_bytes": s.flash_weights_bytes,
                         "flash_code_bytes": s.flash_code_bytes, "flash_limit_bytes": s.flash_limit_bytes,
                         "ram_bytes": s.ram_bytes, "ram_arena_bytes": s.ram_arena_bytes,
                         "ram_stack_bytes": s.ram_stack_bytes, "ram_limit_bytes": s.ram_limit_bytes,
                         "invoke_stack": fw.generated.invoke_stack.text() if fw.generated.invoke_stack else None}
    if profile is not None:
        _attach_profile(rep, Path(profile), graph.digest)
    if keras is not None:
        if inputs is None:
            raise EdgekitError("--keras needs --inputs: the per-layer error is measured on your data")
        tensors = [graph.tensors[i] for i in graph.inputs]
        samples = [[dequantize_values(x, t.scale, t.zero_point) if t.quant else x.astype(np.float32)
                    for x, t in zip(s, tensors)] for s in load_inputs(graph, Path(inputs))]
        sqnr = layer_sqnr(Path(keras), Path(model).read_bytes(), samples)
        for row in rep.rows:
            row["sqnr_db"] = sqnr.get(row["output_name"])
        found = sum(r["sqnr_db"] is not None for r in rep.rows)
        rep.sqnr_note = (f"SQNR of each operator's int8 output against the float Keras model's, on the {len(samples)} "
                         f"inputs of {Path(inputs).name}; {found} of {len(rep.rows)} operators have a float twin")
    return rep


def _attach_profile(rep: Report, path: Path, sha: str) -> None:
    try:
        prof = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgekitError(f"{path}: not a profile report ({type(exc).__name__})") from None
    if prof.get("model_sha256") != sha:
        raise EdgekitError(f"{path}: profiled another model (sha256 {str(prof.get('model_sha256'))[:12]})")
    est = (prof.get("estimated_cycles") or {}).get("operators") or []
    unit = (prof.get("latency") or {}).get("unit", "")
    for row, o in zip(rep.rows, prof.get("operators") or []):
        row["measured"] = o.get(unit)
    for row, e in zip(rep.rows, est):
        row["cycles"] = e.get("estimated_cycles")
    rep.profile_note = (f"measured on {prof.get('board')} ({unit}, per operator, timer overhead removed)"
                        + ("; estimated cycles from the QEMU cycle model" if est else ""))


def _n(v) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, float):
        return "&infin;" if math.isinf(v) else f"{v:,.1f}"
    return f"{v:,}"


def render_html(rep: Report) -> str:
    e = html.escape
    total_macs = sum(r["macs"] for r in rep.rows) or 1
    peak = max((r["live_bytes"] for r in rep.rows), default=1) or 1
    head = ("<tr><th>#</th><th>operator</th><th>input</th><th>output</th><th>MACs</th><th>weights (B)</th>"
            "<th>kernel</th><th>live tensors (B)</th><th>measured</th><th>est. cycles</th><th>SQNR (dB)</th></tr>")
    body = []
    for r in rep.rows:
        shape = lambda ss: e(", ".join("x".join(map(str, s)) for s in ss))  # noqa: E731
        bar = f'<span class="bar" style="width:{100 * r["live_bytes"] / peak:.0f}px"></span>'
        kernel = f"<code>{e(r['kernel'])}</code>" if r["kernel"] else "(shares its input's storage)"
        body.append(f"<tr><td>{r['step']}</td><td>{e(r['type'])}</td><td>{shape(r['inputs'])}</td>"
                    f"<td>{shape(r['outputs'])}</td><td>{_n(r['macs'])} ({100 * r['macs'] / total_macs:.0f}%)</td>"
                    f"<td>{_n(r['weight_bytes'])}</td><td>{kernel}</td>"
                    f"<td>{bar} {_n(r['live_bytes'])}</td><td>{_n(r['measured'])}</td><td>{_n(r['cycles'])}</td>"
                    f"<td>{_n(r['sqnr_db'])}</td></tr>")
    sizes = ""
    if rep.sizes:
        s = rep.sizes
        sizes = (f"<h2>Flash and RAM on {e(rep.target)}</h2><table class=\"sizes\">"
                 f"<tr><th>flash</th><td>{_n(s['flash_bytes'])} of {_n(s['flash_limit_bytes'])} bytes "
                 f"({100 * s['flash_bytes'] / s['flash_limit_bytes']:.1f}%): weights {_n(s['flash_weights_bytes'])}, "
                 f"code {_n(s['flash_code_bytes'])}</td></tr>"
                 f"<tr><th>RAM</th><td>{_n(s['ram_bytes'])} of {_n(s['ram_limit_bytes'])} bytes "
                 f"({100 * s['ram_bytes'] / s['ram_limit_bytes']:.1f}%): arena {_n(s['ram_arena_bytes'])}, "
                 f"stack reserve {_n(s['ram_stack_bytes'])}</td></tr>"
                 + (f"<tr><th>stack</th><td>{e(s['invoke_stack'])}</td></tr>" if s.get("invoke_stack") else "")
                 + "</table>")
    notes = "".join(f"<p class=\"note\">{e(n)}</p>" for n in (rep.profile_note, rep.sqnr_note) if n)
    png = base64.b64encode(rep.timeline_png).decode()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(rep.model)}: edgekit report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }}
th {{ background: #f4f4f4; }} td:nth-child(2), td:nth-child(7) {{ text-align: left; }}
.bar {{ display: inline-block; height: 8px; background: #4a90d9; }}
.note {{ color: #555; font-size: 13px; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{e(rep.model)}</h1>
<p>sha256 <code>{e(rep.sha256)}</code>; kernels for {e(rep.target)}; {len(rep.rows)} operators,
{_n(total_macs)} MACs; activation arena {_n(rep.arena_bytes)} bytes (lower bound {_n(rep.lower_bound_bytes)});
edgekit {e(__version__)}.</p>
{sizes}
<h2>Operators, in the order they run</h2>
<p class="note">Live tensors: the bytes of every tensor alive while the operator runs; the arena holds
them in fewer where an output overlaps its input.</p>{notes}
<table id="operators">{head}
{chr(10).join(body)}
</table>
<h2>Memory timeline</h2>
<img id="timeline" alt="arena offsets of every buffer over the operators" src="data:image/png;base64,{png}">
</body></html>
"""

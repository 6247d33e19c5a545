"""``edgekit report``: one self-contained HTML page per model (edgekit.report)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ExitCode
from ..folders import write_atomic
from ..report import build_report, render_html


def add_parser(sub) -> None:
    r = sub.add_parser("report", help="one HTML page per model: operators, arena, kernels, sizes, per-layer error")
    r.add_argument("model", help="the int8 .tflite")
    r.add_argument("-o", "--output", required=True, help="the .html file to write")
    r.add_argument("--board", help="kernels, and flash and RAM against its limits (builds the firmware)")
    r.add_argument("--keras", help="the float Keras model: adds each layer's SQNR (needs --inputs)")
    r.add_argument("--inputs", help=".npy / .npz inputs for the per-layer error")
    r.add_argument("--profile", help="a profile.json of this model (edgekit deploy/profile): measured time "
                   "and estimated cycles per operator")
    r.set_defaults(run=run)


def run(args) -> ExitCode:
    rep = build_report(Path(args.model), board=args.board, keras=Path(args.keras) if args.keras else None,
                       inputs=Path(args.inputs) if args.inputs else None,
                       profile=Path(args.profile) if args.profile else None)
    write_atomic(Path(args.output), render_html(rep))
    print(f"wrote {args.output}: {rep.model}, {len(rep.rows)} operators, arena {rep.arena_bytes:,} bytes")
    return ExitCode.OK

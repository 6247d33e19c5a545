"""``edgekit plan``: the memory plan -- schedule, lifetimes, offsets, arena against its lower bound."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ..codegen import plan_model
from ..codegen.core import HOST
from ..errors import ExitCode
from ..ir import read_tflite
from ..plan.report import plan_json, plan_text, plot_timeline, segment_json, segment_text
from ..target.boards import load_board
from .output import add_arena_limit, add_ram_weights, add_stream, arena_limit, print_json, target_options


def add_parser(sub) -> None:
    pl = sub.add_parser("plan", help="memory plan: schedule, lifetimes, offsets, arena vs lower bound")
    pl.add_argument("model")
    pl.add_argument("--board", default="host", help="plan for the kernels of this board's core "
                    "(their scratch and overlaps); default: the host (portable C)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--plot", help="write a memory timeline to this .png or .svg")
    add_arena_limit(pl)
    add_stream(pl)
    add_ram_weights(pl)
    pl.add_argument("--no-reorder", action="store_true", help="keep the file's operator order")
    pl.set_defaults(run=run)


def run(args) -> ExitCode:
    target = dataclasses.replace(HOST if args.board == "host" else load_board(args.board).target(),
                                 **target_options(args))
    mp = plan_model(read_tflite(args.model), target, ram_limit=arena_limit(args), reorder_ops=not args.no_reorder)
    if args.plot:
        plot_timeline(mp.plan, mp.steps_graph, Path(args.plot), segments=mp.segments)
    if args.json:
        doc = plan_json(mp.plan, mp.steps_graph, mp.file_order_bound)
        doc["unplanned_kernels"] = list(mp.notes)
        doc["streamed_segments"] = [segment_json(seg) for seg in mp.segments]
        doc["staged_weights"] = [{"op": op, "bytes": n} for op, n in mp.staged]
        doc["arena_limit_note"] = mp.limit_note
        print_json(doc)
    else:
        print(plan_text(mp.plan, mp.steps_graph, mp.file_order_bound))
        for k, seg in enumerate(mp.segments):
            print(segment_text(k, seg))
        if mp.staged:
            print(f"staged weights (--stage-weights): {len(mp.staged)} operators copy theirs into their scratch "
                  "(or their segment's block) before they run: " + ", ".join(f"op {op} {n:,} B" for op, n in mp.staged))
        if mp.limit_note:
            print(mp.limit_note)
        if args.plot:
            print(f"timeline written to {args.plot}")
    for note in mp.notes:
        print(f"edgekit: note: planned without kernel facts (no scratch, no overlap): {note}", file=sys.stderr)
    return ExitCode.OK

"""``edgekit export``: a model as a library for CMake, Make, Zephyr, PlatformIO or Arduino."""

from __future__ import annotations

from pathlib import Path

from ..codegen.core import HOST, target_for_cpu
from ..codegen.export import FORMATS, export
from ..errors import ExitCode
from ..folders import locked
from ..ir import read_tflite
from ..target.boards import load_board
from .output import add_arena_limit, add_no_winograd, arena_limit


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="a model as a library for CMake, Make, Zephyr, PlatformIO or Arduino")
    e.add_argument("model")
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument("-o", "--output", required=True, help="the library folder")
    e.add_argument("--board", default="host", help="a board (edgekit boards) whose core picks the kernels; "
                   "default: portable C")
    e.add_argument("--prefix", default="model", help="the C prefix, and the library's name")
    add_arena_limit(e)
    add_no_winograd(e)
    e.set_defaults(run=run)


def run(args) -> ExitCode:
    target = HOST if args.board == "host" else target_for_cpu(load_board(args.board).cpu,
                                                             winograd=not args.no_winograd)
    graph = read_tflite(args.model)
    with locked(args.output):
        gen, files = export(graph, Path(args.output), args.format, prefix=args.prefix,
                            source=Path(args.model).name, ram_limit=arena_limit(args), target=target)
    print(f"exported {gen.prefix} for {args.format} in {args.output}: {', '.join(str(f.relative_to(args.output)) for f in files[:4])}"
          f"{' ...' if len(files) > 4 else ''}; {len(gen.calls)} operators, arena {gen.arena_bytes:,} bytes")
    return ExitCode.OK

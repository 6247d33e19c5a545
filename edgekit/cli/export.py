"""``edgekit export``: a model as a library for CMake, Make, Zephyr, PlatformIO or Arduino."""

from __future__ import annotations

from pathlib import Path

from ..codegen.export import FORMATS, export
from ..errors import ExitCode
from ..folders import locked
from ..ir import read_tflite
from .output import add_arena_limit, add_board_target, arena_limit, stack_of, target_of


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="a model as a library for CMake, Make, Zephyr, PlatformIO or Arduino")
    e.add_argument("model")
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument("-o", "--output", required=True, help="the library folder")
    e.add_argument("--prefix", default="model", help="the C prefix, and the library's name")
    add_arena_limit(e)
    add_board_target(e)
    e.set_defaults(run=run)


def run(args) -> ExitCode:
    target = target_of(args)
    graph = read_tflite(args.model)
    with locked(args.output):
        gen, files = export(graph, Path(args.output), args.format, prefix=args.prefix,
                            source=Path(args.model).name, ram_limit=arena_limit(args), target=target,
                            stack=stack_of(args, target))
    print(f"exported {gen.prefix} for {args.format} in {args.output}: {', '.join(str(f.relative_to(args.output)) for f in files[:4])}"
          f"{' ...' if len(files) > 4 else ''}; {len(gen.calls)} operators, arena {gen.arena_bytes:,} bytes"
          + (f"; {gen.invoke_stack.text()}" if gen.invoke_stack else ""))
    return ExitCode.OK

"""``edgekit generate``: C source for an int8 .tflite."""

from __future__ import annotations

from pathlib import Path

from ..codegen import generate
from ..errors import ExitCode
from ..folders import locked
from ..ir import read_tflite
from .output import add_arena_limit, add_board_target, arena_limit, stack_of, target_of


def add_parser(sub) -> None:
    g = sub.add_parser("generate", help="C source for an int8 .tflite")
    g.add_argument("model")
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--prefix", default="model")
    add_arena_limit(g)
    add_board_target(g)
    g.set_defaults(run=run)


def run(args) -> ExitCode:
    target = target_of(args)
    graph = read_tflite(args.model)
    stack = stack_of(args, target)
    with locked(args.output):  # one run at a time per folder
        gen = generate(graph, Path(args.output), prefix=args.prefix, source=Path(args.model).name,
                       ram_limit=arena_limit(args), target=target, stack=stack)
    print(f"generated {gen.prefix}.h, {gen.prefix}.c, {gen.prefix}_weights.c in {gen.out_dir}: "
          f"{len(gen.calls)} operators, arena {gen.arena_bytes:,} bytes, weights {gen.weight_bytes:,} bytes"
          + (f" ({len(gen.staged_ops)} operators copy theirs into the arena before they run: --stage-weights)"
             if gen.staged_ops else "")
          + (f"; {gen.invoke_stack.text()}" if gen.invoke_stack else "")
          + (f"\n{gen.limit_note}" if gen.limit_note else ""))
    return ExitCode.OK


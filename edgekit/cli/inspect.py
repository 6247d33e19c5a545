"""``edgekit inspect``: operators, shapes, MACs; lists what edgekit cannot run."""

from __future__ import annotations

import sys

from ..codegen.inspection import inspect_graph
from ..errors import ExitCode
from ..ir import read_tflite
from .output import print_json


def add_parser(sub) -> None:
    i = sub.add_parser("inspect", help="operators, shapes, MACs; lists what edgekit cannot run")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(run=run)


def run(args) -> ExitCode:
    result = inspect_graph(read_tflite(args.model))
    if args.json:
        print_json(result.to_json())
    else:
        print(result.table())
        for r in result.unsupported:  # a lowering's reason names its operator already
            print(f"unsupported: {f'op {r.index} {r.type}' if r.reason == 'no kernel' else r.reason}", file=sys.stderr)
    if result.unsupported:
        print(f"edgekit: {len(result.unsupported)} operator(s) edgekit cannot run", file=sys.stderr)
        return ExitCode.UNSUPPORTED_OPERATORS
    return ExitCode.OK

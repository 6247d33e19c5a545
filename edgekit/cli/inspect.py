"""``edgekit inspect``: operators, shapes, MACs; lists what edgekit cannot run."""

from __future__ import annotations

import sys

from ..codegen.inspection import inspect_graph
from ..codegen.lower import unsupported_text
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
            what = f"op {r.index} {r.type}: no kernel" if r.reason == "no kernel" else r.reason
            print(f"unsupported: {what}" + (f" (from {r.scope})" if r.scope else ""), file=sys.stderr)
    if result.unsupported:
        print(f"edgekit: {unsupported_text(result.unsupported, scope=lambda r: r.scope)}", file=sys.stderr)
        return ExitCode.UNSUPPORTED_OPERATORS
    return ExitCode.OK

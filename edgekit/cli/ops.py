"""``edgekit ops``: the operators edgekit runs, their activation types and kernel families."""

from __future__ import annotations

from ..codegen.catalog import markdown, operator_rows, text
from ..errors import ExitCode
from .output import print_json


def add_parser(sub) -> None:
    o = sub.add_parser("ops", help="the operators edgekit runs: activation types and kernel families")
    form = o.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--markdown", action="store_true", help="as the README's table")
    o.set_defaults(run=run)


def run(args) -> ExitCode:
    rows = operator_rows()
    if args.json:
        print_json({"operators": [r.to_json() for r in rows]})
    elif args.markdown:
        print(markdown(rows), end="")
    else:
        print(text(rows))
    return ExitCode.OK

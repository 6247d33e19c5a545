"""``edgekit cycles``: estimated cycles and time of a firmware image on a board, from QEMU."""

from __future__ import annotations

from pathlib import Path

from ..errors import ExitCode
from ..target import image_cycles
from ..target.boards import load_board
from .output import report


def add_parser(sub) -> None:
    cy = sub.add_parser("cycles", help="estimated cycles and ms of a firmware image (.elf) on a board, run under QEMU")
    cy.add_argument("elf", help="a Cortex-M4/M7 image that calls ek_harness_op_hook before and after what it "
                               "times (and per operator), then exits by semihosting")
    cy.add_argument("--board", required=True, help="board whose core, clock and memory system are modelled")
    cy.add_argument("--timeout", type=float, default=image_cycles.DEFAULT_TIMEOUT_S,
                    help=f"seconds the image may run (default {image_cycles.DEFAULT_TIMEOUT_S:g})")
    cy.add_argument("--json", action="store_true")
    cy.set_defaults(run=run)


def run(args) -> ExitCode:
    result = image_cycles.run(Path(args.elf), load_board(args.board), args.timeout)
    report(result, args)
    return ExitCode.OK

"""``edgekit build``: firmware for a board -- model, kernels, harness, board support."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import ExitCode
from ..target.boards import DEFAULT_BOARD, load_board
from ..target.build import build_firmware
from .output import add_no_winograd, add_ram_kernels, byte_count, add_ram_weights, add_stream, report, target_options


def add_parser(sub) -> None:
    bu = sub.add_parser("build", help="firmware for a board: model, kernels, harness, board support")
    bu.add_argument("model", help="int8 .tflite")
    bu.add_argument("--board", default=DEFAULT_BOARD, help="board name (edgekit boards) or a board .yaml")
    bu.add_argument("-o", "--output", required=True, help="build folder")
    bu.add_argument("--ram-limit", type=byte_count, metavar="BYTES",
                    help=".data + .bss + stack must fit in this many bytes (try a smaller part): where they do "
                         "not, the arena is planned smaller, trading cycles as --arena-limit does; an error if "
                         "no plan fits")
    bu.add_argument("--json", action="store_true")
    add_no_winograd(bu)
    add_stream(bu)
    add_ram_weights(bu)
    add_ram_kernels(bu)
    bu.set_defaults(run=run)


def run(args) -> ExitCode:
    board = load_board(args.board)
    fw = build_firmware(Path(args.model), board, Path(args.output), ram_limit=args.ram_limit,
                        target=dataclasses.replace(board.target(winograd=not args.no_winograd),
                                                   **target_options(args)))
    report(fw, args)
    return ExitCode.OK

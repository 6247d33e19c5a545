"""``edgekit flash``: program a board with a build (QEMU boards: start the emulator)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ExitCode
from ..target.flash import board_for_build, flash, serve_emulated


def add_parser(sub) -> None:
    fl = sub.add_parser("flash", help="program a board with a build (QEMU boards: start the emulator)")
    fl.add_argument("build_dir", help="folder written by edgekit build")
    fl.add_argument("--board", help="board name; must match the build (default: the build's board)")
    fl.add_argument("--serial", choices=["pty", "tcp"], default="pty", help="QEMU boards: serial port kind")
    fl.add_argument("--seconds", type=float, help="QEMU boards: stop after this many seconds")
    fl.set_defaults(run=run)


def _announce(board, emu) -> None:
    print(f"{board.name}: {board.emulator.program} running, serial port {emu.port_url}", flush=True)
    print("Ctrl-C stops it", file=sys.stderr, flush=True)


def run(args) -> ExitCode:
    board, _ = board_for_build(Path(args.build_dir), args.board)
    if board.emulated:
        serve_emulated(Path(args.build_dir), board, serial=args.serial, seconds=args.seconds, announce=_announce)
    else:
        print(f"flashed {board.name} with {flash(Path(args.build_dir), board).tool}")
    return ExitCode.OK

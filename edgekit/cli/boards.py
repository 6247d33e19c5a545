"""``edgekit boards``: the board files edgekit knows."""

from __future__ import annotations

from ..errors import ExitCode
from ..target.boards import all_boards
from .output import print_json


def add_parser(sub) -> None:
    bl = sub.add_parser("boards", help="the boards edgekit knows (boards/*.yaml)")
    bl.add_argument("--json", action="store_true")
    bl.set_defaults(run=run)


def run(args) -> ExitCode:
    boards = all_boards()
    if args.json:
        print_json([b.to_json() for b in boards])
        return ExitCode.OK
    print(f"{'board':<18} {'cpu':<14} {'clock':>8} {'flash':>10} {'RAM':>10}  {'timer':<13} runs on")
    for b in boards:
        where = (f"{b.emulator.program} -M {b.emulator.machine}" if b.emulator
                 else "flash: " + ", ".join(t.tool for t in b.flash_tools))
        print(f"{b.name:<18} {b.cpu:<14} {b.clock_hz / 1e6:>5g} MHz {b.flash_bytes // 1024:>6,} KiB "
              f"{b.ram_bytes // 1024:>6,} KiB  {b.timer:<13} {where}")
    return ExitCode.OK

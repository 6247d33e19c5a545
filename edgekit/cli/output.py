"""How the commands print: JSON on stdout when asked, progress on stderr."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..codegen.core import HOST, RAM_WEIGHTS_ALL
from ..errors import EdgekitError
from ..target.boards import load_board
from ..target.build import invoke_stack


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def report(result, args: argparse.Namespace) -> None:
    """A result with ``to_json()`` and ``summary()``: JSON with ``--json``, else the summary."""
    if args.json:
        print_json(result.to_json())
    else:
        print(result.summary())


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10,000,000 seconds: {text}")
    return value


def add_deadline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deadline", type=positive_seconds, metavar="SECONDS",
                        help="give up on the device this long after the first input is sent (default: "
                             "from the model's size and the number of inputs; a device that stops answering "
                             "fails within it)")


def byte_count(text: str, what: str = "a number of bytes") -> int:
    """A limit in bytes (--arena-limit, --ram-limit): a whole number, not negative."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative ({what})")
    return value


def add_arena_limit(parser: argparse.ArgumentParser) -> None:
    """``--arena-limit`` (the activation arena) for the commands that plan but build no firmware;
    ``--ram-limit`` means the firmware's whole RAM (build, deploy), so here it is refused."""
    parser.add_argument("--arena-limit", type=byte_count, metavar="BYTES",
                        help="the arena must fit in this many bytes: where the default plan does not, edgekit "
                             "trades cycles for it (a larger streaming budget than --stream-cycles-budget, direct "
                             "3x3 convolutions instead of Winograd), the plan with the least estimated work that "
                             "fits, and says so; an error if none fits")
    parser.add_argument("--ram-limit", type=int, help=argparse.SUPPRESS)


def arena_limit(args) -> int | None:
    if args.ram_limit is not None:
        raise EdgekitError("--ram-limit is the firmware's whole RAM (edgekit build, deploy); "
                           f"for the activation arena give --arena-limit {args.ram_limit}")
    return args.arena_limit


def add_board_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", default="host", help="a board (edgekit boards) whose core picks the kernels; "
                        "default: the host (portable C)")
    add_no_winograd(parser)
    add_stream(parser)
    add_ram_weights(parser)


def target_of(args):
    """The kernels for ``--board``: its core's (DSP where it has them), or portable C for the host."""
    if args.board == "host":
        return dataclasses.replace(HOST, **target_options(args))
    return dataclasses.replace(load_board(args.board).target(winograd=not args.no_winograd),
                               **target_options(args))


def stack_of(args, target):
    """For ``generate(stack=...)``: the board's stack figure of the generated invoke (none for the host)."""
    if args.board == "host":
        return None
    return invoke_stack(load_board(args.board), target)


def add_stream(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-stream", action="store_true",
                        help="whole tensors only: by default chains of convolutions, pools, PADs and ADDs run a band of "
                             "rows at a time (their inner tensors kept as a few rows) where that lowers the arena "
                             "within --stream-cycles-budget")
    parser.add_argument("--stream-cycles-budget", type=_budget, default=0.10, metavar="F",
                        help="the most extra cycles streaming may cost, as a fraction of the model's, estimated "
                             "(default 0.10; benchmarks/target.py measures it); a segment must also lower the "
                             "arena by at least the fraction it adds to the cycles")
    parser.add_argument("--pull-input", action="store_true",
                        help="keep the input out of the arena: the model reads it row by row (P_run_rows asks "
                             "your code for each row; P_invoke reads your buffer), where its readers can stream")


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..10 (a fraction of the model's cycles)")
    return value


def stream_options(args) -> dict:
    """Target fields of --no-stream and --stream-cycles-budget."""
    return {"stream": not args.no_stream, "stream_cycles_budget": args.stream_cycles_budget,
            "pull_input": args.pull_input}


def add_ram_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ram-weights", type=ram_bytes, default=0, metavar="BYTES",
                        help="copy up to BYTES of the weights to RAM at start-up, the most-read arrays first "
                             "(all: every array), where flash wait states slow each read; they stay in flash too")
    parser.add_argument("--stage-weights", type=ram_bytes, default=None, metavar="BYTES",
                        help="copy an operator's weights into the arena just before it runs when its kernel reads "
                             "them many times (convolutions over many pixels), while the arena grows by at most BYTES "
                             "(all: no limit; 0: never): flash is then read once per weight "
                             "(default: 8192 on boards whose flash has wait states, else 0)")


def ram_bytes(text: str) -> int:
    """--ram-weights' (and --stage-weights') value: a number of bytes, or 'all' (RAM_WEIGHTS_ALL)."""
    return RAM_WEIGHTS_ALL if text == "all" else byte_count(text, "a number of bytes, or 'all'")


def add_ram_kernels(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-ram-kernels", action="store_true",
                        help="keep the kernels' code in flash: by default, on boards whose flash has wait states "
                             "and whose core runs code from a RAM without them (nucleo-l4r5zi: SRAM2), the "
                             "kernels are copied there at start-up and run from it")


def target_options(args) -> dict:
    """Target fields of the streaming options, --ram-weights, --stage-weights and --no-ram-kernels."""
    staging = {} if args.stage_weights is None else {"stage_weights": args.stage_weights}  # None: the board's
    in_flash = {"ram_kernels": False} if getattr(args, "no_ram_kernels", False) else {}  # else: the board's
    return {**stream_options(args), "ram_weights": args.ram_weights, **staging, **in_flash}


def add_no_winograd(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-winograd", action="store_true",
                        help="keep 3x3 stride-1 convolutions direct on DSP cores: Winograd stores their "
                             "weights 3.6x larger (32 B per channel pair instead of 9) to run them about 2x faster")

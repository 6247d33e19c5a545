"""``edgekit profile``: run a model on a board -- latency, RAM, flash, outputs against tflite-micro."""

from __future__ import annotations

from pathlib import Path

from ..errors import EdgekitError, ExitCode
from ..harness.deploy import profile_target
from .output import add_deadline, log, report


def add_parser(sub) -> None:
    pr = sub.add_parser("profile", help="run a model on a board: latency, RAM, flash, outputs vs tflite-micro")
    pr.add_argument("--board", required=True, help="board name (boards/*.yaml); QEMU boards are started by edgekit")
    pr.add_argument("--port", help="pyserial URL of the device: /dev/ttyACM0, socket://host:port, rfc2217://...")
    pr.add_argument("--model", help="the .tflite the firmware was built from")
    pr.add_argument("--build", help="a firmware build folder written by edgekit deploy")
    pr.add_argument("--inputs", help=".npy of inputs (N, *shape); float data is quantized")
    pr.add_argument("--samples", type=int, default=10, help="random inputs besides --inputs")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--report", help="write the JSON report here (updated after every inference)")
    pr.add_argument("--labels", help=".npy of the class of each --inputs sample: reports top-1 accuracy")
    pr.add_argument("--emulate", action="store_true",
                   help="no hardware: run a real board's kernels on the emulated board of its core and estimate "
                        "cycles and ms with the real board's memory system and clock")
    pr.add_argument("--json", action="store_true")
    add_deadline(pr)
    pr.set_defaults(run=run)


def run(args) -> ExitCode:
    if args.model is None and args.build is None:
        raise EdgekitError("give the model: --model M.tflite, or --build DIR (a firmware build by edgekit deploy)")
    result = profile_target(args.board, port=args.port, model=Path(args.model) if args.model else None,
                            build_dir=Path(args.build) if args.build else None,
                            inputs=Path(args.inputs) if args.inputs else None, samples=args.samples,
                            seed=args.seed, report_path=Path(args.report) if args.report else None,
                            deadline_s=args.deadline, labels=Path(args.labels) if args.labels else None, emulate=args.emulate, log=log)
    report(result, args)
    return ExitCode.OK if result.passed else ExitCode.MISMATCH

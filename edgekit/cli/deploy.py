"""``edgekit deploy``: Keras or .tflite to a board -- convert, plan, generate, build, run, check."""

from __future__ import annotations

from pathlib import Path

from ..errors import ExitCode
from ..harness.deploy import deploy
from .output import add_deadline, add_no_winograd, add_ram_kernels, byte_count, add_ram_weights, add_stream, log, report, target_options


def add_parser(sub) -> None:
    d = sub.add_parser("deploy", help="Keras or .tflite to a board: convert, plan, generate, build, run, check")
    d.add_argument("model", help=".keras, .h5, SavedModel folder or int8 .tflite")
    d.add_argument("--board", required=True)
    d.add_argument("--calib", help="calibration data for a Keras model (.npy, .npz or a folder of images)")
    d.add_argument("--synthetic-calib", action="store_true",
                   help="calibrate a Keras model on random data (accuracy unknown)")
    d.add_argument("--samples", type=int, default=10, help="random inputs to check on the device")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-o", "--output", help="build folder (default: out/<model>-<board>)")
    d.add_argument("--port", help="pyserial URL of a real board (QEMU boards need none)")
    d.add_argument("--report", help="write the JSON profile report here as results arrive")
    d.add_argument("--inputs", help=".npy (or .npz, one array per input) of inputs to run besides the random ones")
    d.add_argument("--labels", help=".npy of the class of each --inputs sample: reports top-1 accuracy on the device, "
                   "of tflite-micro and of the float Keras model")
    d.add_argument("--emulate", action="store_true",
                   help="no hardware: run a real board's kernels on the emulated board of its core and estimate "
                        "cycles and ms with the real board's memory system and clock")
    d.add_argument("--json", action="store_true")
    d.add_argument("--ram-limit", type=byte_count, metavar="BYTES",
                   help=".data + .bss + stack must fit in this many bytes (default: the board's RAM; with --emulate, "
                        "the real board's): where they do not, the arena is planned smaller, trading cycles, as "
                        "build --ram-limit does")
    add_deadline(d)
    add_no_winograd(d)
    add_stream(d)
    add_ram_weights(d)
    add_ram_kernels(d)
    d.set_defaults(run=run)


def run(args) -> ExitCode:
    result = deploy(Path(args.model), args.board, calib=Path(args.calib) if args.calib else None,
                    synthetic_calib=args.synthetic_calib, samples=args.samples, seed=args.seed,
                    out_dir=Path(args.output) if args.output else None, port=args.port,
                    report_path=Path(args.report) if args.report else None, winograd=not args.no_winograd,
                    options=target_options(args),
                    deadline_s=args.deadline, inputs=Path(args.inputs) if args.inputs else None,
                    labels=Path(args.labels) if args.labels else None, emulate=args.emulate, log=log,
                    ram_limit=args.ram_limit)
    report(result, args)
    return ExitCode.OK if result.passed else ExitCode.MISMATCH

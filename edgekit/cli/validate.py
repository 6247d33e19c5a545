"""``edgekit validate``: compile the generated C for the host and compare with tflite-micro."""

from __future__ import annotations

from pathlib import Path

from ..errors import EdgekitError, ExitCode
from ..target.host import validate_host
from .output import print_json


def add_parser(sub) -> None:
    v = sub.add_parser("validate", help="compile the generated C and compare with tflite-micro")
    v.add_argument("model")
    v.add_argument("--target", default="host")
    v.add_argument("--inputs", help=".npy of inputs (N, *shape); float data is quantized")
    v.add_argument("--samples", type=int, default=10, help="random inputs besides --inputs")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--sanitize", action="store_true", help="build with -fsanitize=address,undefined")
    v.add_argument("--json", action="store_true")
    v.set_defaults(run=run)


def run(args) -> ExitCode:
    if args.target != "host":
        raise EdgekitError(f"validate --target {args.target}: only 'host' here; use 'edgekit profile' for boards")
    result = validate_host(Path(args.model), samples=args.samples, inputs_file=Path(args.inputs) if args.inputs else None,
                           seed=args.seed, sanitize=args.sanitize)
    if args.json:
        print_json(result.to_json())
    else:
        print(result.summary())
    return ExitCode.OK if result.passed else ExitCode.MISMATCH

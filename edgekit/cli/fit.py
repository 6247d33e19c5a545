"""``edgekit fit``: the most accurate zoo network that fits a board's flash, RAM and latency."""

from __future__ import annotations

from pathlib import Path

from ..compress import costmodel, fit
from ..compress.data import load
from ..errors import ExitCode
from .output import log, print_json


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def add_parser(sub) -> None:
    ft = sub.add_parser("fit", help="the most accurate zoo network that fits a board's flash, RAM and latency")
    ft.add_argument("--board", required=True)
    ft.add_argument("--data", required=True, help="'digits' or .npz")
    ft.add_argument("--latency-ms", type=float, help="estimated latency limit per inference")
    ft.add_argument("-o", "--output", default="fit-out", help="folder for the winner and fit_report.json")
    ft.add_argument("--families", type=lambda s: s.split(","),
                    help="comma-separated zoo families (default: mobilenet_v1,mobilenet_v2,ds_cnn)")
    ft.add_argument("--widths", type=_floats, help="comma-separated width multipliers (default: each family's grid)")
    ft.add_argument("--resolutions", type=_ints, default=[16, 32], help="comma-separated input resolutions")
    ft.add_argument("--depths", type=_floats, help="comma-separated depth multipliers (default: each family's grid)")
    ft.add_argument("--epochs", type=int, default=4, help="training epochs per candidate")
    ft.add_argument("--max-trials", type=int, default=4, help="candidates trained (largest that fit first)")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--calibrate", action="store_true",
                    help="instead: fit the latency cost model on the (emulated) --board and save it")
    ft.add_argument("--json", action="store_true")
    ft.set_defaults(run=run)


def run(args) -> ExitCode:
    data = load(args.data, seed=args.seed)
    if args.calibrate:
        model = costmodel.calibrate(fit.calibration_models(data, args.seed), args.board, log=log)
        print(f"cost model for {model.core} fitted on {model.samples} operators, saved to {costmodel.DATA_FILE}")
        return ExitCode.OK
    result = fit.search(args.board, data, args.latency_ms,
                        fit.grid(args.families, args.widths, args.resolutions, args.depths),
                        epochs=args.epochs, max_trials=args.max_trials, seed=args.seed, out_dir=Path(args.output),
                        log=log)
    if args.json:
        print_json(result.to_json())
    else:
        print(result.table())
        for n in result.notes:
            print(f"note: {n}")
        if result.winner is not None:
            print(f"winner: {result.winner.label}: {result.tflite_path} (Keras: {result.keras_path})")
    return ExitCode.OK if result.winner is not None else ExitCode.NOTHING_FITS

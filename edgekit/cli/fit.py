"""``edgekit fit``: the most accurate zoo network that fits a board's flash, RAM and latency."""

from __future__ import annotations

from pathlib import Path

from ..compress import costmodel, fit
from ..compress.data import load
from ..errors import EdgekitError, ExitCode
from .output import log, print_json


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def add_parser(sub) -> None:
    ft = sub.add_parser("fit", help="the most accurate zoo network that fits a board's flash, RAM and latency")
    ft.add_argument("--board", help="the board (with --refit-cost-model: default qemu-mps2-an386)")
    ft.add_argument("--data", help="'digits' or .npz")
    ft.add_argument("--latency-ms", type=float,
                    help="latency limit per inference: estimated cycles at the board's clock, predicted by the "
                         "cost model and measured on the emulated board before the winner is accepted")
    ft.add_argument("-o", "--output", default="fit-out", help="folder for the winner and fit_report.json")
    ft.add_argument("--families", type=lambda s: s.split(","),
                    help="comma-separated zoo families (default: mobilenet_v1,mobilenet_v2,ds_cnn)")
    ft.add_argument("--widths", type=_floats, help="comma-separated width multipliers (default: each family's grid)")
    ft.add_argument("--resolutions", type=_ints, default=[16, 32], help="comma-separated input resolutions")
    ft.add_argument("--depths", type=_floats, help="comma-separated depth multipliers (default: each family's grid)")
    ft.add_argument("--weight-bits", type=_ints, default=[8],
                    help="comma-separated weight precisions to search: 8 and/or 4 (Conv2D kernels int4, QAT)")
    ft.add_argument("--block-sparsity", type=_floats, default=[0.0],
                    help="comma-separated fractions of the Conv2D kernels' 16x2 blocks to zero (0: dense), searched "
                         "for int8 candidates: the last half of the epochs prune to it, and the DSP block-sparse "
                         "convolution skips the zeros")
    ft.add_argument("--epochs", type=int, default=4, help="training epochs per candidate")
    ft.add_argument("--max-trials", type=int, default=4, help="candidates trained (largest that fit first)")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--refit-cost-model", action="store_true",
                    help="instead: run the cost model's training networks on the emulated --board, fit the "
                         "latency cost model and save it (edgekit/data/costmodel.json)")
    ft.add_argument("--json", action="store_true")
    ft.set_defaults(run=run)


def run(args) -> ExitCode:
    if args.refit_cost_model:
        model = costmodel.refit(args.board or costmodel.DEFAULT_BOARD, log=log)
        for name, net in model.networks.items():
            log(f"{name}: predicted {net['predicted_cycles']:,} measured {net['measured_cycles']:,} "
                f"({net['error']:+.1%})")
        print(f"cost model for {model.board} ({model.core}, {model.memory}) fitted on {model.samples} operators "
              f"of {len(model.networks)} networks, saved to {costmodel.DATA_FILE}")
        return ExitCode.OK
    if args.board is None or args.data is None:
        raise EdgekitError("fit needs --board and --data (or --refit-cost-model)")
    data = load(args.data, seed=args.seed)
    result = fit.search(args.board, data, args.latency_ms,
                        fit.grid(args.families, args.widths, args.resolutions, args.depths, args.weight_bits,
                                 args.block_sparsity),
                        epochs=args.epochs, max_trials=args.max_trials, seed=args.seed, out_dir=Path(args.output),
                        log=log)
    if args.json:
        print_json(result.to_json())
    else:
        print(result.table())
        for line in result.latency_lines():
            print(line)
        for n in result.notes:
            print(f"note: {n}")
        if result.winner is not None:
            print(f"winner: {result.winner.label}: {result.tflite_path} (Keras: {result.keras_path})")
    return ExitCode.OK if result.winner is not None else ExitCode.NOTHING_FITS

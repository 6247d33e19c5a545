"""``edgekit prune``, ``cluster``, ``int4``, ``distill``: compress a Keras model, fine-tune it, convert it to int8."""

from __future__ import annotations

from pathlib import Path

from ..compress.commands import run_cluster, run_distill, run_int4, run_prune
from ..errors import ExitCode
from ..target.boards import DEFAULT_BOARD
from .output import log, report

DATA_HELP = "'digits' (scikit-learn, no download) or .npz with x_train, y_train"


def add_parser(sub) -> None:
    pn = sub.add_parser("prune", help="magnitude (unstructured or in blocks), structured or latency-driven pruning "
                                      "of a Keras model")
    pn.add_argument("model", help=".keras or .h5")
    pn.add_argument("--data", required=True, help=DATA_HELP)
    pn.add_argument("-o", "--output", required=True, help="OUT.keras (and OUT_int8.tflite beside it)")
    pn.add_argument("--sparsity", type=float, default=0.5, help="fraction of weights (or channels) to remove")
    pn.add_argument("--structured", action="store_true", help="remove whole channels: a smaller dense model")
    pn.add_argument("--blocks", action="store_true",
                    help="zero whole blocks of 16 weights x 2 output channels of Conv2D kernels, which the DSP "
                         "block-sparse convolution neither stores nor computes")
    pn.add_argument("--by-sensitivity", action="store_true",
                    help="with --blocks: each layer its own sparsity, the least sensitive (measured one by one on a "
                         "validation split) pruned most, as many MACs skipped as --sparsity everywhere")
    pn.add_argument("--rounds", type=int, default=1,
                    help="with --structured: prune in this many rounds, each removing the same fraction of what is "
                         "left and fine-tuning for its share of --epochs (iterative pruning)")
    pn.add_argument("--latency-target", type=float, metavar="FRACTION",
                    help="remove channels, layer by layer (NetAdapt), until the board's cost model predicts at most "
                         "this fraction of the model's cycles")
    pn.add_argument("--steps", type=int, default=6, help="NetAdapt steps (with --latency-target)")
    pn.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (with --latency-target: after the last step)")
    pn.add_argument("--board", default=DEFAULT_BOARD, help="whose kernels the flash and cycles are counted for")
    pn.add_argument("--seed", type=int, default=0)
    pn.add_argument("--json", action="store_true")
    pn.set_defaults(run=prune)

    cl = sub.add_parser("cluster", help="k-means weight sharing, stored palettized in flash")
    cl.add_argument("model", help=".keras or .h5")
    cl.add_argument("--data", required=True, help=DATA_HELP)
    cl.add_argument("-o", "--output", required=True, help="OUT.keras (and OUT_int8.tflite beside it)")
    cl.add_argument("--clusters", type=int, default=16, help="shared values per kernel (16: 4-bit indices)")
    cl.add_argument("--per-channel", action="store_true", help="k-means per output channel")
    cl.add_argument("--low-clusters", type=int, metavar="K",
                    help="with --save-bytes: K values (narrower indices) in the layers least sensitive to it, "
                         "each measured alone on a validation split, until they save N bytes (mixed widths)")
    cl.add_argument("--save-bytes", type=int, metavar="N", help="with --low-clusters: the bytes to save")
    cl.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs of the shared values")
    cl.add_argument("--board", default=DEFAULT_BOARD, help="whose kernels the flash is counted for")
    cl.add_argument("--seed", type=int, default=0)
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(run=cluster)

    i4 = sub.add_parser("int4", help="4-bit weights by quantization-aware fine-tuning, stored as TFLite INT4")
    i4.add_argument("model", help=".keras or .h5")
    i4.add_argument("--data", required=True, help=DATA_HELP)
    i4.add_argument("-o", "--output", required=True, help="OUT.keras (and OUT_int8.tflite beside it)")
    i4.add_argument("--save-bytes", type=int, metavar="N",
                    help="mixed precision: only the layers least sensitive to 4 bits (measured on a validation split) "
                         "that save N bytes of weights; default every Conv2D with at least 256 weights")
    i4.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs")
    i4.add_argument("--board", default=DEFAULT_BOARD, help="whose kernels the flash is counted for")
    i4.add_argument("--seed", type=int, default=0)
    i4.add_argument("--json", action="store_true")
    i4.set_defaults(run=int4)

    di = sub.add_parser("distill", help="train a student from a teacher's softened outputs and the labels "
                                        "(and its feature maps: --hints, --attention)")
    di.add_argument("student", help=".keras or .h5 (its architecture and starting weights)")
    di.add_argument("--teacher", required=True, help=".keras or .h5")
    di.add_argument("--data", required=True, help=DATA_HELP)
    di.add_argument("-o", "--output", required=True)
    di.add_argument("--temperature", type=float, default=4.0)
    di.add_argument("--alpha", type=float, default=0.3, help="weight of the label loss (1 - alpha: teacher)")
    di.add_argument("--epochs", type=int, default=10)
    di.add_argument("--hints", type=float, default=0.0, metavar="W",
                    help="weight of FitNets hints: student maps through 1x1 adapters onto the teacher's (try 1)")
    di.add_argument("--attention", type=float, default=0.0, metavar="W",
                    help="weight of attention transfer on the same maps (try 1000)")
    di.add_argument("--board", default=DEFAULT_BOARD, help="whose kernels the flash is counted for")
    di.add_argument("--seed", type=int, default=0)
    di.add_argument("--json", action="store_true")
    di.set_defaults(run=distill)


def prune(args) -> ExitCode:
    report(run_prune(Path(args.model), args.data, Path(args.output), args.sparsity, args.structured, args.epochs,
                     args.seed, args.latency_target, args.steps, args.board, log=log, blocks=args.blocks,
                     by_sensitivity=args.by_sensitivity, rounds=args.rounds), args)
    return ExitCode.OK


def cluster(args) -> ExitCode:
    report(run_cluster(Path(args.model), args.data, Path(args.output), args.clusters, args.per_channel, args.epochs,
                       args.seed, args.board, log=log, low_clusters=args.low_clusters, save_bytes=args.save_bytes),
           args)
    return ExitCode.OK


def int4(args) -> ExitCode:
    report(run_int4(Path(args.model), args.data, Path(args.output), args.save_bytes, args.epochs, args.seed,
                    args.board, log=log), args)
    return ExitCode.OK


def distill(args) -> ExitCode:
    report(run_distill(Path(args.student), Path(args.teacher), args.data, Path(args.output), args.temperature,
                       args.alpha, args.epochs, args.seed, args.board, log=log, hint_weight=args.hints,
                       attention_weight=args.attention), args)
    return ExitCode.OK

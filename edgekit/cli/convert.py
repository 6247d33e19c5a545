"""``edgekit convert``: Keras (.keras, .h5, SavedModel) to full-int8 (or int16x8) .tflite."""

from __future__ import annotations

from pathlib import Path

from ..codegen.inspection import inspect_graph
from ..codegen.lower import unsupported_text
from ..errors import ExitCode
from ..frontend.calib import IMAGE_RANGES
from ..frontend.convert import MODES, convert_model
from ..frontend.keras_model import keras_layer
from ..ir import read_tflite
from .output import log, report


def add_parser(sub) -> None:
    c = sub.add_parser("convert", help="Keras (.keras, .h5, SavedModel) to full-int8 (or int16x8) .tflite")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--calib", help=".npy, .npz or a folder of images")
    c.add_argument("--calib-samples", type=int, default=200)
    c.add_argument("--synthetic-calib", action="store_true", help="calibrate on random data (accuracy unknown)")
    c.add_argument("--mode", choices=MODES, default="int8",
                   help="int8 (default); int16x8: int16 activations, int8 weights; dynamic: float activations")
    c.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weights")
    c.add_argument("--image-range", choices=list(IMAGE_RANGES), default="unit",
                   help="pixels of a --calib image folder (and synthetic images) scaled to "
                        "[0, 1] (unit: x/255, the default), [-1, 1] (symmetric) or [0, 255] (raw)")
    c.add_argument("--labels", help="a text file of class names, one per line, for the first output: "
                   "generated C gets them as P_labels[]")
    c.add_argument("--int16-layers", type=int, default=0, metavar="N",
                   help="mixed precision (with --mode int8): the N operators whose int16 activations raise the "
                        "outputs' SQNR most, each measured alone on the calibration data, run in 16x8 "
                        "(int8 weights, int16 kernels), with requantizing QUANTIZE operators around them")
    c.add_argument("--json", action="store_true")
    c.set_defaults(run=run)


def run(args) -> ExitCode:
    result = convert_model(Path(args.model), Path(args.output), calib=Path(args.calib) if args.calib else None,
                           calib_samples=args.calib_samples, synthetic=args.synthetic_calib, mode=args.mode,
                           per_tensor=args.per_tensor, image_range=args.image_range,
                           labels=Path(args.labels) if args.labels else None, log=log,
                           int16_layers=args.int16_layers)
    unsupported = inspect_graph(read_tflite(args.output)).unsupported
    if unsupported:  # the model is written: other runtimes may run it, edgekit's generate will refuse it
        named = unsupported_text(unsupported, scope=lambda r: keras_layer(result.layers, r.scope) or r.scope)
        result.warnings.append(f"{named}: `edgekit generate` refuses this model")
        log(f"warning: {result.warnings[-1]}")
    report(result, args)
    return ExitCode.OK

"""Keras model to ``.tflite``: full-integer (or dynamic-range) quantization, measured.

The front end's entry point; the steps live beside it: ``keras_model`` (reading the model),
``calib`` (the data), ``quantize`` (TensorFlow's converter), ``agreement`` (float vs int8),
``tf_quiet`` (TensorFlow's noise). Only the front end and ``edgekit.compress`` import
TensorFlow, and only inside functions, so every other command starts without it.

``convert_model`` reads the model (``.keras``, Keras 2 or 3 ``.h5``, SavedModel folder), reads
calibration data (``.npy``, ``.npz``, a folder of images, or synthetic random data when asked),
re-exports the model with batch 1 and fixed shapes (no SHAPE/PACK operators left for a dynamic
batch), quantizes with TensorFlow's converter, writes the ``.tflite`` atomically, and measures
the quantized model against the float one on samples held out from calibration: top-1
agreement for classifier outputs (those computed by SOFTMAX), SQNR in dB for every output.
Both models run in LiteRT; the float reference is the same SavedModel converted without
quantization, so inputs and outputs are matched by signature name, never by position.

Data conventions:

* ``.npy``: one array ``(N, *input_shape)`` (or a single sample of the input shape) for a
  single-input model; values are used as they are (cast to float32, no scaling).
* ``.npz``: one array per input, keyed by input name, or in input order (Keras: the model's
  input order; SavedModel: the signature's input names sorted). Keys ``labels``, ``label`` and
  ``y`` are ignored when matching by order.
* a folder of images (searched recursively): each image is converted to the model's channel
  count (1: grayscale, 3: RGB, 4: RGBA), resized bilinearly to the input's height and width
  (whole image, aspect ratio not kept), then scaled by ``image_range``: ``"unit"`` (x / 255,
  in [0, 1], the default), ``"symmetric"`` (x / 127.5 - 1, in [-1, 1]) or ``"raw"`` (unscaled,
  in [0, 255]). Synthetic data for image-shaped inputs is uniform over the same range.

Samples are shuffled with a fixed seed; at least a fifth of them (at most ``MAX_HELD_OUT``) is
held out from calibration to measure agreement, calibration takes up to ``calib_samples`` of
the rest.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..children import ChildDied, ChildFailed, run_isolated
from ..errors import CalibrationDataError, EdgekitError, UnsupportedModelError
from ..folders import write_atomic
from ..ir import DType, parse_tflite
from ..ir.analysis import source_scope
from . import quantize
from .agreement import OutputAgreement, TensorInfo, measure_agreement
from .calib import (
    IMAGE_RANGES,
    SEED,
    fit_arrays,
    image_geometry,
    image_shaped,
    read_data,
    read_images,
    shapes_text,
    synthetic_data,
)
from .keras_model import keras_layer, load_model, model_format
from .tf_quiet import one_line, quiet

MAX_HELD_OUT = 500  # held-out samples at most (agreement is measured one sample at a time)
SYNTHETIC_HELD_OUT = 32
MODES = ("int8", "int16x8", "dynamic")


@dataclass
class ConvertReport:
    model: str
    output: str
    source_format: str  # "keras", "h5" or "savedmodel"
    mode: str  # "int8", "int16x8" or "dynamic"
    per_tensor: bool
    calibration_source: str  # a path, or "synthetic"
    synthetic: bool
    calibration_samples: int
    held_out_samples: int
    size_bytes: int
    inputs: list[TensorInfo]
    outputs: list[OutputAgreement]
    operators: dict[str, int]
    image_range: str | None = None  # set when images or synthetic images were scaled
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    layers: dict[str, str] = field(default_factory=dict)  # the Keras model's layers: name -> class
    int16_layers: list = field(default_factory=list)  # mixed.Step of each tensor made int16 (--int16-layers)
    int16_base_sqnr: float | None = None  # the all-int8 model's SQNR on the samples that chose them

    reference = "float32 TFLite model of the same SavedModel, run by LiteRT"

    def to_json(self) -> dict:
        return {
            "model": self.model, "output": self.output, "source_format": self.source_format,
            "mode": self.mode, "per_tensor": self.per_tensor,
            "calibration": {"source": self.calibration_source, "synthetic": self.synthetic,
                            "samples": self.calibration_samples, "image_range": self.image_range},
            "held_out_samples": self.held_out_samples, "reference": self.reference,
            "size_bytes": self.size_bytes, "operators": dict(self.operators),
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
            "warnings": list(self.warnings), "seconds": round(self.seconds, 3),
            "int16_layers": [g.to_json() for g in self.int16_layers],
        }

    def summary(self) -> str:
        kind = {"int8": "int8 with 16x8 operators (int8 input and output)" if self.int16_layers else
                 "full int8 (int8 operators, int8 input and output)",
                "int16x8": "int16x8 (int16 activations, int8 weights, int16 input and output)",
                "dynamic": "dynamic range (int8 weights, float activations)"}[self.mode]
        weights = "per-tensor" if self.per_tensor else "per-channel"
        n_ops = sum(self.operators.values())
        lines = [f"{self.output}: {kind}, {weights} weights, {self.size_bytes:,} bytes, "
                 f"{n_ops} operators ({', '.join(f'{k} {v}' for k, v in sorted(self.operators.items()))})"]
        if self.int16_layers:
            n = sum(len(g.ops) for g in self.int16_layers)
            lines.append(f"16x8 (int16 activations) on {n} operators, chosen by measured gain on the calibration "
                         f"samples (outputs {self.int16_base_sqnr:.1f} dB against float, all int8):")
            lines.extend(f"  {g.describe()}" for g in self.int16_layers)
        if self.mode != "dynamic":
            cal = "synthetic random data" if self.synthetic else self.calibration_source
            scaled = f" (pixels scaled {self.image_range})" if self.image_range else ""
            lines.append(f"calibrated on {self.calibration_samples} samples of {cal}{scaled}")
        # numbered in the order of the generated C API's arguments
        for k, t in enumerate(self.inputs):
            lines.append(f"  input {k}  {t.describe()}")
        for k, o in enumerate(self.outputs):
            lines.append(f"  output {k} {o.tensor.describe()}")
        if self.held_out_samples:
            data = "synthetic" if self.synthetic else "held-out"
            lines.append(f"quantized vs float on {self.held_out_samples} {data} samples:")
            for o in self.outputs:
                parts = []
                if o.top1_agreement is not None:
                    agree = round(o.top1_agreement * self.held_out_samples)
                    parts.append(f"top-1 agreement {100 * o.top1_agreement:.1f}% "
                                 f"({agree}/{self.held_out_samples})")
                sqnr = ("exact" if o.exact else "n/a (float output is all zeros)"
                        if o.sqnr_db is None else f"{o.sqnr_db:.1f} dB")
                parts.append(f"SQNR {sqnr}")
                parts.append(f"max |error| {o.max_abs_error:.4g}")
                lines.append(f"  {o.tensor.name}: " + ", ".join(parts))
        else:
            lines.append("agreement not measured: no samples held out")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def convert_model(model: Path, output: Path, calib: Path | None = None, calib_samples: int = 200,
                  synthetic: bool = False, mode: str = "int8", per_tensor: bool = False,
                  image_range: str = "unit", labels: Path | None = None,
                  log: Callable[[str], None] | None = None, int16_layers: int = 0) -> ConvertReport:
    """Convert ``model`` to ``output`` and measure the result; see the module docstring.

    ``int16_layers``: at most that many operators of the int8 model run in 16x8, chosen by a
    greedy search over its int8 tensors for the largest measured gain in the outputs' SQNR on the
    calibration samples (``edgekit.frontend.mixed``).

    Raises an :class:`EdgekitError` subclass for anything the user can fix; ``output`` is only
    replaced once the new model is complete.
    """
    started = time.monotonic()
    log = log or (lambda _msg: None)
    model, output = Path(model), Path(output)
    calib = Path(calib) if calib is not None else None
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        log(f"warning: {msg}")

    # everything checkable without TensorFlow first: a refusal should be instant
    if mode not in MODES:
        raise EdgekitError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if image_range not in IMAGE_RANGES:
        raise EdgekitError(f"unknown image range {image_range!r}: choose one of {', '.join(IMAGE_RANGES)}")
    source_format = model_format(model)
    if calib is None and not synthetic:
        raise CalibrationDataError(
            "no calibration data: give --calib DATA (.npy, .npz or a folder of images), or "
            "--synthetic-calib to calibrate on random data (accuracy unknown)")
    if calib is not None and synthetic:
        raise CalibrationDataError("give either --calib or --synthetic-calib, not both")
    if calib_samples < 1:
        raise CalibrationDataError(f"--calib-samples must be at least 1, not {calib_samples}")
    if int16_layers < 0:
        raise EdgekitError(f"--int16-layers must be 0 or more, not {int16_layers}")
    if int16_layers and mode != "int8":
        raise EdgekitError(f"--int16-layers mixes 16x8 operators into an int8 model: it takes --mode int8, not {mode}")
    if output.is_dir():
        raise EdgekitError(f"{output}: is a folder; give the .tflite file to write")
    if output.resolve() == model.resolve():
        raise EdgekitError(f"{output}: would overwrite the model being converted")
    if calib is not None and output.resolve() == calib.resolve():
        raise EdgekitError(f"{output}: would overwrite the calibration data")
    raw = read_data(calib) if calib is not None else None
    names = read_labels(Path(labels)) if labels is not None else None

    # no progress line before the model and the data are read: a user's mistake there gets
    # exactly one line on stderr
    loaded = load_model(model, source_format)

    # data, fitted to the model's inputs, then split
    calibrate = mode != "dynamic"
    if raw is None:
        n_hold = SYNTHETIC_HELD_OUT
        n_cal = calib_samples if calibrate else 0
        data = synthetic_data(loaded.inputs, n_cal + n_hold, image_range)
    else:
        if raw.images is not None:
            image_geometry(loaded.inputs, raw.path)  # before reading any image
            fitted, n_total = None, len(raw.images)
        else:
            fitted = fit_arrays(raw, loaded.inputs)
            n_total = len(next(iter(fitted.values())))
        n_cal, n_hold = _split(n_total, calib_samples, calibrate)
        order = np.random.default_rng(SEED).permutation(n_total)[:n_cal + n_hold]
        if fitted is None:
            data = read_images([raw.images[i] for i in order], loaded.inputs, raw.path, image_range)
        else:
            data = {k: v[order] for k, v in fitted.items()}
    cal = {k: v[:n_cal] for k, v in data.items()}
    held = {k: v[n_cal:] for k, v in data.items()}
    shapes = {k: v.shape[1:] for k, v in data.items()}
    log(f"read {model} ({source_format}, inputs {shapes_text(shapes)}); {n_cal} calibration and "
        f"{n_hold} held-out samples from {'synthetic data' if raw is None else calib}")
    if raw is None:
        warn(("calibrating" if calibrate else "measuring") +
             " on synthetic random data: the quantized model's accuracy is unknown")
    if calibrate and n_cal < 20:
        warn(f"only {n_cal} calibration samples: activation ranges may be too narrow")
    if n_hold == 0:
        warn("no samples held out from calibration: agreement not measured")
    scaled_images = raw.images is not None if raw is not None else any(map(image_shaped, loaded.inputs))

    with tempfile.TemporaryDirectory(prefix="edgekit-convert-") as tmp:
        saved = str(Path(tmp) / "saved_model")
        log("exporting with batch 1 and fixed shapes")
        with quiet() as noise:
            try:
                loaded.export(saved, shapes)
            except Exception as exc:
                raise UnsupportedModelError(
                    f"{model}: cannot trace the model with inputs {shapes_text(shapes)}: "
                    f"{one_line(exc, noise)}") from None
        what = {"int8": "full int8", "int16x8": "int16x8", "dynamic": "dynamic range"}[mode]
        log(f"quantizing ({what}" + (f", {n_cal} calibration samples)" if calibrate else ")"))
        samples = [{k: v[i:i + 1] for k, v in cal.items()} for i in range(n_cal)] if calibrate else None
        try:  # in a child process: the converter crashes outright on some models (Keras LSTM/GRU)
            qbuf, fbuf = run_isolated(quantize.convert_saved_model, saved, samples, per_tensor,
                                      bool(n_hold or int16_layers), "int16" if mode == "int16x8" else "int8")
        except ChildFailed as exc:
            raise UnsupportedModelError(f"{model}: TensorFlow's converter failed: {exc.message}") from None
        except ChildDied as exc:
            raise UnsupportedModelError(
                f"{model}: TensorFlow's converter crashed ({exc}) on this model; it is known to crash on "
                "the loop of a recurrent layer edgekit does not rewrite (LSTM or GRU with a mask, an LSTM "
                "running backwards or with activations other than tanh and sigmoid, other RNN layers)") from None
        q16 = None
        if int16_layers:
            log("quantizing again (int16x8): the candidates for int16 activations")
            try:
                q16, _ = run_isolated(quantize.convert_saved_model, saved, samples, per_tensor, False, "int16")
            except (ChildFailed, ChildDied) as exc:
                raise UnsupportedModelError(f"{model}: --int16-layers needs the model's 16x8 conversion, which "
                                            f"TensorFlow's converter refused: "
                                            f"{exc.message if isinstance(exc, ChildFailed) else exc}") from None

    if mode == "int8":
        qbuf, islands = quantize.int8_islands(qbuf)
        for kind in sorted(set(islands)):
            made = "an int8 MUL" if kind in quantize.INT8_AS_MUL else f"int8 {kind}"
            log(f"{kind}: TensorFlow's converter left {islands.count(kind)} in float32 between a DEQUANTIZE "
                f"and a QUANTIZE; made {made} with those quantizations, as TFLite runs it")
    gains: list = []
    base_sqnr = None
    if int16_layers:
        qbuf, gains, base_sqnr = _mix_16x8(qbuf, q16, fbuf, samples[:RANK_SAMPLES], int16_layers, model, log,
                                           loaded.layers)
        made = sum(len(s.ops) for s in gains)
        if made < int16_layers:
            warn(f"{made} operators run 16x8, {int16_layers} were allowed: no further int16 activation gained")
    operators = _check_quantized(qbuf, mode, model, loaded.layers)
    if names is not None:
        qbuf = quantize.with_labels(qbuf, names)
        parse_tflite(qbuf, name=output.stem, where=f"{model} with {labels}")  # the count against the output
    write_atomic(output, qbuf)
    log(f"wrote {output} ({len(qbuf):,} bytes)")

    if n_hold:
        log(f"measuring agreement on {n_hold} held-out samples")
    inputs, outputs = measure_agreement(qbuf, fbuf, held)

    return ConvertReport(
        model=str(model), output=str(output), source_format=source_format, mode=mode,
        per_tensor=per_tensor, calibration_source="synthetic" if raw is None else str(calib),
        synthetic=raw is None, calibration_samples=n_cal, held_out_samples=n_hold,
        size_bytes=len(qbuf), inputs=inputs, outputs=outputs, operators=operators,
        image_range=image_range if scaled_images else None,
        warnings=warnings, seconds=time.monotonic() - started, layers=loaded.layers,
        int16_layers=gains, int16_base_sqnr=base_sqnr)


#: calibration samples the 16x8 candidates are measured on (each candidate runs them once)
RANK_SAMPLES = 32


def _mix_16x8(qbuf: bytes, q16: bytes, fbuf: bytes, samples: list[dict], n: int, model: Path,
              log: Callable[[str], None], layers: dict[str, str]) -> tuple[bytes, list, float]:
    """``qbuf`` with at most ``n`` operators taken from ``q16`` (``mixed.choose_16x8``); the
    steps that chose them; the all-int8 SQNR."""
    from . import mixed

    if not mixed.wideable(qbuf, q16):
        raise UnsupportedModelError(f"{model}: no int8 activation can become int16: none is made and read only "
                                    f"by operators that run 16x8 ({', '.join(mixed.KINDS)})")
    log(f"measuring, on {len(samples)} calibration samples, which int8 activations gain most as int16")
    try:
        base, steps = run_isolated(mixed.choose_16x8, qbuf, q16, fbuf, samples, n)
    except (ChildFailed, ChildDied) as exc:
        raise UnsupportedModelError(f"{model}: the 16x8 candidates could not be measured: {exc}") from None
    graph = parse_tflite(qbuf, name=model.stem)
    steps = [dataclasses.replace(s, layers=tuple(keras_layer(layers, source_scope(graph, graph.ops[k])) or ""
                                                 for k in s.ops)) for s in steps]
    for s in steps:
        log(f"16x8: {s.describe()}")
    return mixed.splice_16x8(qbuf, q16, mixed.chosen_names(qbuf, q16, steps)), steps, base


def read_labels(path: Path) -> list[str]:
    """Class names, one per line of a UTF-8 text file (trailing blank lines ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise CalibrationDataError(f"{path}: cannot read labels ({why})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CalibrationDataError(f"{path}: no labels (one class name per line)")
    return [ln.rstrip("\r") for ln in lines]


def _split(n: int, calib_samples: int, calibrate: bool) -> tuple[int, int]:
    """(calibration, held-out) sample counts out of ``n``."""
    if not calibrate:
        return 0, min(n, MAX_HELD_OUT)
    if n == 1:
        return 1, 0
    n_cal = min(calib_samples, n - max(1, n // 5))
    return n_cal, min(n - n_cal, MAX_HELD_OUT)


def _check_quantized(buf: bytes, mode: str, model: Path, layers: dict[str, str]) -> dict[str, int]:
    """Operator counts; for int8 and int16x8, proof that no float tensor is left between operators."""
    graph = parse_tflite(buf, name=Path(model).stem)
    if mode != "dynamic":
        boundary = DType.INT16 if mode == "int16x8" else DType.INT8
        for i in (*graph.inputs, *graph.outputs):
            t = graph.tensors[i]
            if t.dtype != boundary:
                raise UnsupportedModelError(f"{model}: converted model keeps {t.dtype.np_name} tensor {t.name!r} at its boundary")
        floating = [op for op in graph.ops
                    if any(t is not None and not t.is_constant and t.dtype in (DType.FLOAT32, DType.FLOAT16)
                           for t in (*graph.op_inputs(op), *graph.op_outputs(op)))]
        if floating:
            raise UnsupportedModelError(f"{model}: {_float_operator(graph, floating, mode, layers)}")
    return dict(Counter(op.type_name for op in graph.ops))


def _float_operator(graph, floating, mode: str = "int8", layers: dict[str, str] | None = None) -> str:
    """Which operator TensorFlow's converter left in float, in the user's terms: not the
    DEQUANTIZE before it (an operator the user never wrote) but the float operator itself, with
    the TensorFlow name of its result (which holds the Keras layer's name when it has one)."""
    edges = ("DEQUANTIZE", "QUANTIZE")
    op = next((o for o in floating if o.type_name not in edges), floating[0])
    names = [t.name for t in graph.op_outputs(op) if t is not None]
    layer = keras_layer(layers or {}, source_scope(graph, op))
    where = f" (Keras layer {layer})" if layer else f" (TensorFlow name {names[0]!r})" if names else ""
    if op.type_name in edges:
        return (f"TensorFlow's converter left operator {op.index} {op.type_name}{where} with a float "
                f"tensor: the model is not {mode} throughout")
    return (f"TensorFlow's converter left operator {op.index} {op.type_name}{where} in float32, having no "
            f"{mode} {op.type_name}: the model is not {mode} throughout")

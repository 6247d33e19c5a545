"""Keras model to ``.tflite``: full-integer (or dynamic-range) quantization, measured.

The only edgekit module that imports TensorFlow, and only inside functions, so every other
command starts without it.

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

import contextlib
import json
import math
import os
import re
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import CalibrationDataError, EdgekitError, ModelFormatError, UnsupportedModelError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".pbm",
                            ".tif", ".tiff", ".webp"})
# pixel x in 0..255 -> x * scale + offset
IMAGE_RANGES = {"unit": (1.0 / 255.0, 0.0), "symmetric": (1.0 / 127.5, -1.0), "raw": (1.0, 0.0)}
LABEL_KEYS = frozenset({"labels", "label", "y"})
MAX_HELD_OUT = 500  # held-out samples at most (agreement is measured one sample at a time)
SYNTHETIC_HELD_OUT = 32
MODES = ("int8", "dynamic")
SEED = 0


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as the converted model declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None  # None: float tensor
    zero_point: int | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "scale": self.scale, "zero_point": self.zero_point}

    def describe(self) -> str:
        shape = "x".join(map(str, self.shape))
        q = f" scale {self.scale:.6g} zero point {self.zero_point}" if self.scale is not None else ""
        return f"{self.name} {shape} {self.dtype}{q}"


@dataclass(frozen=True)
class OutputAgreement:
    """One output of the quantized model compared with the float model on held-out samples."""

    tensor: TensorInfo
    classifier: bool  # computed by SOFTMAX: top-1 agreement is meaningful
    top1_agreement: float | None  # fraction of samples with the same argmax; classifiers only
    sqnr_db: float | None  # 10 log10(sum f^2 / sum (f - q)^2); None: undefined (see below)
    max_abs_error: float
    exact: bool  # the dequantized outputs equal the float ones (infinite SQNR)

    def to_json(self) -> dict:
        return {**self.tensor.to_json(), "classifier": self.classifier,
                "top1_agreement": self.top1_agreement, "sqnr_db": self.sqnr_db,
                "max_abs_error": self.max_abs_error, "exact": self.exact}


@dataclass
class ConvertReport:
    model: str
    output: str
    source_format: str  # "keras", "h5" or "savedmodel"
    mode: str  # "int8" or "dynamic"
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
        }

    def summary(self) -> str:
        kind = ("full int8 (int8 operators, int8 input and output)" if self.mode == "int8"
                else "dynamic range (int8 weights, float activations)")
        weights = "per-tensor" if self.per_tensor else "per-channel"
        n_ops = sum(self.operators.values())
        lines = [f"{self.output}: {kind}, {weights} weights, {self.size_bytes:,} bytes, "
                 f"{n_ops} operators ({', '.join(f'{k} {v}' for k, v in sorted(self.operators.items()))})"]
        if self.mode == "int8":
            cal = "synthetic random data" if self.synthetic else self.calibration_source
            scaled = f" (pixels scaled {self.image_range})" if self.image_range else ""
            lines.append(f"calibrated on {self.calibration_samples} samples of {cal}{scaled}")
        for t in self.inputs:
            lines.append(f"  input  {t.describe()}")
        for o in self.outputs:
            lines.append(f"  output {o.tensor.describe()}")
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


# ---------------------------------------------------------------------------- entry point


def convert_model(model: Path, output: Path, calib: Path | None = None, calib_samples: int = 200,
                  synthetic: bool = False, mode: str = "int8", per_tensor: bool = False,
                  image_range: str = "unit",
                  log: Callable[[str], None] | None = None) -> ConvertReport:
    """Convert ``model`` to ``output`` and measure the result; see the module docstring.

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
    source_format = _model_format(model)
    if calib is None and not synthetic:
        raise CalibrationDataError(
            "no calibration data: give --calib DATA (.npy, .npz or a folder of images), or "
            "--synthetic-calib to calibrate on random data (accuracy unknown)")
    if calib is not None and synthetic:
        raise CalibrationDataError("give either --calib or --synthetic-calib, not both")
    if calib_samples < 1:
        raise CalibrationDataError(f"--calib-samples must be at least 1, not {calib_samples}")
    if output.is_dir():
        raise EdgekitError(f"{output}: is a folder; give the .tflite file to write")
    if output.resolve() == model.resolve():
        raise EdgekitError(f"{output}: would overwrite the model being converted")
    raw = _read_data(calib) if calib is not None else None

    # no progress line before the model and the data are read: a user's mistake there gets
    # exactly one line on stderr
    loaded = _load_model(model, source_format)

    # data, fitted to the model's inputs, then split
    calibrate = mode == "int8"
    if raw is None:
        n_hold = SYNTHETIC_HELD_OUT
        n_cal = calib_samples if calibrate else 0
        data = _synthetic(loaded.inputs, n_cal + n_hold, image_range)
    else:
        if raw.images is not None:
            _image_geometry(loaded.inputs, raw.path)  # before reading any image
            fitted, n_total = None, len(raw.images)
        else:
            fitted = _fit_arrays(raw, loaded.inputs)
            n_total = len(next(iter(fitted.values())))
        n_cal, n_hold = _split(n_total, calib_samples, calibrate)
        order = np.random.default_rng(SEED).permutation(n_total)[:n_cal + n_hold]
        if fitted is None:
            data = _read_images([raw.images[i] for i in order], loaded.inputs, raw.path, image_range)
        else:
            data = {k: v[order] for k, v in fitted.items()}
    cal = {k: v[:n_cal] for k, v in data.items()}
    held = {k: v[n_cal:] for k, v in data.items()}
    shapes = {k: v.shape[1:] for k, v in data.items()}
    log(f"read {model} ({source_format}, inputs {_shapes_text(shapes)}); {n_cal} calibration and "
        f"{n_hold} held-out samples from {'synthetic data' if raw is None else calib}")
    if raw is None:
        warn(("calibrating" if calibrate else "measuring") +
             " on synthetic random data: the quantized model's accuracy is unknown")
    if calibrate and n_cal < 20:
        warn(f"only {n_cal} calibration samples: activation ranges may be too narrow")
    if n_hold == 0:
        warn("no samples held out from calibration: agreement not measured")
    scaled_images = raw.images is not None if raw is not None else any(map(_image_shaped, loaded.inputs))

    with tempfile.TemporaryDirectory(prefix="edgekit-convert-") as tmp:
        saved = str(Path(tmp) / "saved_model")
        log("exporting with batch 1 and fixed shapes")
        with _quiet() as noise:
            try:
                loaded.export(saved, shapes)
            except Exception as exc:
                raise UnsupportedModelError(
                    f"{model}: cannot trace the model with inputs {_shapes_text(shapes)}: "
                    f"{_one_line(exc, noise)}") from None
        what = "full int8" if calibrate else "dynamic range"
        log(f"quantizing ({what}" + (f", {n_cal} calibration samples)" if calibrate else ")"))
        from . import quantize

        with _quiet() as noise:
            try:
                if calibrate:
                    samples = [{k: v[i:i + 1] for k, v in cal.items()} for i in range(n_cal)]
                    qbuf = quantize.int8_tflite(saved, samples, per_tensor=per_tensor)
                else:
                    qbuf = quantize.dynamic_range_tflite(saved, per_tensor=per_tensor)
                fbuf = quantize.float_tflite(saved) if n_hold else None
            except Exception as exc:
                raise UnsupportedModelError(
                    f"{model}: TensorFlow's converter failed: {_one_line(exc, noise)}") from None

    operators = _check_quantized(qbuf, mode, model)
    _write_atomic(output, qbuf)
    log(f"wrote {output} ({len(qbuf):,} bytes)")

    if n_hold:
        log(f"measuring agreement on {n_hold} held-out samples")
    inputs, outputs = _agreement(qbuf, fbuf, held)

    return ConvertReport(
        model=str(model), output=str(output), source_format=source_format, mode=mode,
        per_tensor=per_tensor, calibration_source="synthetic" if raw is None else str(calib),
        synthetic=raw is None, calibration_samples=n_cal, held_out_samples=n_hold,
        size_bytes=len(qbuf), inputs=inputs, outputs=outputs, operators=operators,
        image_range=image_range if scaled_images else None,
        warnings=warnings, seconds=time.monotonic() - started)


def _split(n: int, calib_samples: int, calibrate: bool) -> tuple[int, int]:
    """(calibration, held-out) sample counts out of ``n``."""
    if not calibrate:
        return 0, min(n, MAX_HELD_OUT)
    if n == 1:
        return 1, 0
    n_cal = min(calib_samples, n - max(1, n // 5))
    return n_cal, min(n - n_cal, MAX_HELD_OUT)


# ---------------------------------------------------------------------------- models


@dataclass
class _ModelInput:
    name: str  # the signature name: .npz key and converter input
    shape: tuple[int | None, ...]  # without the batch dimension


@dataclass
class _Loaded:
    inputs: list[_ModelInput]
    export: Callable[[str, dict[str, tuple[int, ...]]], None]  # batch-1 SavedModel writer


def _model_format(path: Path) -> str:
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise ModelFormatError(f"{path}: a folder without saved_model.pb is not a SavedModel")
    if not path.exists():
        raise ModelFormatError(f"{path}: no such model file or folder")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return "keras"
    if suffix in (".h5", ".hdf5"):
        return "h5"
    if suffix == ".tflite":
        raise ModelFormatError(f"{path}: already a .tflite model; 'edgekit inspect' or 'edgekit generate' take it")
    raise ModelFormatError(f"{path}: expected a .keras or .h5 file or a SavedModel folder")


def _load_model(path: Path, fmt: str) -> _Loaded:
    if fmt == "savedmodel":
        return _load_saved_model(path)
    if fmt == "keras":
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError):
            raise ModelFormatError(f"{path}: truncated or corrupt .keras file (not a readable zip archive)") from None
        if bad is not None:
            raise ModelFormatError(f"{path}: corrupt .keras file ({bad} fails its checksum)")
    else:
        _check_h5(path)
    with _quiet() as noise:
        import keras

        try:
            model = keras.models.load_model(path, compile=False,
                                            custom_objects=_legacy_objects() if fmt == "h5" else None)
        except Exception as exc:
            raise ModelFormatError(f"{path}: Keras cannot load it: {_one_line(exc, noise)}") from None
    return _keras_source(model, path)


def _check_h5(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
    except (OSError, ValueError):
        raise ModelFormatError(f"{path}: truncated or corrupt HDF5 file") from None
    if config is None:
        raise ModelFormatError(f"{path}: holds weights only (no model_config); save the whole model")
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    try:
        tree = json.loads(config)
    except ValueError:
        raise ModelFormatError(f"{path}: its model_config is not valid JSON") from None
    for layer in _layers(tree):
        if layer.get("class_name") in ("TFOpLambda", "SlicingOpLambda"):
            name = layer.get("config", {}).get("name", "?")
            raise UnsupportedModelError(
                f"{path}: layer {name!r} is a TensorFlow op recorded by Keras 2 ({layer['class_name']}), "
                "which Keras 3 cannot rebuild; save it from Keras 2 as a SavedModel folder and convert that")


def _layers(tree):
    """Every layer config in a (nested) Keras model config."""
    if isinstance(tree, dict):
        if "class_name" in tree and isinstance(tree.get("config"), dict):
            yield tree
        for v in tree.values():
            yield from _layers(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _layers(v)


# Keras 2 saved these constructor arguments; Keras 3 refuses them. Dropped when the value is
# the one Keras 3 implies (a different value means a model Keras 3 cannot represent: it then
# fails to load with Keras's own message).
_LEGACY_ARGS: dict[str, dict[str, Callable[[object], bool]]] = {
    **{name: {"groups": lambda v: v in (1, None)} for name in (
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")},
    **{name: {"time_major": lambda v: not v} for name in ("LSTM", "GRU", "SimpleRNN")},
    "BatchNormalization": {"fused": lambda v: True},  # an implementation choice, not a parameter
    "MultiHeadAttention": {k: (lambda v: True) for k in ("query_shape", "key_shape", "value_shape")},
}


def _legacy_objects() -> dict:
    """``custom_objects`` that let Keras 3 load Keras 2 ``.h5`` files (see ``_LEGACY_ARGS``)."""
    import keras

    objects = {}
    for name, drops in _LEGACY_ARGS.items():
        base = getattr(keras.layers, name)

        def __init__(self, *args, _base=base, _drops=drops, **kwargs):
            for key, harmless in _drops.items():
                if key in kwargs and harmless(kwargs[key]):
                    del kwargs[key]
            _base.__init__(self, *args, **kwargs)

        objects[name] = type(name, (base,), {"__init__": __init__, "__module__": __name__})
    return objects


def _keras_source(model, path: Path) -> _Loaded:
    import keras

    try:
        struct = model.input
    except (AttributeError, ValueError):
        raise UnsupportedModelError(f"{path}: the model has no defined inputs (build it with keras.Input)") from None
    tensors = keras.tree.flatten(struct)
    inputs = []
    for t in tensors:
        if "float" not in str(t.dtype):
            raise UnsupportedModelError(f"{path}: input {t.name!r} is {t.dtype}; edgekit converts float inputs")
        inputs.append(_ModelInput(t.name, tuple(t.shape[1:])))
    names = [t.name for t in tensors]
    try:
        out_names = list(model.output_names)
    except AttributeError:
        out_names = []

    def export(dirname: str, shapes: dict[str, tuple[int, ...]]) -> None:
        import tensorflow as tf

        specs = [tf.TensorSpec((1, *shapes[n]), tf.float32, name=n) for n in names]

        def serve(*args):
            by_name = dict(zip(names, args))
            y = model(keras.tree.map_structure(lambda t: by_name[t.name], struct), training=False)
            if isinstance(y, dict):
                return dict(y)
            ys = keras.tree.flatten(y)
            keys = out_names if len(set(out_names)) == len(ys) else [f"output_{i}" for i in range(len(ys))]
            return dict(zip(keys, ys))

        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", serve, input_signature=specs)
        archive.write_out(dirname, verbose=False)

    return _Loaded(inputs, export)


def _load_saved_model(path: Path) -> _Loaded:
    with _quiet() as noise:
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise ModelFormatError(f"{path}: TensorFlow cannot load the SavedModel: {_one_line(exc, noise)}") from None
    sigs = dict(loaded.signatures)
    if "serving_default" in sigs:
        key = "serving_default"
    elif len(sigs) == 1:
        key = next(iter(sigs))
    else:
        raise UnsupportedModelError(
            f"{path}: no 'serving_default' signature (has: {', '.join(sorted(sigs)) or 'none'})")
    sig = sigs[key]
    specs = sig.structured_input_signature[1]
    inputs = []
    for name in sorted(specs):
        spec = specs[name]
        if not spec.dtype.is_floating:
            raise UnsupportedModelError(f"{path}: input {name!r} is {spec.dtype.name}; edgekit converts float inputs")
        if spec.shape.rank is None or spec.shape.rank < 1:
            raise UnsupportedModelError(f"{path}: input {name!r} has no batch dimension")
        inputs.append(_ModelInput(name, tuple(spec.shape[1:].as_list())))

    def export(dirname: str, shapes: dict[str, tuple[int, ...]]) -> None:
        names = [i.name for i in inputs]
        fixed = [tf.TensorSpec((1, *shapes[n]), specs[n].dtype, name=n) for n in names]

        @tf.function(input_signature=fixed)
        def serve(*args):
            return dict(sig(**dict(zip(names, args))))

        holder = tf.Module()
        holder.source = loaded
        holder.serve = serve
        tf.saved_model.save(holder, dirname, signatures={"serving_default": serve.get_concrete_function()})

    return _Loaded(inputs, export)


# ---------------------------------------------------------------------------- data


@dataclass
class _RawData:
    path: Path
    arrays: list[tuple[str, np.ndarray]] | None = None  # .npy / .npz, in file order
    images: list[Path] | None = None


def _read_data(path: Path) -> _RawData:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise CalibrationDataError(
                f"{path}: no images in the folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return _RawData(path, images=files)
    if not path.exists():
        raise CalibrationDataError(f"{path}: no such calibration file or folder")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise CalibrationDataError(f"{path}: calibration data must be .npy, .npz or a folder of images")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = [(k, loaded[k]) for k in loaded.files]
        else:
            arrays = [("", loaded)]
    except Exception as exc:
        raise CalibrationDataError(f"{path}: cannot read it as {suffix} ({type(exc).__name__})") from None
    if not arrays:
        raise CalibrationDataError(f"{path}: holds no arrays")
    for key, a in arrays:
        what = f"{path}" + (f"[{key!r}]" if key else "")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
            raise CalibrationDataError(f"{what}: {a.dtype} data; calibration data must be real numbers")
        if a.size == 0:
            raise CalibrationDataError(f"{what}: empty array {a.shape}")
    return _RawData(path, arrays=arrays)


def _fit_arrays(raw: _RawData, inputs: list[_ModelInput]) -> dict[str, np.ndarray]:
    """One float32 array (N, *input shape) per input name, from a .npy or .npz file."""
    arrays = raw.arrays
    names = [i.name for i in inputs]
    by_key = dict(arrays)
    if len(arrays) == 1 and arrays[0][0] == "":  # .npy
        if len(inputs) != 1:
            raise CalibrationDataError(
                f"{raw.path}: the model has {len(inputs)} inputs ({', '.join(names)}); "
                "give a .npz with one array per input")
        chosen = [arrays[0]]
    elif all(n in by_key for n in names):
        chosen = [(n, by_key[n]) for n in names]
    else:
        data = [(k, a) for k, a in arrays if k not in LABEL_KEYS]
        if len(data) != len(inputs):
            raise CalibrationDataError(
                f"{raw.path}: holds arrays {', '.join(k for k, _ in arrays)}; the model's inputs are "
                f"{', '.join(names)} (key the .npz by input name, or store one array per input in order)")
        chosen = data
    fitted = {}
    for inp, (key, a) in zip(inputs, chosen):
        what = f"{raw.path}" + (f"[{key!r}]" if key else "")
        fitted[inp.name] = _fit_shape(a, inp, what)
    counts = {len(v) for v in fitted.values()}
    if len(counts) != 1:
        raise CalibrationDataError(f"{raw.path}: the arrays hold different numbers of samples")
    for name, a in fitted.items():
        if not np.all(np.isfinite(a)):
            raise CalibrationDataError(f"{raw.path}: data for input {name!r} holds NaN or infinity")
    return fitted


def _fit_shape(a: np.ndarray, inp: _ModelInput, what: str) -> np.ndarray:
    want = inp.shape

    def fits(shape) -> bool:
        return len(shape) == len(want) and all(w is None or w == s for s, w in zip(shape, want))

    def squeezed(shape) -> tuple:
        return tuple(d for d in shape if d != 1)

    if fits(a.shape[1:]):
        out = a
    elif fits(a.shape):  # one sample
        out = a[None]
    elif None not in want and a.ndim >= 1 and squeezed(a.shape[1:]) == squeezed(want):
        out = a.reshape((a.shape[0], *want))  # (N, 8, 8) for an (8, 8, 1) input, and the like
    else:
        shown = "(N, " + ", ".join("?" if d is None else str(d) for d in want) + ")"
        raise CalibrationDataError(
            f"{what}: shape {a.shape} does not fit input {inp.name!r} of shape {shown}")
    return np.ascontiguousarray(out, dtype=np.float32)


def _image_geometry(inputs: list[_ModelInput], where: Path) -> tuple[int, int, int | None]:
    if len(inputs) != 1:
        raise CalibrationDataError(f"{where}: images calibrate single-input models only; give a .npz")
    shape = inputs[0].shape
    if len(shape) == 3 and shape[2] in (1, 3, 4):
        h, w, c = shape
    elif len(shape) == 2:
        (h, w), c = shape, None
    else:
        raise CalibrationDataError(
            f"{where}: the model's input shape {shape} is not an image (height, width, 1/3/4 channels)")
    if h is None or w is None:
        raise CalibrationDataError(f"{where}: the model's input has no fixed height and width; give a .npy")
    return h, w, c


def _read_images(files: list[Path], inputs: list[_ModelInput], where: Path, image_range: str) -> dict[str, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    h, w, c = _image_geometry(inputs, where)
    mode = {None: "L", 1: "L", 3: "RGB", 4: "RGBA"}[c]
    scale, offset = IMAGE_RANGES[image_range]
    out = np.empty((len(files), h, w) + ((c,) if c else ()), np.float32)
    for k, f in enumerate(files):
        try:
            with Image.open(f) as img:
                px = np.asarray(img.convert(mode).resize((w, h), Image.BILINEAR), dtype=np.float32)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise CalibrationDataError(f"{f}: cannot read the image ({type(exc).__name__})") from None
        out[k] = px.reshape(out.shape[1:]) * scale + offset
    return {inputs[0].name: out}


def _synthetic(inputs: list[_ModelInput], n: int, image_range: str) -> dict[str, np.ndarray]:
    """Random data: uniform over ``image_range`` for image-shaped inputs, standard normal else."""
    rng = np.random.default_rng(SEED)
    out = {}
    for inp in inputs:
        if None in inp.shape:
            raise CalibrationDataError(
                f"input {inp.name!r} has unknown dimensions {inp.shape}; give --calib data to fix them")
        if _image_shaped(inp):
            scale, offset = IMAGE_RANGES[image_range]
            x = rng.uniform(0, 255, (n, *inp.shape)) * scale + offset
        else:
            x = rng.standard_normal((n, *inp.shape))
        out[inp.name] = x.astype(np.float32)
    return out


def _image_shaped(inp: _ModelInput) -> bool:
    return len(inp.shape) == 3 and inp.shape[2] in (1, 3, 4)


def _shapes_text(shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, (1, *s)))}" for k, s in shapes.items())


# ---------------------------------------------------------------------------- checks, output


def _check_quantized(buf: bytes, mode: str, model: Path) -> dict[str, int]:
    """Operator counts; for int8, proof that no float tensor is left between operators."""
    from .ir import DType, parse_tflite

    graph = parse_tflite(buf, name=Path(model).stem)
    if mode == "int8":
        for i in (*graph.inputs, *graph.outputs):
            t = graph.tensors[i]
            if t.dtype != DType.INT8:
                raise UnsupportedModelError(f"{model}: converted model keeps {t.dtype.np_name} tensor {t.name!r} at its boundary")
        for op in graph.ops:
            for t in (*graph.op_inputs(op), *graph.op_outputs(op)):
                if t is not None and not t.is_constant and t.dtype in (DType.FLOAT32, DType.FLOAT16):
                    raise UnsupportedModelError(
                        f"{model}: operator {op.index} ({op.type_name}) stayed float after int8 conversion")
    return dict(Counter(op.type_name for op in graph.ops))


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise EdgekitError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise EdgekitError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------- agreement


class _Runner:
    """One LiteRT interpreter behind the model's signature: float data in, float data out."""

    def __init__(self, buf: bytes):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # LiteRT's builtin kernels without the XNNPACK delegate: deterministic, and quiet
        self.interp = Interpreter(model_content=buf, num_threads=1,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.runner = self.interp.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()

    def __call__(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {}
        for name, d in self.inputs.items():
            x = sample[name]
            scale, zp = d["quantization"]
            if np.issubdtype(d["dtype"], np.integer) and scale:
                info = np.iinfo(d["dtype"])
                x = np.clip(np.round(x / scale) + zp, info.min, info.max)
            feed[name] = x.astype(d["dtype"])
        res = self.runner(**feed)
        out = {}
        for name, d in self.outputs.items():
            y = res[name]
            scale, zp = d["quantization"]
            if np.issubdtype(y.dtype, np.integer) and scale:
                y = (y.astype(np.float64) - zp) * scale
            out[name] = np.asarray(y, dtype=np.float64)
        return out

    def tensor_info(self) -> tuple[list[TensorInfo], list[TensorInfo]]:
        def info(name, d):
            scale, zp = d["quantization"]
            quantized = np.issubdtype(d["dtype"], np.integer) and scale
            return TensorInfo(name, tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name,
                              float(scale) if quantized else None, int(zp) if quantized else None)

        return ([info(n, d) for n, d in self.inputs.items()],
                [info(n, d) for n, d in self.outputs.items()])


def _softmax_outputs(buf: bytes, runner: _Runner) -> set[str]:
    """Names of the outputs computed by SOFTMAX (through reshapes and (de)quantization)."""
    from .ir import parse_tflite

    graph = parse_tflite(buf)
    producer = {t: op for op in graph.ops for t in op.outputs}
    found = set()
    for name, d in runner.outputs.items():
        op = producer.get(int(d["index"]))
        while op is not None and op.type_name in ("RESHAPE", "SQUEEZE", "QUANTIZE", "DEQUANTIZE"):
            op = producer.get(op.inputs[0])
        if op is not None and op.type_name == "SOFTMAX" and len(d["shape"]) >= 2 and d["shape"][-1] >= 2:
            found.add(name)
    return found


def _agreement(qbuf: bytes, fbuf: bytes | None,
               held: dict[str, np.ndarray]) -> tuple[list[TensorInfo], list[OutputAgreement]]:
    quant = _Runner(qbuf)
    in_info, out_info = quant.tensor_info()
    n = len(next(iter(held.values()))) if held else 0
    if n == 0 or fbuf is None:
        return in_info, [OutputAgreement(t, False, None, None, 0.0, False) for t in out_info]
    ref = _Runner(fbuf)
    if set(ref.outputs) != set(quant.outputs):
        raise AssertionError("float and quantized models have different signature outputs")
    classifiers = _softmax_outputs(fbuf, ref)
    fl: dict[str, list] = {k: [] for k in quant.outputs}
    qu: dict[str, list] = {k: [] for k in quant.outputs}
    for i in range(n):
        sample = {k: v[i:i + 1] for k, v in held.items()}
        for k, y in ref(sample).items():
            fl[k].append(y)
        for k, y in quant(sample).items():
            qu[k].append(y)
    results = []
    for t in out_info:
        f, q = np.stack(fl[t.name]), np.stack(qu[t.name])
        noise = float(np.sum((f - q) ** 2))
        signal = float(np.sum(f ** 2))
        exact = noise == 0.0
        sqnr = None if exact or signal == 0.0 else 10.0 * math.log10(signal / noise)
        top1 = None
        if t.name in classifiers:
            fa = f.reshape(n, -1, f.shape[-1]).argmax(-1)
            qa = q.reshape(n, -1, q.shape[-1]).argmax(-1)
            top1 = float(np.mean(fa == qa))
        results.append(OutputAgreement(t, t.name in classifiers, top1, sqnr,
                                       float(np.max(np.abs(f - q))) if f.size else 0.0, exact))
    return in_info, results


# ---------------------------------------------------------------------------- TensorFlow's noise


@contextlib.contextmanager
def _quiet():
    """Silence TensorFlow while it works: file descriptors 1 and 2 go to a temporary file
    (stdout included: ``edgekit convert --json`` must print JSON only), its Python loggers are
    raised to ERROR. Yields a function that returns what was captured, for error messages."""
    import logging
    import sys
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    captured = {"text": ""}
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = []
        try:
            for fd in (1, 2):
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
        except OSError:  # no usable fds (embedded use): stay loud rather than fail
            pass
        levels = {n: logging.getLogger(n).level for n in ("tensorflow", "absl", "keras")}
        for n in levels:
            logging.getLogger(n).setLevel(logging.ERROR)

        def text() -> str:
            if not captured["text"]:
                with contextlib.suppress(OSError):
                    sink.flush()
                    sink.seek(0)
                    captured["text"] = sink.read().decode("utf-8", "replace")
            return captured["text"]

        try:
            yield text
        finally:
            sys.stdout.flush()  # Python-level prints (Keras's export summary) reach the sink
            sys.stderr.flush()
            for n, lvl in levels.items():
                logging.getLogger(n).setLevel(lvl)
            for fd, dup in saved:
                os.dup2(dup, fd)
                os.close(dup)


def _one_line(exc: BaseException, noise: Callable[[], str] | None = None) -> str:
    """A one-line reason from an exception of TensorFlow or Keras (whose messages run long)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    pick = None
    for ln in lines:  # Keras deserialization errors
        if ln.startswith("Exception encountered:"):
            pick = ln.split(":", 1)[1].strip()
    if pick is None:  # MLIR diagnostics from the converter
        errors = [ln for ln in lines if re.search(r"\berror: ", ln)]
        if not errors and noise is not None:
            errors = [ln.strip() for ln in noise().splitlines() if re.search(r"\berror: ", ln)]
        if errors:
            pick = errors[0].split("error: ", 1)[1]
    if pick is None:
        pick = lines[0] if lines else type(exc).__name__
    pick = re.sub(r"\s+", " ", pick)
    return pick if len(pick) <= 240 else pick[:237] + "..."

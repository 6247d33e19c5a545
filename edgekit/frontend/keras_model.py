"""Reading the user's model: ``.keras``, Keras 2 or 3 ``.h5``, or a SavedModel folder.

The result is the model's inputs (signature names and shapes) and a writer of a batch-1
SavedModel with fixed shapes, which the converter takes. TensorFlow and Keras are imported
inside the functions that need them, so edgekit starts without them.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ModelFormatError, UnsupportedModelError
from .recurrent import fusable_recurrent_layers
from .tf_quiet import one_line, quiet


@dataclass
class ModelInput:
    name: str  # the signature name: .npz key and converter input
    shape: tuple[int | None, ...]  # without the batch dimension


@dataclass
class LoadedModel:
    inputs: list[ModelInput]
    export: Callable[[str, dict[str, tuple[int, ...]]], None]  # batch-1 SavedModel writer
    # float outputs (first output) for float inputs in input order, one sample per row; Keras files only
    predict: Callable[[list[np.ndarray]], np.ndarray] | None = None
    layers: dict[str, str] = field(default_factory=dict)  # top-level layer name -> class; Keras files only


def keras_layer(layers: dict[str, str], scope: str) -> str:
    """The Keras layer (of ``layers``: name -> class) a converter name scope belongs to, as
    "'up' (UpSampling2D)", or "". The export traces the model again, so Keras 3 names each scope
    after its layer with "_1" added ("up_1"); a layer whose own name is the scope comes second."""
    base = re.sub(r"_\d+$", "", scope)
    for name in (base, scope):
        if name and name in layers:
            return f"{name!r} ({layers[name]})"
    return ""


def model_format(path: Path) -> str:
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


def load_model(path: Path, fmt: str) -> LoadedModel:
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
    with quiet() as noise:
        import keras

        try:
            model = keras.models.load_model(path, compile=False,
                                            custom_objects=_legacy_objects() if fmt == "h5" else None)
        except Exception as exc:
            raise ModelFormatError(f"{path}: Keras cannot load it: {one_line(exc, noise)}") from None
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


def _keras_source(model, path: Path) -> LoadedModel:
    import keras

    try:
        struct = model.input
    except (AttributeError, ValueError):
        # a loaded Sequential whose first layer is recurrent (LSTM, GRU) says it "has never been
        # called", yet knows its inputs (Keras 3.15)
        struct = list(getattr(model, "inputs", None) or [])
        if not struct:
            raise UnsupportedModelError(f"{path}: the model has no defined inputs (build it with keras.Input)") from None
        struct = struct[0] if len(struct) == 1 else struct
    tensors = keras.tree.flatten(struct)
    inputs = []
    for t in tensors:
        if "float" not in str(t.dtype):
            raise UnsupportedModelError(f"{path}: input {t.name!r} is {t.dtype}; edgekit converts float inputs")
        inputs.append(ModelInput(t.name, tuple(t.shape[1:])))
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
        with fusable_recurrent_layers():  # LSTM -> one fused operator, GRU unrolled: no WHILE loops
            archive.add_endpoint("serving_default", serve, input_signature=specs)
            archive.write_out(dirname, verbose=False)

    def predict(arrays: list[np.ndarray]) -> np.ndarray:
        by_name = dict(zip(names, arrays))
        with quiet():
            y = model(keras.tree.map_structure(lambda t: by_name[t.name], struct), training=False)
        return np.asarray(keras.tree.flatten(y)[0])

    layers = {layer.name: type(layer).__name__ for layer in getattr(model, "layers", [])}
    return LoadedModel(inputs, export, predict, layers)


def _load_saved_model(path: Path) -> LoadedModel:
    with quiet() as noise:
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise ModelFormatError(f"{path}: TensorFlow cannot load the SavedModel: {one_line(exc, noise)}") from None
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
        inputs.append(ModelInput(name, tuple(spec.shape[1:].as_list())))

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

    return LoadedModel(inputs, export)


def float_top1(path: Path, inputs: list[list[np.ndarray]]) -> np.ndarray | None:
    """The Keras model's predicted class (argmax of its first output) for each float sample,
    or None where the model is not a Keras file (a SavedModel has no predict here)."""
    fmt = model_format(Path(path))
    if fmt == "savedmodel":
        return None
    loaded = load_model(Path(path), fmt)
    return np.array([int(np.argmax(loaded.predict([x.astype(np.float32) for x in sample])))
                     for sample in inputs])

"""Which operators does each ``keras.layers`` class become, and does edgekit run them?

For every class in ``keras.layers`` that can be built with defaults or simple arguments on a
plausible input, a one-layer model (batch 1, seeded weights) goes through edgekit's own
conversion path -- the model exported with batch 1 and fixed shapes, TensorFlow's converter in a
child process (``quantize.convert_saved_model``, calibrated on 64 seeded normal samples), once
full int8 (then ``quantize.int8_islands`` as ``edgekit convert`` does) and once 16x8 (int16
activations, int8 weights: ``edgekit convert --mode int16x8``) -- and the survey records, for each:

* the operators the converter emitted, and those it left in float (a float tensor between
  operators: ``edgekit convert`` refuses such a model);
* whether ``edgekit inspect`` supports every operator (kernel and lowering);
* for the fully int8 (int16) ones, ``edgekit validate --target host`` (3 random inputs): bit-exact with
  tflite-micro (LiteRT where tflite-micro has no kernel for an operator), or not.

Layers that are the identity at inference (Dropout, GaussianNoise, ActivityRegularization,
Identity, linear) give the converter nothing to emit: "no operator".

Classes not built (``SKIPPED``) are listed with the reason: integer or string inputs,
augmentation and preprocessing layers that are identity at inference or never meant for a
deployed model, wrappers of other frameworks, abstract bases and RNN cells. Recurrent layers are
reported for their status only. Aliases (``Convolution2D`` for ``Conv2D``...) are
surveyed once. Usage:

    python benchmarks/keras_layers.py [--only NAME ...] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from edgekit.children import ChildDied, ChildFailed, run_isolated  # noqa: E402
from edgekit.codegen.inspection import inspect_graph  # noqa: E402
from edgekit.errors import EdgekitError  # noqa: E402
from edgekit.frontend import quantize  # noqa: E402
from edgekit.frontend.keras_model import load_model  # noqa: E402
from edgekit.ir import DType, parse_tflite  # noqa: E402
from edgekit.target.host import validate_host  # noqa: E402

#: not built, with the reason (every other class of keras.layers must have a row in _cases)
SKIPPED = {
    **dict.fromkeys(("CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup",
                     "StringLookup", "TextVectorization"),
                    "preprocessing on integer or string data, outputs integers"),
    **dict.fromkeys(("Embedding", "ReversibleEmbedding"), "needs integer inputs (edgekit converts float inputs)"),
    **dict.fromkeys(("AugMix", "AutoContrast", "ContrastLimitedAdaptiveHistogramEqualization", "CutMix",
                     "Equalization", "MaxNumBoundingBoxes", "MixUp", "Pipeline", "RandAugment",
                     "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
                     "RandomCrop", "RandomElasticTransform", "RandomErasing", "RandomFlip",
                     "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
                     "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
                     "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Solarization"),
                    "augmentation / image preprocessing (training-only or data-pipeline only)"),
    **dict.fromkeys(("FlaxLayer", "JaxLayer", "TorchModuleWrapper", "TFSMLayer"),
                    "wraps another framework's model"),
    **dict.fromkeys(("Layer", "Wrapper", "InputLayer", "Lambda"), "base class or arbitrary function"),
    **dict.fromkeys(("GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"),
                    "an RNN cell: reached through RNN (surveyed)"),
    "STFTSpectrogram": "audio preprocessing: float FFT (RFFT), no int8 form in TFLite",
    "MelSpectrogram": "audio preprocessing: float FFT (RFFT), no int8 form in TFLite",
}

#: reported for their status only (other branches add UNIDIRECTIONAL_SEQUENCE_LSTM)
RECURRENT = ("LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")

ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu", "hard_sigmoid",
               "hard_silu", "elu", "selu", "softplus", "softsign", "leaky_relu", "exponential", "mish",
               "linear", "celu", "glu", "sparse_plus", "squareplus", "soft_shrink", "hard_tanh", "tanh_shrink")


def _cases():
    """name -> (class name, build() -> layer, input shapes without batch)."""
    import keras
    from keras import layers as L

    img, seq, vol, vec = (8, 8, 4), (12, 4), (4, 4, 4, 2), (16,)
    c = {}

    def add(name, cls, make, *shapes):
        c[name] = (cls, make, shapes or (img,))

    for a in ACTIVATIONS:
        add(f"Activation({a})", "Activation", lambda a=a: L.Activation(a), seq if a == "glu" else img)
    add("ActivityRegularization", "ActivityRegularization", L.ActivityRegularization, vec)
    for d, s in ((1, seq), (2, img), (3, vol)):
        add(f"AdaptiveAveragePooling{d}D", f"AdaptiveAveragePooling{d}D",
            lambda d=d: getattr(L, f"AdaptiveAveragePooling{d}D")(2), s)
        add(f"AdaptiveMaxPooling{d}D", f"AdaptiveMaxPooling{d}D",
            lambda d=d: getattr(L, f"AdaptiveMaxPooling{d}D")(2), s)
        add(f"AveragePooling{d}D", f"AveragePooling{d}D", lambda d=d: getattr(L, f"AveragePooling{d}D")(2), s)
        for k in ("MaxPooling", "GlobalAveragePooling", "GlobalMaxPooling"):
            add(f"{k}{d}D", f"{k}{d}D", getattr(L, f"{k}{d}D"), s)
        add(f"Conv{d}D", f"Conv{d}D", lambda d=d: getattr(L, f"Conv{d}D")(4, 3), s)
        add(f"Conv{d}DTranspose", f"Conv{d}DTranspose",
            lambda d=d: getattr(L, f"Conv{d}DTranspose")(4, 3, strides=2, padding="same"), s)
        add(f"Cropping{d}D", f"Cropping{d}D", getattr(L, f"Cropping{d}D"), s)
        add(f"ZeroPadding{d}D", f"ZeroPadding{d}D", getattr(L, f"ZeroPadding{d}D"), s)
        add(f"UpSampling{d}D", f"UpSampling{d}D", getattr(L, f"UpSampling{d}D"), s)
        add(f"SpatialDropout{d}D", f"SpatialDropout{d}D", lambda d=d: getattr(L, f"SpatialDropout{d}D")(0.5), s)
        add(f"ConvLSTM{d}D", f"ConvLSTM{d}D", lambda d=d: getattr(L, f"ConvLSTM{d}D")(4, 3),
            (3, *s))
    add("UpSampling2D(bilinear)", "UpSampling2D", lambda: L.UpSampling2D(interpolation="bilinear"))
    for d, s in ((1, seq), (2, img)):
        add(f"DepthwiseConv{d}D", f"DepthwiseConv{d}D", lambda d=d: getattr(L, f"DepthwiseConv{d}D")(3), s)
        add(f"SeparableConv{d}D", f"SeparableConv{d}D", lambda d=d: getattr(L, f"SeparableConv{d}D")(4, 3), s)
    for k in ("Add", "Average", "Maximum", "Minimum", "Multiply", "Subtract", "Concatenate"):
        add(k, k, getattr(L, k), img, img)
    add("Dot", "Dot", lambda: L.Dot(axes=-1), vec, vec)
    add("Attention", "Attention", L.Attention, (4, 8), (6, 8))
    add("AdditiveAttention", "AdditiveAttention", L.AdditiveAttention, (4, 8), (6, 8))
    add("MultiHeadAttention", "MultiHeadAttention", lambda: _Mha(L.MultiHeadAttention(2, 4)), (4, 8), (6, 8))
    add("GroupQueryAttention", "GroupQueryAttention",
        lambda: _Mha(L.GroupQueryAttention(head_dim=4, num_query_heads=2, num_key_value_heads=1)), (4, 8), (6, 8))
    for k in ("AlphaDropout", "Dropout", "GaussianDropout", "GaussianNoise"):
        add(k, k, lambda k=k: getattr(L, k)(0.5), vec)
    add("BatchNormalization", "BatchNormalization", L.BatchNormalization)
    add("LayerNormalization", "LayerNormalization", L.LayerNormalization, seq)
    add("GroupNormalization", "GroupNormalization", lambda: L.GroupNormalization(groups=2))
    add("RMSNormalization", "RMSNormalization", L.RMSNormalization, seq)
    add("UnitNormalization", "UnitNormalization", L.UnitNormalization, seq)
    add("Normalization", "Normalization", lambda: L.Normalization(mean=0.5, variance=2.0))
    add("SpectralNormalization", "SpectralNormalization", lambda: L.SpectralNormalization(L.Dense(4)), vec)
    add("Dense", "Dense", lambda: L.Dense(4), vec)
    add("Dense(3-D input)", "Dense", lambda: L.Dense(4), seq)
    add("EinsumDense", "EinsumDense", lambda: L.EinsumDense("ab,bc->ac", output_shape=4), vec)
    add("ELU", "ELU", L.ELU)
    add("LeakyReLU", "LeakyReLU", L.LeakyReLU)
    add("PReLU", "PReLU", L.PReLU)
    add("ReLU", "ReLU", L.ReLU)
    add("ReLU(max_value=6)", "ReLU", lambda: L.ReLU(max_value=6.0))
    add("Softmax", "Softmax", L.Softmax, seq)
    add("Flatten", "Flatten", L.Flatten)
    add("Identity", "Identity", L.Identity)
    add("Masking", "Masking", L.Masking, seq)
    add("Permute", "Permute", lambda: L.Permute((2, 1)), seq)
    add("RepeatVector", "RepeatVector", lambda: L.RepeatVector(3), vec)
    add("Reshape", "Reshape", lambda: L.Reshape((16, 16)))
    add("Rescaling", "Rescaling", lambda: L.Rescaling(1 / 255))
    add("Resizing", "Resizing", lambda: L.Resizing(5, 5))
    add("Resizing(nearest)", "Resizing", lambda: L.Resizing(12, 12, interpolation="nearest"))
    add("CenterCrop", "CenterCrop", lambda: L.CenterCrop(5, 5))
    add("TimeDistributed", "TimeDistributed", lambda: L.TimeDistributed(L.Dense(4)), seq)
    for k in ("LSTM", "GRU", "SimpleRNN"):
        add(k, k, lambda k=k: getattr(L, k)(4), seq)
    add("RNN", "RNN", lambda: L.RNN(L.SimpleRNNCell(4)), seq)
    add("Bidirectional", "Bidirectional", lambda: L.Bidirectional(L.LSTM(4)), seq)
    del keras
    return c


class _Mha:
    """Attention layers take (query, value) as separate arguments."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, xs):
        return self.layer(*xs)


def _classes() -> dict[str, type]:
    import keras

    seen = {}
    for name, v in sorted(vars(keras.layers).items()):
        if inspect.isclass(v) and issubclass(v, keras.layers.Layer):
            seen.setdefault(v, name)
    preferred = {}
    for cls, name in seen.items():  # the name Keras documents, not an alias
        preferred[cls.__name__ if cls.__name__ in vars(keras.layers) else name] = cls
    return preferred


def _float_ops(graph) -> list[str]:
    return sorted({op.type_name for op in graph.ops
                   if any(t is not None and not t.is_constant and t.dtype in (DType.FLOAT32, DType.FLOAT16)
                          for t in (*graph.op_inputs(op), *graph.op_outputs(op)))})


def run_one(name: str, cls: str, make, shapes, work: Path) -> dict:
    """The case's row: int8 at the top level, 16x8 under ``"int16x8"`` (same keys)."""
    import keras

    row = {"layer": name, "class": cls, "operators": [], "float": [], "unsupported": [], "status": "", "note": ""}
    keras.utils.set_random_seed(0)
    try:
        ins = [keras.Input(s, batch_size=1) for s in shapes]
        layer = make()
        y = layer(ins if len(ins) > 1 else ins[0])
        model = keras.Model(ins if len(ins) > 1 else ins[0], y)
        for w in model.weights:  # non-trivial statistics (BatchNormalization, Normalization...)
            if "moving_variance" in w.path or "variance" == w.name:
                w.assign(np.random.default_rng(1).uniform(0.5, 2, w.shape).astype(np.float32))
        path = work / "m.keras"
        model.save(path)
        loaded = load_model(path, "keras")
        saved = str(work / "saved")
        loaded.export(saved, {i.name: i.shape for i in loaded.inputs})
    except Exception as exc:  # noqa: BLE001 -- a layer that cannot be built this way is a finding
        row["status"], row["note"] = "not built", f"{type(exc).__name__}: {str(exc).splitlines()[0][:140]}"
        row["int16x8"] = {k: row[k] for k in ("operators", "float", "unsupported", "status", "note")}
        return row
    rng = np.random.default_rng(0)
    samples = [{i.name: rng.standard_normal((1, *i.shape)).astype(np.float32) for i in loaded.inputs}
               for _ in range(64)]
    row.update(_quantized(saved, samples, "int8", work))
    row["int16x8"] = _quantized(saved, samples, "int16x8", work)
    return row


def _quantized(saved: str, samples: list[dict], mode: str, work: Path) -> dict:
    """Convert in ``mode`` (``int8`` or ``int16x8``), inspect, validate: the row's fields for it."""
    row = {"operators": [], "float": [], "unsupported": [], "status": "", "note": ""}
    try:
        qbuf, _ = run_isolated(quantize.convert_saved_model, saved, samples, False, False,
                               "int16" if mode == "int16x8" else "int8")
    except ChildFailed as exc:
        row["status"], row["note"] = "convert failed", exc.message.splitlines()[0][:160]
        return row
    except ChildDied as exc:
        row["status"], row["note"] = "converter crashed", str(exc)
        return row
    if mode == "int8":
        qbuf, islands = quantize.int8_islands(qbuf)
        row["islands"] = islands
    try:
        graph = parse_tflite(qbuf, name="m")
    except EdgekitError as exc:
        row["status"], row["note"] = "unreadable", str(exc)[:160]
        return row
    row["operators"] = sorted({op.type_name for op in graph.ops})
    row["float"] = _float_ops(graph)
    boundary = DType.INT16 if mode == "int16x8" else DType.INT8
    io_float = [graph.tensors[i].dtype.np_name for i in (*graph.inputs, *graph.outputs)
                if graph.tensors[i].dtype != boundary]
    try:
        insp = inspect_graph(graph)
        row["unsupported"] = sorted({r.type for r in insp.unsupported})
        reasons = sorted({r.reason for r in insp.unsupported if r.reason != "no kernel"})
    except EdgekitError as exc:
        row["unsupported"], reasons = ["?"], [str(exc)]
    if not graph.ops:
        row["status"], row["note"] = "no operator", "identity at inference: the converter emits no operator"
        return row
    if row["float"] or io_float:
        row["status"] = "float kept"
        row["note"] = "float: " + ", ".join(row["float"] or io_float)
        return row
    if row["unsupported"]:
        row["status"] = "unsupported"
        row["note"] = "; ".join(reasons)[:160]
        return row
    tfl = work / f"m-{mode}.tflite"
    tfl.write_bytes(qbuf)
    try:
        rep = validate_host(tfl, samples=3)
    except EdgekitError as exc:
        row["status"], row["note"] = "validate error", str(exc).splitlines()[0][:160]
        return row
    row["status"] = "bit-exact" if rep.passed else "MISMATCH"
    row["reference"] = rep.reference_name
    if not rep.passed:
        row["note"] = rep.summary().splitlines()[-1][:160]
    elif "tflite-micro" not in rep.reference_name:
        row["note"] = f"reference: {rep.reference_name} (tflite-micro has no kernel for an operator)"
    return row


def survey(names: list[str] | None = None) -> list[dict]:
    """Run the cases ``names`` (all by default), printing each row as it comes."""
    cases = _cases()
    rows = []
    print(f"{'layer':30} {'int8':16} {'16x8':16} operators (int8)", flush=True)
    for name in names or list(cases):
        cls, make, shapes = cases[name]
        t0 = time.time()
        with tempfile.TemporaryDirectory(prefix="edgekit-layers-") as tmp:
            row = run_one(name, cls, make, shapes, Path(tmp))
        row["seconds"] = round(time.time() - t0, 1)
        row["recurrent"] = cls in RECURRENT
        rows.append(row)
        tag = " (status only)" if row["recurrent"] else ""
        r16 = row["int16x8"]
        notes = [f"int8: {row['note']}"] if row["note"] else []
        if r16["note"] and r16["note"] != row["note"]:
            notes.append(f"16x8: {r16['note']}")
        print(f"{name:30} {row['status'] + tag:16} {r16['status'] + tag:16} {' '.join(row['operators']) or '-'}"
              + "".join(f"\n{'':30} {n}" for n in notes), flush=True)
    return rows


def counts(rows: list[dict], mode: str = "int8") -> dict[str, int]:
    """status -> how many rows have it, in ``mode``."""
    out: dict[str, int] = {}
    for r in rows:
        st = (r if mode == "int8" else r["int16x8"])["status"]
        out[st] = out.get(st, 0) + 1
    return out


def summary(rows: list[dict], full: bool) -> None:
    """The skipped classes (``full``: every case ran), the counts, what edgekit lacks."""
    classes = _classes()
    covered = {r["class"] for r in rows}
    if full:
        print(f"\nskipped ({len(SKIPPED)} classes):")
        by_reason: dict[str, list[str]] = {}
        for k, why in SKIPPED.items():
            by_reason.setdefault(why, []).append(k)
        for why, ks in by_reason.items():
            print(f"  {why}: {', '.join(sorted(ks))}")
        missing = sorted(set(classes) - covered - set(SKIPPED))
        if missing:
            print(f"  not surveyed, no case written: {', '.join(missing)}")
    head = f"{len(rows)} cases ({len(covered & set(classes))} classes):"
    for mode, label in (("int8", head), ("int16x8", "16x8:")):
        print(("\n" if mode == "int8" else "") + f"{label:>{len(head)}} "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts(rows, mode).items(), key=lambda kv: -kv[1])))
    lacking: dict[str, list[str]] = {}
    for r in rows:
        for op in r["unsupported"]:
            lacking.setdefault(op, []).append(r["layer"])
        for op in r["int16x8"]["unsupported"]:
            lacking.setdefault(f"{op} (16x8)", []).append(r["layer"])
    for op, ls in sorted(lacking.items(), key=lambda kv: -len(kv[1])):
        print(f"  edgekit lacks {op}: {len(ls)} case(s): {', '.join(ls)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="case names (the table's first column)")
    ap.add_argument("--json")
    args = ap.parse_args()
    import keras  # noqa: F401 -- after the argument check

    rows = survey(args.only)
    summary(rows, full=not args.only)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "skipped": SKIPPED, "counts": counts(rows),
                                               "counts_int16x8": counts(rows, "int16x8")}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

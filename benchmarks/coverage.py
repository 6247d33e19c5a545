"""Which models people bring does edgekit run? Three sections, each model through the commands a
user runs, in int8 and in 16x8 (int16 activations, int8 weights):

    edgekit convert M.keras -o M.tflite --calib X.npy [--mode int16x8]
    edgekit inspect M.tflite                             (operators edgekit cannot run)
    edgekit validate M.tflite --target host              (generated C against tflite-micro)

* models: Keras models written as a new user would write them (the five of issue 13 and one per
  layer it names);
* layers: one seeded model per ``keras.layers`` class (``benchmarks/keras_layers.py``: edgekit's
  conversion path called in-process, the same steps);
* applications: every ``keras.applications`` constructor built small (``benchmarks/keras_apps.py``:
  weights=None, classes=10, the smallest input and width); one whose convolution and dense kernels
  pass 1 MiB at one byte each is "too large: N params" without converting, one whose converted
  int8 weights (biases included) pass it is "too large" without validating.

Weights are random (seeded): the question is whether the operators run, bit for bit, not accuracy.
Prints one row per model (int8 status, 16x8 status, and why not), then the counts: converts, edgekit
runs (every operator supported, the generated C built and run), bit-exact. Usage:

    python benchmarks/coverage.py [--sections models layers applications] [--only NAME ...] [--json OUT.json]

``--json``: one row per model in every section (``kind``: model, layer or application), int8 fields
at the top level and the 16x8 ones under ``int16x8``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _models():
    """name -> (build() -> keras.Model, what it stands for)."""
    import keras
    from keras import layers as L

    def kws_conv1d():
        x = keras.Input((49, 10))
        h = L.Conv1D(16, 3, activation="relu")(x)
        h = L.Conv1D(32, 3, strides=2, activation="relu")(h)
        h = L.GlobalAveragePooling1D()(h)
        return keras.Model(x, L.Dense(12, activation="softmax")(h))

    def image_resize_residual():
        x = keras.Input((40, 40, 3))
        h = L.Resizing(32, 32)(x)
        h = L.Conv2D(8, 3, padding="same", activation="relu")(h)
        r = L.Conv2D(8, 3, padding="same")(h)
        h = L.ReLU()(L.Add()([h, r]))
        h = L.MaxPooling2D()(h)
        h = L.UpSampling2D(interpolation="bilinear")(h)
        h = L.Conv2D(4, 1)(h)
        h = L.UpSampling2D()(h)
        h = L.GlobalAveragePooling2D()(h)
        return keras.Model(x, L.Dense(5, activation="softmax")(h))

    def lstm():
        x = keras.Input((20, 8), batch_size=1)
        return keras.Model(x, L.Dense(4, activation="softmax")(L.LSTM(16)(x)))

    def gru():
        x = keras.Input((20, 8), batch_size=1)
        return keras.Model(x, L.Dense(4, activation="softmax")(L.GRU(16)(x)))

    def two_in_two_out():
        a = keras.Input((16,), name="features")
        b = keras.Input((8, 8, 1), name="patch")
        hb = L.Flatten()(L.Conv2D(4, 3, activation="relu")(b))
        h = L.Concatenate()([L.Dense(16, activation="relu")(a), hb])
        return keras.Model([a, b], [L.Dense(3, activation="softmax", name="label")(h), L.Dense(1, name="score")(h)])

    def dense_autoencoder():
        x = keras.Input((64,))
        h = L.Dense(32, activation="relu")(x)
        h = L.Dense(8, activation="relu")(h)
        h = L.Dense(32, activation="relu")(h)
        return keras.Model(x, L.Dense(64)(h))

    def one(layer, shape):
        def build():
            x = keras.Input(shape)
            return keras.Model(x, layer()(x))
        return build

    return {
        "kws_conv1d": (kws_conv1d, "keyword spotting with Conv1D"),
        "image_resize_residual": (image_resize_residual, "resize, residual, bilinear and nearest upsampling"),
        "lstm": (lstm, "Keras LSTM, not unrolled"),
        "gru": (gru, "Keras GRU, not unrolled"),
        "two_in_two_out": (two_in_two_out, "two inputs, two outputs"),
        "dense_autoencoder": (dense_autoencoder, "dense autoencoder"),
        "conv2d_transpose": (one(lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (8, 8, 3)),
                             "Conv2DTranspose"),
        "global_max_pooling": (one(L.GlobalMaxPooling2D, (6, 6, 4)), "GlobalMaxPooling2D"),
        "prelu": (one(L.PReLU, (6, 6, 4)), "PReLU"),
        "gelu": (one(lambda: L.Activation("gelu"), (6, 6, 4)), "GELU"),
        "elu": (one(L.ELU, (6, 6, 4)), "ELU"),
        "layer_norm": (one(L.LayerNormalization, (10, 8)), "LayerNormalization"),
        "upsampling_nearest": (one(L.UpSampling2D, (6, 6, 4)), "UpSampling2D(nearest)"),
        "resizing_nearest": (one(lambda: L.Resizing(9, 9, interpolation="nearest"), (6, 6, 4)),
                             "Resizing(nearest)"),
    }


def _edgekit(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "edgekit.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("edgekit: error:")]
    last = (err or lines or [f"exit {proc.returncode}"])[-1]
    return re.sub(r"^edgekit: error: \S+: ", "", last)[:160]


def run_one(name: str, build, work: Path, limit_bytes: int | None = None) -> dict:
    """The model's row: int8 at the top level, 16x8 under ``"int16x8"`` (the same keys). With
    ``limit_bytes``, a model whose int8 weights pass it is "too large" and not validated."""
    import keras

    keras.utils.set_random_seed(0)
    model = build()
    path = work / f"{name}.keras"
    model.save(path)
    rng = np.random.default_rng(0)
    shapes = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs]
    if len(shapes) == 1:
        calib = work / f"{name}.npy"
        np.save(calib, rng.standard_normal((64, *shapes[0])).astype(np.float32))
    else:
        calib = work / f"{name}.npz"
        np.savez(calib, **{t.name: rng.standard_normal((64, *s)).astype(np.float32)
                           for t, s in zip(model.inputs, shapes)})
    del model
    keras.backend.clear_session()
    row = {"model": name, **_one_mode(name, path, calib, work, "int8", limit_bytes)}
    if row.get("too_large"):
        row["int16x8"] = {**row, "note": "not converted: too large in int8"}
        del row["int16x8"]["model"]
    else:
        row["int16x8"] = _one_mode(name, path, calib, work, "int16x8", None)
    return row


def _one_mode(name: str, path: Path, calib: Path, work: Path, mode: str, limit_bytes: int | None) -> dict:
    """convert (``mode``), inspect, validate: the fields of a row for that mode."""
    row = {"convert": None, "operators": [], "unsupported": [], "validate": None, "note": ""}
    tfl = work / f"{name}-{mode}.tflite"
    t0 = time.time()
    conv = _edgekit("convert", str(path), "-o", str(tfl), "--calib", str(calib), "--mode", mode)
    row["convert_s"] = round(time.time() - t0, 1)
    row["convert"] = conv.returncode
    if conv.returncode != 0:
        row["note"] = _last_line(conv)
        return row
    ins = _edgekit("inspect", str(tfl), "--json")
    try:
        result = json.loads(ins.stdout)
        ops = result["ops"]
        row["weight_bytes"] = result["totals"]["weight_bytes"]
    except (ValueError, KeyError):
        row["note"] = _last_line(ins)
        return row
    row["operators"] = sorted({o["type"] for o in ops})
    row["unsupported"] = sorted({o["type"] for o in ops if not o["supported"]})
    if limit_bytes is not None and row["weight_bytes"] > limit_bytes:
        row["too_large"] = True
        row["note"] = f"too large: {row['weight_bytes']:,} bytes of {mode} weights (limit {limit_bytes:,})"
        return row
    if row["unsupported"]:
        row["note"] = "; ".join(dict.fromkeys(_why(u) for u in result["unsupported"]))[:160]
        return row
    val = _edgekit("validate", str(tfl), "--target", "host", "--samples", "5")
    row["validate"] = val.returncode
    row["note"] = "" if val.returncode == 0 else _last_line(val)
    return row


def _why(unsupported: dict) -> str:
    """An inspect reason in a few words: the operator, and what edgekit lacks for it."""
    what, why = unsupported["type"], unsupported["reason"]
    if why == "no kernel":
        return f"{what}: no kernel"
    if "kernels take int8" in why:
        return f"{what}: edgekit runs it on int8 only"
    return why


def status(r: dict) -> str:
    """One word or two for a row's mode: bit-exact, or where it stopped."""
    if r.get("too_large"):
        return "too large"
    if r["convert"] is None:
        return "not converted"
    if r["convert"]:
        return f"convert failed ({r['convert']})"
    if r["unsupported"]:
        return "unsupported"
    if r["validate"] is None:
        return "not inspected"
    return "bit-exact" if r["validate"] == 0 else "MISMATCH" if r["validate"] == 1 else f"validate exit {r['validate']}"


def tally(rows: list[dict], mode: str) -> tuple[int, int, int]:
    """(converts, edgekit runs, bit-exact) among ``rows`` in ``mode``: edgekit runs a model when
    inspect finds every operator supported and validate builds and runs it (exit 0, 1 or 5)."""
    rs = [r if mode == "int8" else r["int16x8"] for r in rows]
    return (sum(r["convert"] == 0 for r in rs), sum(r["validate"] in (0, 1, 5) for r in rs),
            sum(r["validate"] == 0 for r in rs))


def _print_row(name: str, row: dict, width: int, extra: str = "") -> None:
    notes = [f"int8: {row['note']}"] if row["note"] else []
    if row["int16x8"]["note"] and row["int16x8"]["note"] != row["note"]:
        notes.append(f"16x8: {row['int16x8']['note']}")
    print(f"{name:{width}} {status(row):20} {status(row['int16x8']):20} {extra}"
          + "".join(f"\n{'':{width}} {n}" for n in notes), flush=True)


def models_section(names: list[str], work: Path) -> list[dict]:
    models = _models()
    rows = []
    print(f"{'model':24} {'int8':20} {'16x8':20} operators (int8)")
    for name in names:
        build, what = models[name]
        row = run_one(name, build, work)
        row["what"], row["kind"] = what, "model"
        rows.append(row)
        _print_row(name, row, 24, f"ops {', '.join(row['operators']) or '-'}")
    return rows


def applications_section(only: list[str] | None, work: Path) -> list[dict]:
    """Every keras.applications constructor, built small; those whose kernels fit converted."""
    import keras_apps

    rows = []
    print(f"{'application':44} {'int8':20} {'16x8':20} size", flush=True)
    for app in keras_apps.catalogue(only):
        row = {"model": app.name, "kind": "application", "constructor": app.constructor, "input": [app.side] * 2 + [3],
               "params": app.params, "kernel_bytes": app.kernel_bytes}
        if not app.fits:
            why = {"too_large": True, "convert": None, "operators": [], "unsupported": [], "validate": None,
                   "note": f"too large: {app.params:,} params ({app.kernel_bytes:,} in kernels, int8 limit "
                           f"{keras_apps.LIMIT_BYTES:,} bytes)"}
            row.update(why, int16x8=dict(why))
        else:
            row.update(run_one(app.constructor + ("_min" if app.kwargs.get("minimalistic") else ""), app.build,
                               work, keras_apps.LIMIT_BYTES))
            row["model"] = app.name
        rows.append(row)
        size = f"{app.side}x{app.side}, {app.params:,} params"
        if "weight_bytes" in row:
            size += f", int8 weights {row['weight_bytes']:,} B"
        _print_row(app.name, row, 44, size)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="names in any section (a model, a layer case, an application "
                                              "or its constructor)")
    ap.add_argument("--sections", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--json")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    out: list[dict] = []
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        if "models" in args.sections:
            names = [n for n in _models() if not args.only or n in args.only]
            rows = models_section(names, Path(tmp))
            out += rows
            ok = sum(r["validate"] == 0 for r in rows)
            lines.append(f"{ok} of {len(rows)} models run bit-exact with tflite-micro (or LiteRT where "
                         "tflite-micro has no kernel)")
            lines += _tally_lines("models", rows)
        if "layers" in args.sections:
            import keras_layers

            names = [n for n in keras_layers._cases() if not args.only or n in args.only]
            print()
            rows = keras_layers.survey(names) if names else []
            keras_layers.summary(rows, full=not args.only)
            out += [{**r, "model": r["layer"], "kind": "layer"} for r in rows]
            for mode, label in (("int8", "int8"), ("int16x8", "16x8")):
                st = [(r if mode == "int8" else r["int16x8"])["status"] for r in rows]
                conv = sum(s not in LAYER_NOT_CONVERTED for s in st)
                runs = sum(s in ("bit-exact", "MISMATCH") for s in st)
                lines.append(f"layers {label}: {len(rows)}, {conv} convert, {runs} edgekit runs, "
                             f"{st.count('bit-exact')} bit-exact ({st.count('no operator')} convert to no "
                             "operator: identity at inference)")
        if "applications" in args.sections:
            print()
            rows = applications_section(args.only, Path(tmp))
            out += rows
            fit = [r for r in rows if r["kernel_bytes"] <= _limit()]
            lines.append(f"applications: {len(rows)} built, {len(fit)} with at most {_limit():,} bytes of int8 "
                         "kernels (the others: too large)")
            lines += _tally_lines("applications", fit)
    print()
    for ln in lines:
        print(ln)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


SECTIONS = ("models", "layers", "applications")

#: keras_layers statuses of a case the converter did not turn into a model edgekit reads
LAYER_NOT_CONVERTED = ("not built", "convert failed", "converter crashed", "unreadable")


def _limit() -> int:
    import keras_apps

    return keras_apps.LIMIT_BYTES


def _tally_lines(what: str, rows: list[dict]) -> list[str]:
    out = []
    for mode, label in (("int8", "int8"), ("int16x8", "16x8")):
        c, r, b = tally(rows, mode)
        out.append(f"{what} {label}: {len(rows)}, {c} convert, {r} edgekit runs, {b} bit-exact")
    return out


if __name__ == "__main__":
    sys.exit(main())

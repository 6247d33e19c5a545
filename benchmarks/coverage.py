"""Which models people bring does edgekit run? Keras models written as a new user would write them
(the five of issue 13 and one per layer it names), each through the commands a user runs:

    edgekit convert M.keras -o M.tflite --calib X.npy   (full int8)
    edgekit inspect M.tflite                             (operators edgekit cannot run)
    edgekit validate M.tflite --target host              (generated C against tflite-micro)

Weights are random (seeded): the question is whether the operators run, bit for bit, not accuracy.
Prints one row per model and the count that ran bit-exact. Usage:

    python benchmarks/coverage.py [--only NAME ...] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
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
    return (err or lines or [f"exit {proc.returncode}"])[-1][:160]


def run_one(name: str, build, work: Path) -> dict:
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
    row = {"model": name, "convert": None, "operators": [], "unsupported": [], "validate": None, "note": ""}
    tfl = work / f"{name}.tflite"
    t0 = time.time()
    conv = _edgekit("convert", str(path), "-o", str(tfl), "--calib", str(calib))
    row["convert_s"] = round(time.time() - t0, 1)
    row["convert"] = conv.returncode
    if conv.returncode != 0:
        row["note"] = _last_line(conv)
        return row
    ins = _edgekit("inspect", str(tfl), "--json")
    try:
        ops = json.loads(ins.stdout)["ops"]
    except (ValueError, KeyError):
        row["note"] = _last_line(ins)
        return row
    row["operators"] = sorted({o["type"] for o in ops})
    row["unsupported"] = sorted({o["type"] for o in ops if not o["supported"]})
    val = _edgekit("validate", str(tfl), "--target", "host", "--samples", "5")
    row["validate"] = val.returncode
    row["note"] = "" if val.returncode == 0 else _last_line(val)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--json")
    args = ap.parse_args()
    models = _models()
    names = args.only or list(models)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            build, what = models[name]
            row = run_one(name, build, Path(tmp))
            row["what"] = what
            rows.append(row)
            status = ("bit-exact" if row["validate"] == 0 else
                      f"convert failed ({row['convert']})" if row["convert"] else
                      f"validate exit {row['validate']}")
            print(f"{name:24} {status:20} ops {', '.join(row['operators']) or '-'}"
                  + (f"\n{'':24} {row['note']}" if row["note"] else ""), flush=True)
    ok = sum(r["validate"] == 0 for r in rows)
    print(f"\n{ok} of {len(rows)} models run bit-exact with tflite-micro (or LiteRT where tflite-micro has no kernel)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

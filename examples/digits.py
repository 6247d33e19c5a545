"""A small Keras 3 CNN on scikit-learn's 8x8 handwritten digits, for trying edgekit end to end.

The digits ship with scikit-learn (no download) and the model trains in a few seconds on a CPU.
Writes, in the output folder:

* ``digits.keras``: the float model, input 8x8x1 in [0, 1], output 10 class probabilities;
* ``digits_calib.npy``: the held-out test images, float32 ``(N, 8, 8, 1)`` in [0, 1]
  (pixel value / 16), never seen in training: calibration data for ``edgekit convert``;
* ``digits_labels.npy``: their labels, int64 ``(N,)``.

    python examples/digits.py -o build/
    edgekit convert build/digits.keras -o build/digits.tflite --calib build/digits_calib.npy
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class DigitsModel:
    model_path: Path
    calib_path: Path
    labels_path: Path
    test_accuracy: float


def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test): images (N, 8, 8, 1) float32 in [0, 1], a fifth held out."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def build_model():
    import keras

    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inp, out, name="digits")


def train(out_dir: Path, epochs: int = 30, seed: int = 0) -> DigitsModel:
    """Train, save the three files into ``out_dir``, return their paths and the test accuracy."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    x_tr, y_tr, x_te, y_te = load_data(seed)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_tr, y_tr, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    accuracy = float(np.mean(model.predict(x_te, verbose=0).argmax(-1) == y_te))
    paths = DigitsModel(out_dir / "digits.keras", out_dir / "digits_calib.npy",
                        out_dir / "digits_labels.npy", accuracy)
    model.save(paths.model_path)
    np.save(paths.calib_path, x_te)
    np.save(paths.labels_path, y_te)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=".", help="folder for digits.keras and the .npy files")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    result = train(Path(args.output), epochs=args.epochs, seed=args.seed)
    print(f"wrote {result.model_path}, {result.calib_path}, {result.labels_path}; "
          f"test accuracy {100 * result.test_accuracy:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

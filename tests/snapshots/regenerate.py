"""Rebuild the snapshot models and their expected generated C.

    python tests/snapshots/regenerate.py            # C only, from the stored .tflite files
    python tests/snapshots/regenerate.py --models   # also rebuild the .tflite files (needs TensorFlow)

The .tflite files are stored so that the snapshots do not change with the TensorFlow version;
the expected C is what ``edgekit generate`` writes for them. Review the diff before committing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]  # opmodels, and this checkout's edgekit

FILES = ("model.h", "model.c", "model_weights.h", "model_weights.c", "metadata.json")


def build_models() -> None:
    import keras

    from opmodels import keras_graph

    def dense(x):
        y = keras.layers.Dense(6, activation="relu")(x)
        return keras.layers.Dense(3, activation="softmax")(y)

    def residual(x):
        y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
        z = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(y)
        z = keras.layers.Add()([y, z])
        return keras.layers.GlobalAveragePooling2D()(z)

    (HERE / "tiny_dense.tflite").write_bytes(keras_graph(dense, [(8,)], seed=1))
    (HERE / "tiny_residual.tflite").write_bytes(keras_graph(residual, [(6, 6, 2)], seed=2))


def generate_expected(name: str, out: Path) -> None:
    from edgekit.codegen import generate
    from edgekit.ir import read_tflite

    generate(read_tflite(HERE / f"{name}.tflite"), out, source=f"{name}.tflite")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", action="store_true", help="rebuild the .tflite files too")
    args = ap.parse_args()
    if args.models:
        build_models()
    for model in sorted(HERE.glob("*.tflite")):
        dest = HERE / model.stem
        tmp = HERE / f".{model.stem}.tmp"
        generate_expected(model.stem, tmp)
        dest.mkdir(exist_ok=True)
        for f in FILES:
            shutil.copy2(tmp / f, dest / f)
        shutil.rmtree(tmp)
        print(f"wrote {dest.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where small models built on the operators added in issue 13 spend their time on the emulated
Cortex-M4 (QEMU mps2-an386, -icount shift=0: ticks are instructions).

Three seeded Keras models, built and converted here (random weights, calibrated on seeded random
data): a small U-Net at 32x32 (Conv2DTranspose with a stride of 2, skip connections), a decoder
from 16x16 to 64x64 (Conv2DTranspose, bilinear and nearest resizes, PReLU, a global max) and a
four-head self-attention block over 32 tokens x 64 features (BATCH_MATMUL for the scores and the
weighted sum). Each is built for the board with its DSP kernels, run on seeded random inputs
through the serial harness (outputs checked against tflite-micro bit for bit), and reported per
operator: the kernel that ran, instructions, MACs and instructions per MAC.

    python benchmarks/new_ops.py [--samples 2] [--json OUT.json] [--against BEFORE.json] [MODEL ...]

``--against`` prints a before/after column from an earlier ``--json`` file (under -icount the
same image and input give the same count, so two runs compare exactly).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.codegen.core import target_for_cpu  # noqa: E402
from edgekit.frontend.quantize import int8_tflite  # noqa: E402
from edgekit.harness.deploy import connect, flash_facts  # noqa: E402
from edgekit.harness.profile import profile  # noqa: E402
from edgekit.ir import OpKind, read_tflite  # noqa: E402
from edgekit.ir.analysis import op_macs  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from edgekit.target.build import build_firmware  # noqa: E402

BOARD = "qemu-mps2-an386"
CALIB = 16


def unet32(keras):
    """A two-level U-Net on a 32x32x3 image: strided convolutions down, stride-2 Conv2DTranspose up,
    skip connections by concatenation and addition, a 1x1 head."""
    x = keras.Input((32, 32, 3), batch_size=1)
    e1 = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    e2 = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(e1)
    e3 = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(e2)
    d2 = keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(e3)
    d2 = keras.layers.Concatenate()([d2, e2])
    d2 = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(d2)
    d1 = keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(d2)
    d1 = keras.layers.Add()([d1, e1])
    return keras.Model(x, keras.layers.Conv2D(4, 1)(d1))


def decoder64(keras):
    """A decoder from a 16x16x32 feature map to a 64x64 map: a 4x4 stride-2 Conv2DTranspose, PReLU,
    a bilinear upsampling; beside it a 2x2 stride-2 Conv2DTranspose and a nearest upsampling; a
    global max of the map. (A nearest Resizing: UpSampling2D's nearest mode converts to TILE, which
    tflite-micro has no kernel for. Narrow at 64x64: tflite-micro's Python interpreter gives itself
    an arena of ten times the model's size.)"""
    x = keras.Input((16, 16, 32), batch_size=1)
    h = keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same")(x)
    h = keras.layers.PReLU(shared_axes=[1, 2])(h)
    h = keras.layers.Conv2D(8, 1)(h)
    h = keras.layers.UpSampling2D(2, interpolation="bilinear")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    m = keras.layers.Conv2DTranspose(8, 2, strides=2, padding="valid", activation="relu")(x)
    m = keras.layers.Resizing(64, 64, interpolation="nearest")(m)
    h = keras.layers.Conv2D(4, 1)(keras.layers.Add()([h, m]))
    return keras.Model(x, [h, keras.layers.GlobalMaxPooling2D()(h)])


def attention32(keras):
    """Four-head self-attention over 32 tokens x 64 features with a feed-forward block: the scores
    (Q K^T) and the weighted sum of V are BATCH_MATMULs over the heads."""
    tokens, feat, heads = 32, 64, 4
    x = keras.Input((tokens, feat), batch_size=1)
    q, k, v = (keras.layers.Dense(feat)(x) for _ in range(3))

    def split(t):
        return keras.layers.Permute((2, 1, 3))(keras.layers.Reshape((tokens, heads, feat // heads))(t))

    scores = keras.ops.matmul(split(q), keras.ops.swapaxes(split(k), -1, -2))  # [heads][tokens][tokens]
    scores = keras.layers.Softmax()(scores * (1.0 / (feat // heads) ** 0.5))
    att = keras.ops.matmul(scores, split(v))  # [heads][tokens][feat / heads]
    att = keras.layers.Reshape((tokens, feat))(keras.layers.Permute((2, 1, 3))(att))
    h = keras.layers.Add()([x, keras.layers.Dense(feat)(att)])
    f = keras.layers.Dense(feat, activation="relu")(h)
    return keras.Model(x, keras.layers.Add()([h, keras.layers.Dense(feat)(f)]))


MODELS = {"unet32": unet32, "decoder64": decoder64, "attention32": attention32}


def build_model(name: str, seed: int = 0) -> bytes:
    import keras

    keras.utils.set_random_seed(seed)
    model = MODELS[name](keras)
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases, weights of the usual size
        ws = layer.get_weights()
        if ws:
            layer.set_weights([(rng.standard_normal(w.shape) * (0.3 if w.ndim > 1 else 0.1)).astype(w.dtype)
                               for w in ws])
    shapes = [tuple(i.shape[1:]) for i in model.inputs]
    calib = [[rng.standard_normal((1, *s)).astype(np.float32) for s in shapes] for _ in range(CALIB)]
    return int8_tflite(model, calib)


def batch_matmul_macs(graph, op) -> int:
    lhs, rhs = (graph.tensors[i] for i in op.inputs[:2])
    y = graph.tensors[op.outputs[0]]
    depth = lhs.shape[-2] if op.options.adj_x else lhs.shape[-1]
    return y.num_elements * depth


def measure(name: str, samples: int, work: Path) -> dict:
    path = work / f"{name}.tflite"
    path.write_bytes(build_model(name))
    graph = read_tflite(path)
    board = load_board(BOARD)
    fw = build_firmware(path, board, work / name, target=target_for_cpu(board.cpu))
    with connect(board, None, fw.elf, log=lambda m: None) as dev:
        rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift,
                      samples=samples, seed=0, flash=flash_facts(fw.sizes))
    functions = {c.op.index: c.function or "(alias)" for c in fw.generated.calls}
    ops = []
    for o in rep.operators():
        op = graph.ops[o["index"]]
        macs = batch_matmul_macs(graph, op) if op.kind == OpKind.BATCH_MATMUL else op_macs(graph, op)
        ops.append({"index": o["index"], "type": o["type"], "kernel": functions.get(o["index"], "?"),
                    "instructions": o["instructions"], "macs": macs})
    return {"model": name, "exact": rep.passed, "samples": len(rep.samples),
            "instructions": rep.latency()["median"],
            "macs": sum(o["macs"] for o in ops), "arena_bytes": rep.ram()["arena_bytes"], "operators": ops}


def print_model(row: dict, before: dict | None) -> None:
    print(f"\n{row['model']}: {row['instructions']:,} instructions, {row['macs']:,} MACs "
          f"({row['instructions'] / max(row['macs'], 1):.2f}/MAC), arena {row['arena_bytes']:,} B, "
          f"exact {row['exact']} ({row['samples']} inputs)"
          + (f"; before {before['instructions']:,} ({before['instructions'] / row['instructions']:.2f}x)"
             if before else ""))
    old = {o["index"]: o for o in before["operators"]} if before else {}
    head = f"{'op':>3} {'type':<24} {'kernel':<28} {'instructions':>12} {'share':>6} {'MACs':>9} {'/MAC':>6}"
    print(head + (f" {'before':>12} {'kernel before':<28} {'x':>5}" if before else ""))
    total = sum(o["instructions"] for o in row["operators"]) or 1
    for o in row["operators"]:
        per = f"{o['instructions'] / o['macs']:.2f}" if o["macs"] else "-"
        line = (f"{o['index']:>3} {o['type']:<24} {o['kernel']:<28} {o['instructions']:>12,} "
                f"{o['instructions'] / total:>6.1%} {o['macs']:>9,} {per:>6}")
        b = old.get(o["index"])
        if b:
            x = f"{b['instructions'] / o['instructions']:.2f}" if o["instructions"] else "-"
            line += f" {b['instructions']:>12,} {b['kernel']:<28} {x:>5}"
        print(line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=list(MODELS))
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--against", type=Path)
    args = ap.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        print(f"new_ops: error: unknown model {unknown[0]} (known: {', '.join(MODELS)})", file=sys.stderr)
        return 2
    before = {r["model"]: r for r in json.loads(args.against.read_text())} if args.against else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            rows.append(measure(name, args.samples, Path(tmp)))
            print_model(rows[-1], before.get(name))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

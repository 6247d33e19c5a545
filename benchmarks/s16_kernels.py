"""The 16x8 scheme (int16 activations, int8 weights) on the default board (qemu-mps2-an386, a
Cortex-M4): CONV_2D and FULLY_CONNECTED on their DSP kernels (ek_conv2d_dsp_s16,
ek_fully_connected_dsp_s16: two output channels a step, SMLALD into 64-bit accumulators)
against the portable kernels the same layers ran before (ek_conv2d_s16, ek_fully_connected_s16:
the control, the kernel tables cut to their portable row), in the same run, per layer shape.

Each case is a one-operator model with seeded weights converted at run time to 16x8, run under
QEMU through the serial harness (outputs checked against tflite-micro bit for bit) with the cycle
plugin.

    python benchmarks/s16_kernels.py [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from opmodels import keras_op  # noqa: E402

from edgekit.codegen.ops import conv, fully_connected  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from on_board import run_on_board  # noqa: E402

CASES = {  # name: (keras layer factory, input shape)
    "conv 3x3 32x32x3->8 s2": (lambda k: k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                               (32, 32, 3)),
    "conv 3x3 16x16x16->16": (lambda k: k.layers.Conv2D(16, 3, padding="same", activation="relu"), (16, 16, 16)),
    "conv 1x1 8x8x32->32": (lambda k: k.layers.Conv2D(32, 1), (8, 8, 32)),
    "conv 1x1 4x4x64->128": (lambda k: k.layers.Conv2D(128, 1, activation="relu"), (4, 4, 64)),
    "fc 128->64": (lambda k: k.layers.Dense(64), (128,)),
    "fc 640->128": (lambda k: k.layers.Dense(128, activation="relu"), (640,)),
}


@contextlib.contextmanager
def portable_only():
    """The control: CONV_2D's and FULLY_CONNECTED's 16x8 kernel tables cut to their portable row."""
    saved = conv.CONV_2D_S16_KERNELS, fully_connected.FULLY_CONNECTED_S16_KERNELS
    conv.CONV_2D_S16_KERNELS = saved[0][-1:]
    fully_connected.FULLY_CONNECTED_S16_KERNELS = saved[1][-1:]
    try:
        yield
    finally:
        conv.CONV_2D_S16_KERNELS, fully_connected.FULLY_CONNECTED_S16_KERNELS = saved


def run(path: Path, work: Path) -> dict:
    fw, est = run_on_board(path, work)
    (call,) = fw.generated.calls
    return {"function": call.function, "cycles": est.operators[0].cycles}


def main(argv=None) -> int:
    import keras

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for i, (name, (layer, shape)) in enumerate(CASES.items()):
            path = t / f"case{i}.tflite"
            path.write_bytes(keras_op(layer(keras), shape, seed=80 + i, activations="int16"))
            macs = totals(read_tflite(path)).macs
            dsp = run(path, t / f"dsp{i}")
            with portable_only():
                before = run(path, t / f"portable{i}")
            rows.append({"case": name, "macs": macs, "dsp": dsp, "portable": before,
                         "dsp_cycles_per_mac": dsp["cycles"] / macs, "portable_cycles_per_mac": before["cycles"] / macs,
                         "ratio": dsp["cycles"] / before["cycles"]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'case':<24} {'MACs':>8} {'DSP kernel':<27} {'cycles':>10} {'cyc/MAC':>7} {'portable':>10} "
          f"{'cyc/MAC':>7} {'x portable':>10}")
    for r in rows:
        print(f"{r['case']:<24} {r['macs']:>8,} {r['dsp']['function']:<27} {r['dsp']['cycles']:>10,} "
              f"{r['dsp_cycles_per_mac']:>7.2f} {r['portable']['cycles']:>10,} {r['portable_cycles_per_mac']:>7.2f} "
              f"{r['ratio']:>10.3f}")
    print("control: the same layer on the portable 16x8 kernel (ek_conv2d_s16, ek_fully_connected_s16), same run")
    return 0


if __name__ == "__main__":
    sys.exit(main())

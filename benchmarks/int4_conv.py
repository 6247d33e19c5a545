"""CONV_2D with int4 filters on the default board (qemu-mps2-an386, a Cortex-M4, DSP kernels):
ek_conv2d_int4_dsp_s8 (filters kept two per byte) against ek_conv2d_dsp_s8 on the same filters
widened to int8, per layer shape.

Each case is a one-operator model with int4 filters converted at test time (tests/opmodels.py
``int4_op``), built twice for the board: as edgekit lowers it (the int4 kernel), and with the int4
row left out of CONV_2D's kernel table and Winograd off (the int8 DSP conv kernel). Both run under
QEMU through the serial harness (outputs checked against tflite-micro bit for bit) with the cycle
plugin; the convolution's estimated cycles (the plugin's per-operator count, median invoke) are
divided by its MACs. Weight bytes: the firmware's weight arrays (the conv's stream: weights,
folded biases and requantization terms).

Then a whole network of the shape most weight bytes sit in (MobileNetV2's inverted residuals: a
3x3 stem, then 1x1 expansion, 3x3 depthwise, 1x1 projection per block, int4 filters throughout,
converted the same way): its weight bytes and estimated cycles as deployed for the board, and
with the int4 convolution left out (every filter widened to int8); depthwise filters stay
widened in both.

    python benchmarks/int4_conv.py [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from opmodels import int4_op  # noqa: E402

from edgekit.codegen.core import target_for_cpu  # noqa: E402
from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from on_board import BOARD, run_on_board  # noqa: E402

INT4 = "ek_conv2d_int4_dsp_s8"
CASES = {  # name: (input shape, output channels, kernel, stride, padding)
    "1x1 16x16x32->64": ((16, 16, 32), 64, 1, 1, "SAME"),
    "1x1 8x8x96->24": ((8, 8, 96), 24, 1, 1, "SAME"),
    "3x3 16x16x16->32": ((16, 16, 16), 32, 3, 1, "SAME"),
}


BLOCKS = ((16, 24, 1), (24, 32, 2), (32, 64, 2), (64, 96, 1))  # in, out channels, depthwise stride; expansion 6


def int4_blocks(seed: int = 0) -> bytes:
    """Inverted residual blocks on a 32x32x8 input with int4 filters (per-channel for the
    convolutions, per-tensor for the depthwise ones, as ``int4_op``), 8-bit activations, converted
    with TFLite's low-bit QAT option."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def q4(w, per_channel):
        top = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0) if per_channel else np.abs(w).max()
        top = np.asarray(top, np.float32)
        if per_channel:
            return tf.quantization.fake_quant_with_min_max_vars_per_channel(tf.constant(w), -top, top * 7 / 8,
                                                                            num_bits=4)
        return tf.quantization.fake_quant_with_min_max_vars(tf.constant(w), -top, top * 7 / 8, num_bits=4)

    def act(x, relu6):
        if relu6:
            return tf.quantization.fake_quant_with_min_max_vars(tf.nn.relu6(x), 0.0, 6.0, num_bits=8)
        return tf.quantization.fake_quant_with_min_max_vars(x, -6.0, 6.0, num_bits=8)

    def conv(x, c_out, k=1, stride=1, relu6=True):
        w = (rng.standard_normal((k, k, x.shape[-1], c_out)) / np.sqrt(k * k * x.shape[-1])).astype(np.float32)
        b = (rng.standard_normal(c_out) * 0.1).astype(np.float32)
        return act(tf.nn.bias_add(tf.nn.conv2d(x, q4(w, True), stride, "SAME"), b), relu6)

    def depthwise(x, stride):
        w = (rng.standard_normal((3, 3, x.shape[-1], 1)) / 3).astype(np.float32)
        b = (rng.standard_normal(x.shape[-1]) * 0.1).astype(np.float32)
        y = tf.nn.depthwise_conv2d(x, q4(w, False), [1, stride, stride, 1], "SAME")
        return act(tf.nn.bias_add(y, b), True)

    def body(x):
        x = tf.quantization.fake_quant_with_min_max_vars(x, -1.0, 1.0, num_bits=8)
        x = conv(x, 16, k=3, stride=2)
        for c_in, c_out, stride in BLOCKS:
            x = conv(x, 6 * c_in)
            x = depthwise(x, stride)
            x = conv(x, c_out, relu6=False)
        return x

    fn = tf.function(body, input_signature=[tf.TensorSpec((1, 32, 32, 8), tf.float32)])
    cv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    cv.optimizations = [tf.lite.Optimize.DEFAULT]
    cv.inference_input_type = tf.int8
    cv.inference_output_type = tf.int8
    cv._experimental_low_bit_qat = True
    return cv.convert()


def run(path: Path, work: Path, int8: bool) -> dict:
    target = target_for_cpu(load_board(BOARD).cpu)
    table = None
    if int8:  # the int4 row left out, Winograd off: the int8 DSP conv kernel
        target = dataclasses.replace(target, winograd_min_pixels=None)
        table = tuple(c for c in conv.CONV_2D_KERNELS if c.kernel != INT4)
    fw, est = run_on_board(path, work, target, table)
    macs = totals(read_tflite(path)).macs
    cyc = est.total.cycles if len(fw.generated.calls) > 1 else est.operators[0].cycles
    return {"functions": sorted({c.function for c in fw.generated.calls}), "cycles": cyc, "macs": macs,
            "cycles_per_mac": cyc / macs, "weight_bytes": fw.sizes.flash_weights_bytes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (shape, out_c, k, stride, pad)) in enumerate(CASES.items()):
            path = Path(tmp) / f"case{i}.tflite"
            path.write_bytes(int4_op("conv", shape, out_c, seed=i, kernel=k, stride=stride, padding=pad))
            a = run(path, Path(tmp) / f"int4-{i}", int8=False)
            b = run(path, Path(tmp) / f"int8-{i}", int8=True)
            rows.append({"case": name, "int4": a, "int8": b, "cycles_ratio": a["cycles"] / b["cycles"],
                         "weight_ratio": a["weight_bytes"] / b["weight_bytes"]})
        path = Path(tmp) / "blocks.tflite"
        path.write_bytes(int4_blocks())
        a = run(path, Path(tmp) / "int4-blocks", int8=False)
        b = run(path, Path(tmp) / "int8-blocks", int8=True)
        rows.append({"case": "inverted residuals", "int4": a, "int8": b, "cycles_ratio": a["cycles"] / b["cycles"],
                     "weight_ratio": a["weight_bytes"] / b["weight_bytes"]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'case':<20} {'MACs':>9} {'int4 cyc/MAC':>13} {'int8 cyc/MAC':>13} {'ratio':>6} "
          f"{'int4 weights':>13} {'int8 weights':>13} {'ratio':>6}")
    for r in rows:
        a, b = r["int4"], r["int8"]
        print(f"{r['case']:<20} {a['macs']:>9,} {a['cycles_per_mac']:>13.3f} {b['cycles_per_mac']:>13.3f} "
              f"{r['cycles_ratio']:>6.3f} {a['weight_bytes']:>13,} {b['weight_bytes']:>13,} {r['weight_ratio']:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The DSP convolution's last block of one pixel on the default board (qemu-mps2-an386, a Cortex-M4,
DSP kernels): estimated cycles of 1x1 layers on maps whose pixels are not a multiple of four,
against the same layer on the map of the next multiple of four pixels, which is what
ek_conv2d_dsp_s8 computed for them before it had a loop for one pixel (it computed a block of four
and discarded the missing pixels' outputs; it still does for a last block of two or three pixels,
rarer: every odd square map leaves one): the control, measured in the same run. It
reads a little low for the old kernel, which gathered the missing pixels' columns one at a time
where the control's full block reads four in one pass (one pixel of 64->64: 22,244 cycles at the
commit before, against the control's 21,625).

Maps of 1 and 2 pixels are the late layers of MobileNets on small inputs; 5 pixels is one row of
kws's 25x5 maps, what a streamed segment gives the kernel per band. A layer of one pixel is taken
by the fully connected DSP kernel (``conv2d_fc_applies``): its cycles are the "taken" column; the
convolution kernel's are measured with that row left out of CONV_2D's kernel table. Each case is a one-operator
model with seeded weights, converted at run time, run under QEMU through the serial harness
(outputs checked against tflite-micro bit for bit) with the cycle plugin.

    python benchmarks/conv_tail.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from opmodels import _calib, _randomize_weights  # noqa: E402

from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.frontend.quantize import int8_tflite  # noqa: E402
from on_board import run_on_board  # noqa: E402

CASES = [  # (map h, w), input channels, output channels
    ((1, 1), 64, 64), ((1, 2), 64, 64), ((1, 5), 64, 64), ((3, 3), 64, 64), ((1, 1), 336, 112),
]


def conv_model(hw, cin, cout, seed=0) -> bytes:
    import keras

    keras.utils.set_random_seed(seed)
    shape = (*hw, cin)
    inp = keras.Input(shape=shape, batch_size=1)
    model = keras.Model(inp, keras.layers.Conv2D(cout, 1, activation="relu")(inp))
    _randomize_weights(model, seed)
    return int8_tflite(model, _calib([shape], seed))


CONV_ONLY = tuple(c for c in conv.CONV_2D_KERNELS if not c.kernel.startswith("ek_fully_connected"))


def cycles(hw, cin, cout, work: Path, table=CONV_ONLY) -> tuple[str, int]:
    path = work / f"c{hw[0]}x{hw[1]}x{cin}-{cout}.tflite"
    path.write_bytes(conv_model(hw, cin, cout))
    fw, est = run_on_board(path, work / f"{path.stem}-{len(table)}", conv_table=table)
    (call,) = fw.generated.calls
    return call.function, est.operators[0].cycles


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-tail-") as tmp:
        for hw, cin, cout in CASES:
            px = hw[0] * hw[1]
            padded = (1, -(-px // 4) * 4)  # the control: the pixels the kernel computed before
            (f, c), (_, control) = cycles(hw, cin, cout, Path(tmp)), cycles(padded, cin, cout, Path(tmp))
            assert f == "ek_conv2d_dsp_s8", f
            taken, taken_cycles = cycles(hw, cin, cout, Path(tmp), conv.CONV_2D_KERNELS)
            macs = px * cin * cout
            rows.append({"layer": f"1x1 {hw[0]}x{hw[1]}x{cin}->{cout}", "pixels": px, "cycles": c,
                         "cycles_per_mac": c / macs, "control_pixels": padded[1], "control_cycles": control,
                         "x_control": c / control, "taken": taken, "taken_cycles": taken_cycles,
                         "taken_x_control": taken_cycles / control})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("qemu-mps2-an386, ek_conv2d_dsp_s8: estimated cycles; control = the same layer on the next multiple "
          "of four pixels (what the kernel computed before)")
    print(f"{'layer':<24} {'pixels':>6} {'cycles':>9} {'cyc/MAC':>8} {'control px':>10} {'control':>9} "
          f"{'x control':>9} {'taken':>30} {'cycles':>9} {'x control':>9}")
    for r in rows:
        print(f"{r['layer']:<24} {r['pixels']:>6} {r['cycles']:>9,} {r['cycles_per_mac']:>8.3f} "
              f"{r['control_pixels']:>10} {r['control_cycles']:>9,} {r['x_control']:>9.3f} {r['taken']:>30} "
              f"{r['taken_cycles']:>9,} {r['taken_x_control']:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

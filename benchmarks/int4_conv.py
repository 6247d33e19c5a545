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
from edgekit.harness.deploy import connect, flash_facts, with_cycle_plugin  # noqa: E402
from edgekit.harness.profile import profile  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from edgekit.target import cycles  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from edgekit.target.build import build_firmware  # noqa: E402

BOARD = "qemu-mps2-an386"
INT4 = "ek_conv2d_int4_dsp_s8"
CASES = {  # name: (input shape, output channels, kernel, stride, padding)
    "1x1 16x16x32->64": ((16, 16, 32), 64, 1, 1, "SAME"),
    "1x1 8x8x96->24": ((8, 8, 96), 24, 1, 1, "SAME"),
    "3x3 16x16x16->32": ((16, 16, 16), 32, 3, 1, "SAME"),
}


def run(path: Path, work: Path, int8: bool) -> dict:
    board = load_board(BOARD)
    target = target_for_cpu(board.cpu)
    table = conv.CONV_2D_KERNELS
    if int8:
        target = dataclasses.replace(target, winograd_min_pixels=None)
        conv.CONV_2D_KERNELS = tuple(c for c in table if c.kernel != INT4)
    try:
        fw = build_firmware(path, board, work, target=target)
    finally:
        conv.CONV_2D_KERNELS = table
    (call,) = fw.generated.calls
    with with_cycle_plugin(board, None, fw.elf, len(fw.generated.calls)) as (run_board, cycle_file):
        with connect(run_board, None, fw.elf, log=lambda m: None) as dev:
            rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift,
                          samples=3, seed=0, flash=flash_facts(fw.sizes))
        est = cycles.read(cycle_file)
    if not rep.passed:
        raise SystemExit(f"{path.stem}: {call.function} is not bit-exact with tflite-micro")
    macs = totals(read_tflite(path)).macs
    (op_cycles,) = [o.cycles for o in est.operators]
    return {"function": call.function, "cycles": op_cycles, "macs": macs, "cycles_per_mac": op_cycles / macs,
            "weight_bytes": fw.sizes.flash_weights_bytes}


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

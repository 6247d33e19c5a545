"""Palettized CONV_2D on the default board (qemu-mps2-an386, a Cortex-M4, DSP kernels):
ek_conv2d_pal_dsp_s8, whose weights are a `bits`-wide index per weight into a table of each output
channel's values (clustered weights: 16 values per channel 4 bits, 4 values 2 bits), against
ek_conv2d_dsp_s8 on the same layer stored as int8 (the dense control, weight packing off) and
against the portable palette kernel ek_conv2d_pal_s8 (what such weights ran before), per layer shape.

The palettized kernel decodes a chunk of channel pairs at a time into scratch and runs the int8
kernel's walk over every pixel on it, so its cost per MAC over the dense kernel's falls with the
output's pixels: the cases go from 256 output pixels down to 4; one output pixel of a 1x1 filter
takes ek_conv2d_pal_dsp_pixel_s8, which decodes in registers.

Each case is a one-operator model with seeded weights snapped per channel to the given number of
values (tests/test_kernels_dsp.py ``conv_clustered``), converted at run time, run under QEMU
through the serial harness (outputs checked against tflite-micro bit for bit) with the cycle
plugin; weight bytes: the firmware's weight arrays.

    python benchmarks/palette_conv.py [--json]
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

from test_kernels_dsp import conv_clustered  # noqa: E402

from edgekit.codegen.core import target_for_cpu  # noqa: E402
from edgekit.codegen.lowering import Candidate, portable  # noqa: E402
from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.codegen.ops.palette import lower_packed_conv2d, packing_applies  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from on_board import BOARD, run_on_board  # noqa: E402

CASES = {  # name: (input shape, output channels, kernel)
    "1x1 16x16x64->64": ((16, 16, 64), 64, 1),
    "1x1 8x8x128->96": ((8, 8, 128), 96, 1),
    "3x3 8x8x32->32": ((8, 8, 32), 32, 3),
    "1x1 4x4x192->192": ((4, 4, 192), 192, 1),
    "1x1 2x2x320->320": ((2, 2, 320), 320, 1),
    "1x1 1x1x336->112": ((1, 1, 336), 112, 1),  # one pixel: ek_conv2d_pal_dsp_pixel_s8
}
VALUES = (16, 4)
#: the control of before: the portable palette kernel wherever a palette saves flash
PORTABLE_PALETTE = (Candidate("ek_conv2d_pal_s8", packing_applies, lower_packed_conv2d), portable("ek_conv2d_s8"))


def run(path: Path, work: Path, **kw) -> dict:
    fw, est = run_on_board(path, work, **kw)
    (call,) = fw.generated.calls
    macs = totals(read_tflite(path)).macs
    cyc = est.operators[0].cycles
    return {"function": call.function, "cycles": cyc, "macs": macs, "cycles_per_mac": cyc / macs,
            "weight_bytes": fw.sizes.flash_weights_bytes, "scratch_bytes": call.scratch_bytes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    default = target_for_cpu(load_board(BOARD).cpu)
    unpacked = dataclasses.replace(default, weight_packing=False)
    whole = dataclasses.replace(default, lean_kernels=False)  # PAL_CHUNK_BYTES chunks, as inside a model
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for i, (name, (shape, out_c, k)) in enumerate(CASES.items()):
            for values in VALUES:
                path = t / f"case{i}-{values}.tflite"
                path.write_bytes(conv_clustered(shape, out_c, k, values, 70 + i))
                pal = run(path, t / f"pal{i}-{values}", target=whole)
                lean = run(path, t / f"lean{i}-{values}")
                dense = run(path, t / f"dense{i}-{values}", target=unpacked)
                before = run(path, t / f"portable{i}-{values}", conv_table=PORTABLE_PALETTE)
                rows.append({"case": name, "values": values, "palettized": pal, "lean": lean, "dense": dense,
                             "portable_palette": before,
                             "lean_per_mac_ratio": lean["cycles_per_mac"] / dense["cycles_per_mac"],
                             "per_mac_ratio": pal["cycles_per_mac"] / dense["cycles_per_mac"],
                             "weight_ratio": pal["weight_bytes"] / dense["weight_bytes"],
                             "vs_portable_palette": pal["cycles"] / before["cycles"]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'case':<18} {'values':>6} {'kernel':<22} {'cyc/MAC':>8} {'dense':>6} {'x dense':>8} "
          f"{'weights':>8} {'x dense':>8} {'scratch':>8} {'x portable pal':>14} {'lean scratch':>12} {'x dense':>8}")
    for r in rows:
        a, b = r["palettized"], r["lean"]
        print(f"{r['case']:<18} {r['values']:>6} {a['function']:<22} {a['cycles_per_mac']:>8.3f} "
              f"{r['dense']['cycles_per_mac']:>6.3f} {r['per_mac_ratio']:>8.3f} {a['weight_bytes']:>8,} "
              f"{r['weight_ratio']:>8.3f} {a['scratch_bytes']:>8,} {r['vs_portable_palette']:>14.3f} "
              f"{b['scratch_bytes']:>12,} {r['lean_per_mac_ratio']:>8.3f}")
    print("controls: dense = the same weights as int8 on the DSP kernels (weight packing off); portable pal = "
          "ek_conv2d_pal_s8, the palette kernel such weights took before; lean = the chunks of "
          "PAL_LEAN_CHUNK_BYTES the generator takes where the kernel's scratch sets the arena (a lone layer's does)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

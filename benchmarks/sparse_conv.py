"""Block-sparse CONV_2D on the default board (qemu-mps2-an386, a Cortex-M4, DSP kernels):
ek_conv2d_sparse_dsp_s8, which neither stores nor computes the blocks of 16 taps x 2 output
channels whose weights are all zero, against ek_conv2d_dsp_s8 on the same layer with every block
kept (the dense control), per layer shape and fraction of blocks kept.

Each case is a one-operator model with seeded weights zeroed in whole blocks
(tests/test_kernels_dsp.py ``conv_with_zero_blocks``: one channel pair keeps no block, one every
block, the others each block with the given probability), converted at run time, run under QEMU
through the serial harness (outputs checked against tflite-micro bit for bit) with the cycle
plugin. Cycles per MAC kept = the operator's estimated cycles / (MACs x the fraction of the
column's blocks the stream holds); weight bytes: the firmware's weight arrays.

    python benchmarks/sparse_conv.py [--json]
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
sys.path.insert(0, str(ROOT / "tests"))

from test_kernels_dsp import conv_with_zero_blocks  # noqa: E402

from edgekit.codegen.ops.dsp_conv import live_channels, sparse_blocks  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from on_board import run_on_board  # noqa: E402

CASES = {  # name: (input shape, output channels, kernel)
    "1x1 16x16x64->64": ((16, 16, 64), 64, 1),
    "1x1 8x8x128->96": ((8, 8, 128), 96, 1),
    "3x3 8x8x32->32": ((8, 8, 32), 32, 3),
}
KEEP = (0.75, 0.5, 0.25)


def run(path: Path, work: Path) -> dict:
    fw, est = run_on_board(path, work)
    (call,) = fw.generated.calls
    graph = read_tflite(path)
    macs = totals(graph).macs
    kept = 1.0
    if call.function == "ek_conv2d_sparse_dsp_s8":  # the blocks its stream holds / every channel pair's
        w = graph.tensors[graph.ops[0].inputs[1]].data
        rows = w.reshape(w.shape[0], -1).astype(np.int64)  # (ky, kx, c): the column's order here
        live = live_channels(rows)
        pairs = np.append(live, live[-1:])[:2 * ((live.size + 1) // 2)]
        padded = np.zeros((pairs.size, call.params.k_pad), np.int64)
        padded[:, :rows.shape[1]] = rows[pairs]
        kept = sparse_blocks(padded.reshape(-1, 2, call.params.k_pad)).sum() / (
            (call.params.output_c + 1) // 2 * (call.params.k_pad // 16))
    cyc = est.operators[0].cycles
    return {"function": call.function, "cycles": cyc, "macs": macs, "blocks_kept": kept,
            "cycles_per_kept_mac": cyc / (macs * kept), "weight_bytes": fw.sizes.flash_weights_bytes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for i, (name, (shape, out_c, k)) in enumerate(CASES.items()):
            dense_path = t / f"dense{i}.tflite"
            dense_path.write_bytes(conv_with_zero_blocks(shape, out_c, k, 1.0, 60 + i))
            dense = run(dense_path, t / f"dense{i}")
            for keep in KEEP:
                path = t / f"case{i}-{keep}.tflite"
                path.write_bytes(conv_with_zero_blocks(shape, out_c, k, keep, 60 + i))
                r = run(path, t / f"sparse{i}-{keep}")
                rows.append({"case": name, "keep": keep, "sparse": r, "dense": dense,
                             "cycles_ratio": r["cycles"] / dense["cycles"],
                             "per_kept_mac_ratio": r["cycles_per_kept_mac"] / dense["cycles_per_kept_mac"],
                             "weight_ratio": r["weight_bytes"] / dense["weight_bytes"]})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'case':<18} {'blocks kept':>11} {'kernel':<24} {'cycles':>9} {'x dense':>8} {'cyc/kept MAC':>13} "
          f"{'x dense':>8} {'weights':>8} {'x dense':>8}")
    for r in rows:
        a = r["sparse"]
        print(f"{r['case']:<18} {a['blocks_kept']:>11.2f} {a['function']:<24} {a['cycles']:>9,} "
              f"{r['cycles_ratio']:>8.3f} {a['cycles_per_kept_mac']:>13.3f} {r['per_kept_mac_ratio']:>8.3f} "
              f"{a['weight_bytes']:>8,} "
              f"{r['weight_ratio']:>8.3f}")
    print("dense controls: " + ", ".join(f"{r['case']} {r['dense']['function']} {r['dense']['cycles']:,} cycles"
                                         for r in rows[::len(KEEP)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

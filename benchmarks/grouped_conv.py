"""Grouped CONV_2D on the default board (qemu-mps2-an386, a Cortex-M4, DSP kernels): estimated cycles
per MAC of ek_conv2d_dsp_s8 on grouped layers, against the same kernel on one group's shape as a
dense layer (the speed a grouped layer should reach) and against the portable kernel that grouped
layers ran on before (the control: CONV_2D's DSP rows pass grouped convolutions over).

Each case is a one-operator model with seeded weights, converted at run time; then ShuffleNetV2
(``edgekit.compress.zoo``, width 0.5, 32x32x1) with groups 1 and 2 (the first 1x1 of each branch a
group convolution), Keras's seeded initial weights, calibrated on random inputs. Every build runs under QEMU
through the serial harness, outputs checked against tflite-micro bit for bit, with the cycle
plugin; a layer's estimated cycles are the plugin's per-operator count (median invoke).

    python benchmarks/grouped_conv.py [--json]
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

from opmodels import _calib, _randomize_weights  # noqa: E402

from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.frontend.quantize import int8_tflite  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from on_board import run_on_board  # noqa: E402

DSP_ROWS = ("ek_conv2d_dsp_s8", "ek_conv3x3_wino_dsp_s8", "ek_conv2d_int4_dsp_s8", "ek_conv2d_sparse_dsp_s8")
CASES = {  # name: (input shape, output channels, kernel, groups)
    "1x1 16x16x48->48 g2": ((16, 16, 48), 48, 1, 2),
    "1x1 8x8x96->96 g2": ((8, 8, 96), 96, 1, 2),
    "1x1 8x8x96->96 g4": ((8, 8, 96), 96, 1, 4),
    "1x1 4x4x192->192 g2": ((4, 4, 192), 192, 1, 2),
    "3x3 8x8x32->32 g2": ((8, 8, 32), 32, 3, 2),
}


def conv_model(shape, out_c, k, groups, seed) -> bytes:
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=shape, batch_size=1)
    model = keras.Model(inp, keras.layers.Conv2D(out_c, k, padding="same", groups=groups, activation="relu")(inp))
    _randomize_weights(model, seed)
    return int8_tflite(model, _calib([shape], seed))


def shufflenet(groups: int) -> bytes:
    from edgekit.compress import zoo

    import keras

    keras.utils.set_random_seed(0)
    model = zoo.shufflenet_v2(resolution=32, channels=1, num_classes=10, width=0.5, groups=groups)
    model = keras.Model(model.input, model.layers[-2].output)  # logits: untrained, softmax's scale is degenerate
    from edgekit.compress.measure import batch1_function

    return int8_tflite(batch1_function(model), _calib([(32, 32, 1)], 0))


def ungrouped_only(row):
    """A DSP row of CONV_2D's table that passes grouped convolutions over (as before they had one)."""
    return dataclasses.replace(row, applies=lambda ctx, call, f=row.applies: call.params.groups == 1 and f(ctx, call))


def run(path: Path, work: Path, dsp: bool) -> dict:
    """``dsp=False``: grouped convolutions on the portable kernel (the DSP rows pass them over)."""
    table = None if dsp else tuple(ungrouped_only(c) if c.kernel in DSP_ROWS else c for c in conv.CONV_2D_KERNELS)
    fw, est = run_on_board(path, work, conv_table=table)
    macs = totals(read_tflite(path)).macs
    convs = [i for i, c in enumerate(fw.generated.calls) if c.op.type_name == "CONV_2D"]
    grouped = [i for i in convs if getattr(fw.generated.calls[i].params, "groups", 1) > 1]
    cyc = est.total.cycles if len(fw.generated.calls) > 1 else est.operators[0].cycles
    return {"functions": sorted({fw.generated.calls[i].function for i in convs}), "cycles": cyc, "macs": macs,
            "cycles_per_mac": cyc / macs, "arena_bytes": fw.generated.arena_bytes,
            "grouped_conv_cycles": sum(est.operators[i].cycles for i in grouped)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--networks-only", action="store_true", help="leave out the one-layer cases")
    args = ap.parse_args(argv)
    layers, nets = [], []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for i, (name, (shape, out_c, k, groups)) in enumerate(CASES.items() if not args.networks_only else ()):
            path = t / f"case{i}.tflite"
            path.write_bytes(conv_model(shape, out_c, k, groups, seed=i))
            dense = t / f"dense{i}.tflite"  # one group's shape, ungrouped
            dense.write_bytes(conv_model((*shape[:2], shape[2] // groups), out_c // groups, k, 1, seed=i))
            a = run(path, t / f"dsp{i}", dsp=True)
            b = run(path, t / f"portable{i}", dsp=False)
            d = run(dense, t / f"dense-dsp{i}", dsp=True)
            layers.append({"case": name, "grouped_dsp": a, "grouped_portable": b, "dense_dsp": d,
                           "vs_dense": a["cycles_per_mac"] / d["cycles_per_mac"],
                           "vs_portable": a["cycles"] / b["cycles"]})
        for groups in (1, 2):
            path = t / f"shufflenet_g{groups}.tflite"
            path.write_bytes(shufflenet(groups))
            row = {"network": f"ShuffleNetV2 w0.5 groups={groups}", "dsp": run(path, t / f"sn{groups}", dsp=True)}
            if groups > 1:
                row["portable_grouped"] = run(path, t / f"sn{groups}-portable", dsp=False)
            nets.append(row)
    if args.json:
        print(json.dumps({"layers": layers, "networks": nets}, indent=1))
        return 0
    print(f"{'case':<22} {'MACs':>9} {'DSP cyc/MAC':>12} {'dense cyc/MAC':>14} {'x dense':>8} "
          f"{'portable cyc/MAC':>17} {'x portable':>10}")
    for r in layers:
        a, b, d = r["grouped_dsp"], r["grouped_portable"], r["dense_dsp"]
        print(f"{r['case']:<22} {a['macs']:>9,} {a['cycles_per_mac']:>12.3f} {d['cycles_per_mac']:>14.3f} "
              f"{r['vs_dense']:>8.3f} {b['cycles_per_mac']:>17.3f} {r['vs_portable']:>10.3f}")
    base = nets[0]["dsp"]
    print(f"\n{'network':<30} {'MACs':>10} {'est. cycles':>12} {'x groups=1':>10} {'arena':>7}")
    for r in nets:
        for key, label in (("dsp", ""), ("portable_grouped", " (grouped: portable)")):
            if key in r:
                v = r[key]
                print(f"{r['network'] + label:<30} {v['macs']:>10,} {v['cycles']:>12,} "
                      f"{v['cycles'] / base['cycles']:>10.3f} {v['arena_bytes']:>7,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

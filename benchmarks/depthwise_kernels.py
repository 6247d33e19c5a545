"""Which DSP depthwise kernel each 3x3 DEPTHWISE_CONV_2D layer should take, measured in place on the
default board (qemu-mps2-an386, a Cortex-M4): every such layer of vww (MLPerf Tiny) and of a
MobileNetV2 (``edgekit.compress.zoo``, width 0.35, depth 0.34, 32x32x1, Keras's seeded initial
weights, logits out) built three ways in the same run: every layer the rows kernel can take on
ek_depthwise_rows_dsp_s8 (what edgekit did before), every layer on ek_depthwise_dsp_s8, and as
edgekit chooses now (``DWR_MIN_OUTPUT_W`` in edgekit/codegen/ops/dsp_depthwise.py). Filter taps no
window puts on the image are left out in all three (a 1x1 map's 3x3 filter is its centre tap, which
only the general kernel takes: those layers read 1.00 for that reason). Whole tensors
(no streamed segments), so that each layer's estimated cycles are its own; every output checked
against tflite-micro bit for bit.

    python benchmarks/depthwise_kernels.py [--models DIR] [--json]
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

from opmodels import _calib  # noqa: E402

from edgekit.codegen.core import target_for_cpu  # noqa: E402
from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.frontend.quantize import int8_tflite  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from on_board import BOARD, run_on_board  # noqa: E402

ROWS = conv.DEPTHWISE_CONV_2D_KERNELS[0]


def mobilenet_v2() -> bytes:
    import keras

    from edgekit.compress import zoo
    from edgekit.compress.measure import batch1_function

    keras.utils.set_random_seed(0)
    model = zoo.mobilenet_v2(resolution=32, channels=1, num_classes=10, width=0.35, depth=0.34)
    model = keras.Model(model.input, model.layers[-2].output)  # logits: untrained, softmax's scale is degenerate
    return int8_tflite(batch1_function(model), _calib([(32, 32, 1)], 0))


def per_layer(path: Path, work: Path, rows_applies) -> dict[int, tuple[str, int]]:
    """Each depthwise layer's kernel and estimated cycles, with the rows kernel's test ``rows_applies``."""
    chosen = ROWS.applies
    object.__setattr__(ROWS, "applies", rows_applies)
    try:
        target = dataclasses.replace(target_for_cpu(load_board(BOARD).cpu), stream=False)
        fw, est = run_on_board(path, work, target=target)
    finally:
        object.__setattr__(ROWS, "applies", chosen)
    calls = {c.op.index: c.function for c in fw.generated.calls}
    return {op.index: (calls[op.index], est.operators[k].cycles)
            for k, op in enumerate(fw.generated.graph.ops) if op.type_name == "DEPTHWISE_CONV_2D"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(ROOT.parent / "shared" / "models"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from edgekit.codegen.ops.dsp_depthwise import DWR_MIN_OUTPUT_W

    chosen = ROWS.applies

    def rows_always(ctx, call):  # before: wherever the rows kernel can run
        p = call.params
        return chosen(ctx, call) or (ctx.target.dsp and p.depth_multiplier == 1 and (p.filter_h, p.filter_w) == (3, 3)
                                     and (p.dilation_h, p.dilation_w) == (1, 1) and p.stride_w in (1, 2))

    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-dw-") as tmp:
        models = {"vww_96_int8": Path(args.models) / "vww_96_int8.tflite",
                  "mobilenet_v2 w0.35 32x32": Path(tmp) / "mobilenet_v2.tflite"}
        models["mobilenet_v2 w0.35 32x32"].write_bytes(mobilenet_v2())
        for name, path in models.items():
            graph = read_tflite(path)
            before = per_layer(path, Path(tmp) / "before", rows_always)
            general = per_layer(path, Path(tmp) / "general", lambda ctx, call: False)
            now = per_layer(path, Path(tmp) / "now", chosen)
            for i, (f_before, c_before) in before.items():
                op = graph.ops[i]
                p_in, p_out = graph.tensors[op.inputs[0]].shape, graph.tensors[op.outputs[0]].shape
                stride = 1 if p_in[2] == p_out[2] else 2
                rows.append({"model": name, "op": i, "input": list(p_in[1:]), "output": list(p_out[1:]),
                             "stride": stride, "before": f_before, "before_cycles": c_before,
                             "general_cycles": general[i][1], "now": now[i][0], "now_cycles": now[i][1]})
    if args.json:
        print(json.dumps({"min_output_w": DWR_MIN_OUTPUT_W, "layers": rows}, indent=2))
        return 0
    print(f"qemu-mps2-an386: 3x3 depthwise layers in place, estimated cycles; rows = ek_depthwise_rows_dsp_s8, "
          f"general = ek_depthwise_dsp_s8; now: rows on rows of >= {DWR_MIN_OUTPUT_W} outputs (by stride)")
    print(f"{'model':<26} {'op':>3} {'input':>12} {'s':>2} {'rows (before)':>14} {'general':>9} {'general/rows':>12} "
          f"{'now':>8} {'now/before':>10}")
    for r in rows:
        kind = "rows" if r["now"] == "ek_depthwise_rows_dsp_s8" else "general"
        print(f"{r['model']:<26} {r['op']:>3} {'x'.join(map(str, r['input'])):>12} {r['stride']:>2} "
              f"{r['before_cycles']:>14,} {r['general_cycles']:>9,} {r['general_cycles'] / r['before_cycles']:>12.2f} "
              f"{kind:>8} {r['now_cycles'] / r['before_cycles']:>10.2f}")
    for name in dict.fromkeys(r["model"] for r in rows):
        b = sum(r["before_cycles"] for r in rows if r["model"] == name)
        n = sum(r["now_cycles"] for r in rows if r["model"] == name)
        print(f"{name}: depthwise layers {b:,} -> {n:,} cycles ({n / b:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RAM of the four MLPerf Tiny models: edgekit's arena against TFLM's, measured in one run.

    python benchmarks/arena.py [--models DIR] [--board B] [--json] [--max-ratio 0.60]

Per model, for the board's kernels (default: qemu-mps2-an386, the Cortex-M4's DSP kernels):
  edgekit      the arena in the generated model.h, as edgekit generates it by default: reordered,
               overlapped, streamed segments where they lower the arena within the cycle budget
  whole        the same with --no-stream (whole tensors only)
  portable     the portable kernels' arena (streamed where chosen), for the DSP-vs-portable check
  pulled       the arena with --pull-input: the input read row by row, not whole in the arena
  bound        the largest single-step requirement of edgekit's plan (overlaps allowed)
  TFLM         the tflite-micro interpreter's total arena (head + tail), from its recording
               allocator (edgekit.frontend.reference.tflm_arena_bytes), measured now
  ratio        edgekit / TFLM
The input is whole in the arena in every figure but "pulled". With --max-ratio the script exits 1 if any
model's ratio is above it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def measure(path: Path, board_name: str) -> dict:
    from edgekit.codegen import HOST, generate
    from edgekit.codegen.core import target_for_cpu
    from edgekit.frontend import reference
    from edgekit.ir import read_tflite
    from edgekit.target.boards import load_board

    graph = read_tflite(path)
    target = target_for_cpu(load_board(board_name).cpu)
    with tempfile.TemporaryDirectory(prefix="edgekit-arena-") as tmp:
        def arena(t, name):
            gen = generate(graph, Path(tmp) / name, source=path.name, target=t)
            header = (Path(tmp) / name / "model.h").read_text()
            assert f"#define MODEL_ARENA_BYTES {gen.arena_bytes}\n" in header
            return gen

        gen = arena(target, "default")
        whole = arena(dataclasses.replace(target, stream=False), "whole")
        portable = arena(HOST, "portable")
        pulled = arena(dataclasses.replace(target, pull_input=True), "pulled")
    tflm = reference.tflm_arena_bytes(path.read_bytes())
    plan = gen.plan
    return {
        "model": path.stem,
        "board": board_name,
        "edgekit_arena_bytes": gen.arena_bytes,
        "whole_tensor_arena_bytes": whole.arena_bytes,
        "portable_arena_bytes": portable.arena_bytes,
        "pulled_input_arena_bytes": pulled.arena_bytes,
        "pulled_input_ratio": pulled.arena_bytes / tflm,
        "lower_bound_bytes": plan.lower_bound,
        "tflm_arena_bytes": tflm,
        "ratio": gen.arena_bytes / tflm,
        "whole_tensor_ratio": whole.arena_bytes / tflm,
        "streamed_segments": [{"ops": list(s.ops), "band_rows": s.band, "block_bytes": s.block_bytes,
                               "row_buffer_rows": dict(zip(map(str, s.buffers), s.buffer_rows))}
                              for s in gen.segments],
        "schedule": plan.schedule.method if plan.schedule else "file order",
        "packing": plan.algorithm,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(ROOT.parent / "shared" / "models"))
    ap.add_argument("--board", default="qemu-mps2-an386")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-ratio", type=float, default=None)
    args = ap.parse_args(argv)
    from edgekit.frontend import reference

    try:
        rows = [measure(Path(args.models) / f"{m}.tflite", args.board) for m in MODELS]
    finally:
        reference.shutdown()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{args.board}: arena bytes, the whole input in the arena")
        print(f"{'model':<24} {'edgekit':>9} {'whole':>9} {'portable':>9} {'pulled':>9} {'bound':>9} {'TFLM':>9} "
              f"{'ratio':>7} {'whole/TFLM':>10} {'pulled/TFLM':>11}")
        for r in rows:
            print(f"{r['model']:<24} {r['edgekit_arena_bytes']:>9,} {r['whole_tensor_arena_bytes']:>9,} "
                  f"{r['portable_arena_bytes']:>9,} {r['pulled_input_arena_bytes']:>9,} {r['lower_bound_bytes']:>9,} "
                  f"{r['tflm_arena_bytes']:>9,} {r['ratio']:>7.3f} {r['whole_tensor_ratio']:>10.3f} "
                  f"{r['pulled_input_ratio']:>11.3f}")
        for r in rows:
            segs = "; ".join(f"ops {s['ops'][0]}-{s['ops'][-1]} in bands of {s['band_rows']} row(s), "
                             f"block {s['block_bytes']:,} B" for s in r["streamed_segments"]) or "none"
            print(f"  {r['model']}: streamed {segs}; packing {r['packing']}")
    if args.max_ratio is not None and any(r["ratio"] > args.max_ratio for r in rows):
        print(f"arena ratio above {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RAM of the four MLPerf Tiny models: edgekit's arena against TFLM's, measured in one run.

    python benchmarks/arena.py [--models DIR] [--json] [--max-ratio 0.60]

Per model:
  edgekit      the arena in the generated model.h (reordered, overlapped, verified plan)
  bound        the largest single-operator requirement of edgekit's schedule (overlaps allowed)
  no-overlap   the no-overlap lower bound of the file's own operator order: the most bytes
               alive at one operator; no planner that keeps tensors apart can go below it
  TFLM         the tflite-micro interpreter's total arena (head + tail), from its recording
               allocator (edgekit.frontend.reference.tflm_arena_bytes), measured now
  ratio        edgekit / TFLM
With --max-ratio the script exits 1 if any model's ratio is above it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def measure(path: Path) -> dict:
    from edgekit.frontend import reference
    from edgekit.codegen import generate, memory_facts
    from edgekit.ir import read_tflite
    from edgekit.plan import buffers_for, no_overlap_requirements

    graph = read_tflite(path)
    facts, _ = memory_facts(graph)
    file_bound = max(no_overlap_requirements(buffers_for(graph, facts)[0], len(graph.ops) + 1))
    with tempfile.TemporaryDirectory(prefix="edgekit-arena-") as tmp:
        gen = generate(graph, Path(tmp) / "model", source=path.name)
        header = (Path(tmp) / "model" / "model.h").read_text()
    assert f"#define MODEL_ARENA_BYTES {gen.arena_bytes}\n" in header
    tflm = reference.tflm_arena_bytes(path.read_bytes())
    plan = gen.plan
    return {
        "model": path.stem,
        "edgekit_arena_bytes": gen.arena_bytes,
        "lower_bound_bytes": plan.lower_bound,
        "file_order_no_overlap_bound_bytes": file_bound,
        "tflm_arena_bytes": tflm,
        "ratio": gen.arena_bytes / tflm,
        "schedule": plan.schedule.method if plan.schedule else "file order",
        "packing": plan.algorithm,
        "exact_search": plan.exact,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(ROOT.parent / "shared" / "models"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-ratio", type=float, default=None)
    args = ap.parse_args(argv)
    from edgekit.frontend import reference

    try:
        rows = [measure(Path(args.models) / f"{m}.tflite") for m in MODELS]
    finally:
        reference.shutdown()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'model':<24} {'edgekit':>9} {'bound':>9} {'no-overlap':>11} {'TFLM':>9} {'ratio':>7}")
        for r in rows:
            print(f"{r['model']:<24} {r['edgekit_arena_bytes']:>9,} {r['lower_bound_bytes']:>9,} "
                  f"{r['file_order_no_overlap_bound_bytes']:>11,} {r['tflm_arena_bytes']:>9,} "
                  f"{r['ratio']:>7.3f}")
        for r in rows:
            print(f"  {r['model']}: packing {r['packing']}; exact search {r['exact_search']}; "
                  f"schedule {r['schedule']}")
    if args.max_ratio is not None and any(r["ratio"] > args.max_ratio for r in rows):
        print(f"arena ratio above {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The hostile-model campaign of tests/test_model_fuzz.py, longer: byte mutations of the stored
models and of the MLPerf Tiny models (tests/models), counted by outcome.

    python benchmarks/fuzz.py                      # 10,000 mutants, every 5th that generates compiled and run
    python benchmarks/fuzz.py --mutants 500 --compile-every 1 --seed 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from modelfuzz import GOOD, campaign  # noqa: E402

from edgekit.target.host import build_runtime_lib  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compile-every", type=int, default=5, help="compile and run every k-th mutant that generates")
    args = ap.parse_args()
    models = sorted((ROOT / "tests" / "snapshots").glob("*.tflite")) + sorted((ROOT / "tests" / "models").glob("*.tflite"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-fuzz-") as tmp:
        lib = build_runtime_lib(Path(tmp), sanitize=True, opt="-O1")
        result = campaign(models, args.mutants, args.seed, Path(tmp), lib, args.compile_every,
                          log=lambda m: print(m, flush=True))
    print(f"{args.mutants:,} mutants of {len(models)} models in {time.monotonic() - started:.0f} s "
          f"(seed {args.seed}; of the models that generate, one in {args.compile_every} compiled and run)")
    for outcome, n in sorted(result.counts.items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:<18} {n:>6,}" + ("" if outcome in GOOD else "   <- failure"))
    print(f"failures: {len(result.failures)}")
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Host speed: the generated C (gcc -O2) against the tflite-micro interpreter, per model.

The C is generated for the host (the portable kernels) with dense int8 weights: palettized or
sparse storage saves flash on a microcontroller and costs time, and the host has no flash to
save.

Both are timed alternately in one run (rounds of N invokes each in a fresh process, median per
invoke), so machine noise hits both alike; the table reports the ratio interpreter / generated C
(> 1: edgekit faster). This machine's speed changes from one process to the next (the same
executable runs in 2.3 ms or 3.7 ms per vww invoke, whatever the address layout or core), and such
noise only ever adds time: the ratio of the fastest rounds is the main figure, the ratio of the
median rounds is shown beside it.

    python benchmarks/host_speed.py [--rounds 9] [--runs 20] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.codegen import generate  # noqa: E402
from edgekit.codegen.core import HOST  # noqa: E402
from edgekit.codegen.render import environment  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402
from edgekit.target import toolchain  # noqa: E402
from edgekit.target.host import random_inputs  # noqa: E402

MODELS = ROOT.parent / "shared" / "models"
DEFAULT = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]

TFLM_TIMER = r"""
import sys, time, numpy as np
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
x = np.load(sys.argv[2])
runs = int(sys.argv[3])
it = runtime.Interpreter.from_bytes(model)
it.set_input(x, 0); it.invoke()
for _ in range(runs):
    it.set_input(x, 0)
    t0 = time.perf_counter_ns(); it.invoke(); t1 = time.perf_counter_ns()
    print(t1 - t0)
"""


def build_bench(path: Path, work: Path) -> tuple[Path, np.ndarray]:
    graph = read_tflite(path)
    # dense int8 weights, as the interpreter has them (no flash to save here)
    gen = generate(graph, work / "gen", target=dataclasses.replace(HOST, weight_packing=False))
    main_c = work / "bench_main.c"
    main_c.write_text(environment().get_template("host_bench.c.j2").render(
        prefix=gen.prefix, PREFIX=gen.prefix.upper(), inputs=gen.inputs, outputs=gen.outputs))
    exe = toolchain.compile_host([*gen.sources, main_c], gen.include_dirs, work / "bench", opt="-O2")
    x = random_inputs(graph, 1, seed=0)[0][0]
    return exe, x


def median_ns(cmd: list[str], stdin: bytes | None = None) -> float:
    out = subprocess.run(cmd, input=stdin, capture_output=True, check=True).stdout.decode()
    return statistics.median(int(v) for v in out.split())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    paths = [Path(m) for m in args.models] or [MODELS / f"{m}.tflite" for m in DEFAULT]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            work = Path(tmp) / path.stem
            work.mkdir()
            exe, x = build_bench(path, work)
            np.save(work / "x.npy", x)
            ours, theirs = [], []
            for _ in range(args.rounds):
                theirs.append(median_ns([sys.executable, "-c", TFLM_TIMER, str(path),
                                         str(work / "x.npy"), str(args.runs)]))
                ours.append(median_ns([str(exe), str(args.runs)], x.tobytes()))
            t, o = min(theirs), min(ours)
            rows.append((path.stem, t / 1e6, o / 1e6, t / o, statistics.median(theirs) / statistics.median(ours)))
    print(f"{'model':<24} {'tflite-micro ms':>16} {'edgekit C ms':>13} {'speed-up':>9} {'median rounds':>14}")
    for name, t, o, r, rm in rows:
        print(f"{name:<24} {t:>16.3f} {o:>13.3f} {r:>8.2f}x {rm:>13.2f}x")
    print(f"(ms: median per invoke in the fastest of {args.rounds} alternating rounds in this run; "
          "speed-up = tflite-micro / edgekit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

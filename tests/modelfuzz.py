"""Hostile models by mutation: seeded byte-level changes to real ``.tflite`` files, each run
through what a user would run (read, inspect, generate, compile under ASan and UBSan, compare
with the reference interpreters), its outcome sorted into one class.

Used by ``tests/test_model_fuzz.py`` (a short campaign in the suite) and ``benchmarks/fuzz.py``
(a long one). A flatbuffer's bytes are its shapes, tensor indices, quantization arrays, options,
buffers and names, so flipping and overwriting a few of them reaches all of those.
"""

from __future__ import annotations

import random
import signal
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.codegen import generate
from edgekit.codegen.inspection import inspect_graph
from edgekit.errors import EdgekitError, ReferenceUnavailable
from edgekit.frontend import reference
from edgekit.ir import parse_tflite
from edgekit.target.host import build_host_runner, random_inputs, run_host

#: outcomes that are fine: refused in one line, run and equal to a reference, no reference could
#: run the model (reported as such), or generated and not run (the campaign runs every k-th)
GOOD = frozenset({"refused", "exact", "no-reference", "generated-not-run"})
STEP_SECONDS = 60  # a step (read, generate, compile, run) that takes longer is a hang


class _Timeout(Exception):
    pass


def mutate(buf: bytes, rng: random.Random) -> bytes:
    """1 to 4 bytes overwritten, bit-flipped or set to a boundary value; most in the first 4 KiB
    (the tables: shapes, indices, quantization, options) rather than the weights."""
    b = bytearray(buf)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(b)) if rng.random() < 0.3 else rng.randrange(min(len(b), 4096))
        r = rng.random()
        if r < 0.4:
            b[pos] = rng.randrange(256)
        elif r < 0.7:
            b[pos] ^= 1 << rng.randrange(8)
        else:
            b[pos] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF))
    return bytes(b)


@dataclass
class Campaign:
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (outcome, mutant id, detail)

    def add(self, outcome: str, mutant: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome not in GOOD:
            self.failures.append((outcome, mutant, detail))


def _alarm(*_):
    raise _Timeout()


def run_one(buf: bytes, work: Path, runtime_lib: Path, compile_it: bool, seed: int = 0) -> tuple[str, str]:
    """(outcome, detail) of one model: read, inspect, generate and, with ``compile_it``, run 3
    random inputs under ASan and UBSan against tflite-micro (LiteRT when tflite-micro cannot)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        signal.alarm(STEP_SECONDS)
        try:
            graph = parse_tflite(buf, name="mutant")
            inspect_graph(graph)
            gen = generate(graph, work / "gen")
        except EdgekitError as exc:
            return "refused", str(exc)
        if not compile_it:
            return "generated", ""
        samples = random_inputs(graph, 3, seed)
        exe = build_host_runner(gen, work, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
        try:
            ours = run_host(exe, gen.inputs, gen.outputs, samples, timeout_s=STEP_SECONDS)
        except EdgekitError as exc:
            return "crash", str(exc)
        try:
            want = reference.run_tflm(buf, samples)
        except ReferenceUnavailable:
            try:
                want = reference.run_litert(buf, samples)
            except ReferenceUnavailable:
                return "no-reference", ""
        for s, (o, w) in enumerate(zip(ours, want)):
            for k, (a, b) in enumerate(zip(o, w)):
                if not np.array_equal(a, np.asarray(b).reshape(a.shape)):
                    return "mismatch", f"sample {s} output {k}: max |diff| {int(np.abs(a.astype(int) - b.astype(int)).max())}"
        return "exact", ""
    except _Timeout:
        return "hang", f"a step took over {STEP_SECONDS} s"
    except Exception as exc:  # noqa: BLE001 -- a traceback is the finding
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return "traceback", f"{type(exc).__name__}: {exc} ({Path(tb.filename).name}:{tb.lineno})"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def campaign(models: list[Path], n: int, seed: int, work: Path, runtime_lib: Path, compile_every: int = 1,
             log=lambda msg: None) -> Campaign:
    """``n`` mutants of ``models``; every ``compile_every``-th model that generates is also compiled
    and run."""
    rng = random.Random(seed)
    sources = [(m.name, m.read_bytes()) for m in models]
    result = Campaign()
    generated = 0
    for i in range(n):
        name, buf = rng.choice(sources)
        mutant = mutate(buf, rng)
        mid = f"seed {seed} mutant {i} of {name}"
        outcome, detail = run_one(mutant, work / f"m{i}", runtime_lib, compile_it=False)
        if outcome == "generated":
            generated += 1
            if generated % compile_every == 0:
                outcome, detail = run_one(mutant, work / f"m{i}", runtime_lib, compile_it=True, seed=i)
            else:
                outcome = "generated-not-run"
        result.add(outcome, mid, detail)
        if outcome not in GOOD:
            log(f"{mid}: {outcome}: {detail}")
    return result

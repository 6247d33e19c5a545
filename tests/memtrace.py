"""Overlap leads measured on the compiled C: a kernel's reads of its input and writes of its
output, in program order, recorded by valgrind.

Why. A kernel that declares ``KernelCall.overlaps`` lets the planner start its output ``lead``
bytes below its input. The declared leads are derived in Python from the kernels' loop order
(``edgekit.codegen.overlap`` and the overlap function beside each lowering), and a Python copy of
a loop checked against another Python copy cannot notice that the C loop changed. Here the C
itself runs and the lead is measured from what it does.

How. The model is generated with its input and output in disjoint parts of the arena (the
kernels' declarations are withheld from the planner only: every access then belongs to one
tensor, and no write changes a byte that is read), compiled by gcc at -O1 without sanitizers
(the accesses are the compiled C's, in its order) and run once under
``valgrind --tool=lackey --trace-mem=yes``, which prints every load, store and modify with its
address in program order. ``EK_OP_HOOK``, which model.c calls before every operator and once
after the last, stores to a marker variable: those stores cut the trace into operators and leave
out the runner's copies into and out of the arena. An operator's loads from its input's bytes
and stores to its output's bytes become the ``(is_write, start, end)`` events of
``edgekit.codegen.overlap.events_lead``: the smallest lead at which no write lands on an input
byte read after it. A declaration is safe on that input when ``declared >= measured``.

What is measured is the host build of the C: the portable kernels, and the DSP kernels built
with the portable C twin of every DSP instruction they use (ek_dsp.h), whose loops are the
Cortex-M build's. Their Cortex-M assembly inner loops are not traced here; the QEMU bit-exact
tests of overlapped plans (tests/test_kernels_dsp.py, tests/test_kernels_winograd.py) run them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

import edgekit.codegen as codegen_module
from edgekit.codegen import GeneratedModel, generate
from edgekit.codegen.overlap import events_lead
from edgekit.ir import Graph
from edgekit.target.host import random_inputs

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
OPT = "-O1"  # no vectorizer: every access where the C loop makes it

# model.c calls EK_OP_HOOK(i) before operator i and EK_OP_HOOK(NUM_OPS) after the last one; the
# marker is defined by the driver
HOOK = "EK_OP_HOOK(op_index)=do { extern volatile int ek_memtrace_op; ek_memtrace_op = (op_index); } while (0)"


@dataclass(frozen=True)
class Measured:
    """One declaration of one call, and what the C did to that input and output."""

    op_index: int
    function: str
    input: int  # the declaration's input number
    declared: int  # the declared lead (bytes)
    events: tuple[tuple[bool, int, int], ...]  # (is_write, start, end), tensor-relative, program order
    input_writes: int  # stores to the input's bytes (a kernel that declares an overlap makes none)
    output_bytes: int

    @property
    def lead(self) -> int:
        """The measured lead: the smallest lead at which no write lands on an input byte read
        after it."""
        return events_lead(list(self.events))

    @property
    def reads(self) -> int:
        return sum(not w for w, _, _ in self.events)

    @property
    def writes(self) -> int:
        return sum(w for w, _, _ in self.events)

    def unwritten_output_bytes(self) -> int:
        """Output bytes no store reached (0 for a kernel that computes its whole output)."""
        hit = np.zeros(self.output_bytes, bool)
        for is_write, start, end in self.events:
            if is_write:
                hit[start:end] = True
        return int((~hit).sum())


@contextlib.contextmanager
def declarations_withheld():
    """Generate as if no kernel declared an overlap: the planner then keeps every output apart
    from the inputs it reads. The calls keep their declarations (``gen.calls``)."""
    real = codegen_module.op_memory

    def without_overlaps(calls):
        return {k: dataclasses.replace(m, overlaps=()) for k, m in real(calls).items()}

    with mock.patch.object(codegen_module, "op_memory", without_overlaps):
        yield


def generate_apart(graph: Graph, out_dir: Path, target=None) -> GeneratedModel:
    """``generate`` with every output apart from the inputs (``declarations_withheld``), whole
    tensors only: every operator's call runs once on its whole input and output."""
    from edgekit.codegen.core import HOST

    with declarations_withheld():
        return generate(graph, out_dir, target=dataclasses.replace(target or HOST, stream=False))


def _driver(gen: GeneratedModel) -> str:
    """A runner that reads the inputs from stdin, prints the arena's and the marker's addresses,
    and runs one inference."""
    p, P = gen.prefix, gen.prefix.upper()
    bufs = [f"static {io.c_type} {io.c_name}[{P}_{io.c_name.upper()}_SIZE];" for io in (*gen.inputs, *gen.outputs)]
    reads = [f"    if (fread({io.c_name}, 1, sizeof {io.c_name}, stdin) != sizeof {io.c_name}) return 2;"
             for io in gen.inputs]
    args = ", ".join(io.c_name for io in (*gen.inputs, *gen.outputs))
    return "\n".join([
        "#include <stdio.h>", f'#include "{p}.h"', "volatile int ek_memtrace_op = -1;", *bufs,
        "int main(void)", "{", *reads,
        f'    printf("%p %p\\n", (void *){p}_arena, (void *)&ek_memtrace_op);',
        "    fflush(stdout);", f"    {p}_invoke({args});", "    return 0;", "}", ""])


def build_traced(gen: GeneratedModel, work: Path, runtime_lib: Path | None) -> Path:
    """The model and the driver compiled at ``OPT`` with the marker hook, linked with
    ``runtime_lib`` (the kernels built at ``OPT`` without sanitizers), or with None the kernels
    the generator copied into ``gen.out_dir / "ek"``. Linked statically: the dynamic loader's
    accesses would otherwise be most of the trace."""
    main_c = work / "memtrace_main.c"
    main_c.write_text(_driver(gen))
    sources = gen.sources if runtime_lib is None else [*sorted(gen.out_dir.glob("*.c")), runtime_lib]
    exe = work / "model_traced"
    cmd = [shutil.which("gcc") or "gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", OPT, "-static", f"-D{HOOK}",
           *[f"-I{d}" for d in gen.include_dirs], *map(str, sources), str(main_c), "-o", str(exe), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"traced build failed: {proc.stderr}")
    return exe


def trace_ops(exe: Path, gen: GeneratedModel, sample: list[np.ndarray], work: Path
              ) -> list[list[tuple[str, int, int]]]:
    """Run ``exe`` once on ``sample`` under lackey. Per operator (model.c's order), its loads
    ('L'), stores ('S') and modifies ('M') that touch the arena, as arena offsets [start, end),
    in program order."""
    log = work / "lackey.log"
    stdin = b"".join(np.ascontiguousarray(x, dtype=io.tensor.dtype.numpy).tobytes()
                     for io, x in zip(gen.inputs, sample))
    proc = subprocess.run([VALGRIND, "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", str(exe)],
                          input=stdin, capture_output=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"traced run exited with {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    arena, marker = (int(v, 16) for v in proc.stdout.split())
    top = arena + gen.arena_bytes
    segments: list[list[tuple[str, int, int]]] = []
    current = None  # None until the first marker store: the runner's input copies come before it
    with open(log) as f:
        for line in f:
            if line[0] != " ":  # "I  addr,size" instructions, "==pid==" valgrind's messages
                continue
            kind = line[1]
            addr, size = line[3:].split(",")
            a = int(addr, 16)
            if a == marker and kind == "S":
                current = []
                segments.append(current)
                continue
            if current is None or a >= top:
                continue
            e = a + int(size)
            if e > arena:
                current.append((kind, a - arena, e - arena))
    log.unlink()  # tens of megabytes for the larger cases
    if len(segments) != len(gen.calls) + 1:
        raise AssertionError(f"{len(segments)} marker stores for {len(gen.calls)} operators")
    return segments[:-1]  # the last one: the runner's output copies


def attribute(accesses: list[tuple[str, int, int]], x: tuple[int, int], y: tuple[int, int]
              ) -> tuple[list[tuple[bool, int, int]], int]:
    """The events of one operator for input bytes ``x`` and output bytes ``y`` (arena ranges
    [start, end)): loads from the input as reads, stores to the output as writes, relative to
    each tensor's start and clipped to it; and the number of stores to the input."""
    events, input_writes = [], 0
    (xs, xe), (ys, ye) = x, y
    for kind, s, e in accesses:
        a, b = max(s, xs), min(e, xe)
        if a < b:
            if kind != "S":  # L, or M (a load, then a store)
                events.append((False, a - xs, b - xs))
            if kind != "L":
                input_writes += 1
        a, b = max(s, ys), min(e, ye)
        if a < b and kind != "L":
            events.append((True, a - ys, b - ys))
    return events, input_writes


def measure(graph: Graph, work: Path, runtime_lib: Path | None, target=None, seed: int = 0) -> list[Measured]:
    """Every overlap declaration of ``graph``'s calls for ``target``, with what the C does
    (``generate_apart``, then ``measure_generated``)."""
    return measure_generated(generate_apart(graph, work / "model", target), work, runtime_lib, seed)


def measure_generated(gen: GeneratedModel, work: Path, runtime_lib: Path | None, seed: int = 0) -> list[Measured]:
    """Every overlap declaration of ``gen``'s calls, with what the C does: compiled
    (``build_traced``) and run once under lackey on seeded random inputs."""
    exe = build_traced(gen, work, runtime_lib)
    per_op = trace_ops(exe, gen, random_inputs(gen.graph, 1, seed)[0], work)
    out = []
    for call, accesses in zip(gen.calls, per_op):
        for decl in call.overlaps:
            x, y = (gen.graph.tensors[t] for t in (call.op.inputs[decl.input], call.op.outputs[decl.output]))
            xs, ys = gen.plan.offset_of_tensor(x.index), gen.plan.offset_of_tensor(y.index)
            xr, yr = (xs, xs + x.nbytes), (ys, ys + y.nbytes)
            if xr[0] < yr[1] and yr[0] < xr[1]:
                raise AssertionError(f"op {call.op.index}: the plan overlaps input {xr} and output {yr}; "
                                     "the accesses cannot be told apart")
            events, input_writes = attribute(accesses, xr, yr)
            out.append(Measured(call.op.index, call.function, decl.input, decl.lead, tuple(events),
                                input_writes, y.nbytes))
    return out

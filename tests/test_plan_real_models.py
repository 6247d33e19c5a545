"""The four MLPerf Tiny models with the overlapped, reordered plan.

Every operator's output is compared, byte for byte, with a build whose plan has no overlap at
all: the arena is dumped before each operator (through the generated code's EK_OP_HOOK) under
ASan and UBSan, and each tensor is read back at its planned offset right after the operator that
wrote it. The final outputs are compared with tflite-micro. Plus the RAM numbers the planner
must reach against TFLM's arena.
"""

from __future__ import annotations

import dataclasses

import json

import numpy as np
import pytest

import edgekit.codegen as codegen
from edgekit.frontend import reference
from edgekit.cli import main as cli_main
from edgekit.codegen.core import HOST
from edgekit.codegen import generate
from edgekit.ir import read_tflite
from edgekit.plan import OpMemory
from edgekit.target.host import build_host_runner, random_inputs, run_host

from conftest import REAL_MODELS

DUMP_HOOK = ("EK_OP_HOOK(i)=do { extern void ek_test_dump(int, const void *, unsigned long); "
             "ek_test_dump((i), model_arena, sizeof model_arena); } while (0)")

DUMP_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void ek_test_dump(int op, const void *arena, unsigned long n)
{
    static FILE *f;
    if (!f) {
        f = fopen(getenv("EK_DUMP"), "wb");
    }
    int32_t k = op;
    fwrite(&k, sizeof k, 1, f);
    fwrite(arena, 1, n, f);
    fflush(f);
}
"""


def build_dumping(gen, work, monkeypatch):
    """The generated model with a hook that appends (op index, arena) to $EK_DUMP."""
    from edgekit.target import toolchain

    work.mkdir(parents=True, exist_ok=True)
    (work / "dump.c").write_text(DUMP_C)
    real = toolchain.compile_host

    def with_hook(sources, include_dirs, exe, opt="-O2", sanitize=False, defines=()):
        return real([*sources, work / "dump.c"], include_dirs, exe, opt=opt, sanitize=sanitize,
                    defines=[*defines, DUMP_HOOK])

    with monkeypatch.context() as m:
        m.setattr(toolchain, "compile_host", with_hook)
        return build_host_runner(gen, work, sanitize=True, opt="-O1")


def run_dumping(exe, gen, samples, dump, monkeypatch):
    monkeypatch.setenv("EK_DUMP", str(dump))
    outs = run_host(exe, gen.inputs, gen.outputs, samples)
    raw = dump.read_bytes()
    rec = 4 + gen.arena_bytes
    assert len(raw) % rec == 0
    snaps = [(int(np.frombuffer(raw[i:i + 4], np.int32)[0]), raw[i + 4:i + rec])
             for i in range(0, len(raw), rec)]
    return outs, snaps


def tensors_after_each_op(gen, snaps, n_samples):
    """{(sample, tensor): bytes} of every operator output, read right after its operator."""
    graph, plan = gen.graph, gen.plan
    n = len(graph.ops)
    per_sample = n + 1
    assert len(snaps) == per_sample * n_samples
    got = {}
    for s in range(n_samples):
        for op in graph.ops:
            idx, arena = snaps[s * per_sample + op.index + 1]
            assert idx == op.index + 1
            for t in op.outputs:
                off = plan.offset_of_tensor(t)
                got[(s, t)] = arena[off:off + graph.tensors[t].nbytes]
    return got


def _no_overlap(calls):
    return {c.op.index: OpMemory(c.alias_input, c.scratch_bytes) for c in calls}


@pytest.mark.parametrize("name", REAL_MODELS)
def test_every_operator_output_equals_the_no_overlap_build(name, mlperf_models, tmp_path, monkeypatch):
    path = mlperf_models / f"{name}.tflite"
    graph = read_tflite(path)
    samples = random_inputs(graph, 2, seed=11)

    whole = dataclasses.replace(HOST, stream=False)  # every operator's output is a tensor in the arena
    packed = generate(graph, tmp_path / "packed" / "model", target=whole)
    with monkeypatch.context() as m:
        m.setattr(codegen, "op_memory", _no_overlap)
        plain = generate(graph, tmp_path / "plain" / "model", reorder_ops=False, target=whole)
    assert plain.plan.shared == ()
    assert packed.arena_bytes < plain.arena_bytes or name == "ad01_int8"

    results = {}
    for label, gen in (("packed", packed), ("plain", plain)):
        exe = build_dumping(gen, tmp_path / label, monkeypatch)
        outs, snaps = run_dumping(exe, gen, samples, tmp_path / label / "dump.bin", monkeypatch)
        results[label] = (outs, tensors_after_each_op(gen, snaps, len(samples)))
    (outs_a, ta), (outs_b, tb) = results["packed"], results["plain"]
    assert ta.keys() == tb.keys()
    for key in ta:
        assert ta[key] == tb[key], f"sample {key[0]}: tensor {key[1]} differs"
    want = reference.run_tflm(path.read_bytes(), samples)
    for o, w in zip(outs_a, want):
        for a, b in zip(o, w):
            np.testing.assert_array_equal(a, b.reshape(a.shape))


TFLM_RATIO = 0.60


@pytest.mark.parametrize("name", REAL_MODELS)
def test_arena_is_at_most_060_of_tflm(name, mlperf_models, tmp_path, capsys):
    path = mlperf_models / f"{name}.tflite"
    gen = generate(read_tflite(path), tmp_path / "gen")
    tflm = reference.tflm_arena_bytes(path.read_bytes())
    assert gen.arena_bytes <= TFLM_RATIO * tflm, (gen.arena_bytes, tflm)
    assert gen.arena_bytes >= gen.plan.lower_bound
    header = (tmp_path / "gen" / "model.h").read_text()
    assert f"#define MODEL_ARENA_BYTES {gen.arena_bytes}\n" in header
    # `edgekit plan` reports the arena that `generate` uses
    assert cli_main(["plan", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["arena_bytes"] == gen.arena_bytes
    assert doc["lower_bound_bytes"] == gen.plan.lower_bound
    assert doc["unplanned_kernels"] == []


def test_scratch_that_sets_the_arena_takes_a_lean_kernel(mlperf_models, tmp_path):
    """ad01 on a Cortex-M4: the DSP fully connected kernel's widened input (1,280 bytes for its
    640-wide first layer) would be the arena's peak, and then the last layer's (256 bytes beside
    its 640-byte output): those two take the kernel without scratch, the eight others keep it, and
    the DSP arena is no larger than the portable one; with lean_kernels=False it is larger."""
    import dataclasses

    from edgekit.codegen.core import target_for_cpu

    graph = read_tflite(mlperf_models / "ad01_int8.tflite")
    m4 = target_for_cpu("cortex-m4")
    dsp = generate(graph, tmp_path / "dsp", target=m4)
    portable = generate(graph, tmp_path / "portable")
    scratch = generate(graph, tmp_path / "scratch", target=dataclasses.replace(m4, lean_kernels=False))
    lean = [c.op.index for c in dsp.calls if c.function == "ek_fully_connected_lean_dsp_s8"]
    assert lean == [0, 9], [c.function for c in dsp.calls]
    assert {c.function for c in dsp.calls[1:9]} <= {"ek_fully_connected_dsp_s8", "ek_fully_connected_s8"}
    assert dsp.plan.arena_bytes <= portable.plan.arena_bytes < scratch.plan.arena_bytes
    assert scratch.calls[0].scratch_bytes >= 1280
    planned = codegen.plan_model(graph, m4)  # `edgekit plan --board` and `report` plan the same kernels
    assert planned.lean_ops == frozenset({0, 9}) and planned.plan.arena_bytes == dsp.plan.arena_bytes

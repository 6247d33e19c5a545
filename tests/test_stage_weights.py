"""--stage-weights: an operator's weights copied into its scratch in the arena just before it runs,
where its kernel reads them many times (``codegen/placement.py``); the default on a board whose flash
has wait states.

The copies are made by the generated code (one ``memcpy`` per array, then the call, whose parameters
point at the copy); the arrays stay ``const`` in flash; the plan's arena holds the copies; outputs do
not change (host under ASan/UBSan, tflite-micro), and on nucleo-l4r5zi's memory system the same model
stalls less.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest

from edgekit.cli import main
from edgekit.codegen import generate, op_memory
from edgekit.codegen.stream import arena_with
from edgekit.codegen.core import RAM_WEIGHTS_ALL, STAGE_WEIGHTS_WAIT_STATES, target_for_cpu
from edgekit.codegen.placement import STAGE_MIN_USES, uses_per_byte
from edgekit.errors import ExitCode
from edgekit.ir import parse_tflite
from edgekit.target.boards import load_board

DSP = target_for_cpu("cortex-m4", stream=False)  # whole tensors: operators in streamed segments are not staged
ALL = dataclasses.replace(DSP, stage_weights=RAM_WEIGHTS_ALL)


@pytest.fixture(scope="module")
def conv_and_dense() -> bytes:
    """Two convolutions on a 12x12 map (each weight used 144 times, read once per block of four
    pixels) and a dense layer on the flattened output (each weight used once)."""
    import keras

    from opmodels import keras_graph

    def build(x):
        y = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        y = keras.layers.Conv2D(16, 1, activation="relu")(y)
        return keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.MaxPooling2D(4)(y)))

    return keras_graph(build, [(12, 12, 4)], seed=73)


def _arrays(gen, kind: str) -> dict[int, list]:
    return {c.op.index: c.arrays for c in gen.calls if c.op.type_name == kind}


def test_operators_that_read_their_weights_many_times_are_staged(conv_and_dense, tmp_path):
    graph = parse_tflite(conv_and_dense, name="m")
    flash = generate(graph, tmp_path / "flash", target=DSP)
    staged = generate(graph, tmp_path / "staged", target=ALL)
    convs, dense = _arrays(flash, "CONV_2D"), _arrays(flash, "FULLY_CONNECTED")
    assert len(convs) == 2 and len(dense) == 1
    uses = uses_per_byte(flash.graph, list(flash.calls))
    assert all(uses[a.name] >= STAGE_MIN_USES for arrays in convs.values() for a in arrays)
    assert all(uses[a.name] < STAGE_MIN_USES for arrays in dense.values() for a in arrays)

    before = {c.op.index: c.scratch_bytes for c in flash.calls}
    after = {c.op.index: c.scratch_bytes for c in staged.calls}
    for op, arrays in convs.items():  # the kernel's scratch (rounded to 8), then each array (rounded to 8)
        assert after[op] == -(-before[op] // 8) * 8 + sum(-(-a.nbytes // 8) * 8 for a in arrays)
    assert all(after[op] == before[op] for op in before if op not in convs)
    assert staged.arena_bytes > flash.arena_bytes
    assert staged.weight_bytes == flash.weight_bytes and staged.ram_weight_bytes == 0
    meta = json.loads((tmp_path / "staged" / "metadata.json").read_text())
    assert meta["staged_operators"] == sorted(convs) and flash.staged_ops == ()
    assert meta["staged_weight_bytes"] == sum(a.nbytes for arrays in convs.values() for a in arrays)

    source = (tmp_path / "staged" / "model.c").read_text()
    for op, arrays in convs.items():
        for a in arrays:
            copy = re.search(rf"^    memcpy\(S{op} \+ (\d+), model_{a.name}, {a.nbytes}\);", source, re.M)
            assert copy, a.name
            assert f"(const {a.c_type} *)(S{op} + {copy.group(1)})" in source  # what the parameters point at
    for arrays in dense.values():
        assert not any(f"model_{a.name}," in line for a in arrays for line in source.splitlines() if "memcpy" in line)
    weights = (tmp_path / "staged" / "model_weights.c").read_text()
    assert all(re.search(rf"^const \w+ model_{a.name}\[", weights, re.M)
               for c in staged.calls for a in c.arrays)  # still in flash
    assert "memcpy" not in (tmp_path / "flash" / "model.c").read_text().split("_run(void)")[1].split("_invoke(")[0]


def test_the_budget_bounds_the_arenas_growth_and_ram_weights_are_not_staged(conv_and_dense, tmp_path):
    graph = parse_tflite(conv_and_dense, name="m")
    flash = generate(graph, tmp_path / "flash", target=DSP)
    every = generate(graph, tmp_path / "all", target=ALL)
    growth = every.arena_bytes - flash.arena_bytes
    assert growth > 0
    convs = set(_arrays(flash, "CONV_2D"))
    staged = {}
    for budget in (0, 1, growth - 1, growth):
        gen = generate(graph, tmp_path / str(budget), target=dataclasses.replace(DSP, stage_weights=budget))
        assert flash.arena_bytes <= gen.arena_bytes <= flash.arena_bytes + budget
        staged[budget] = {c.op.index for c, b in zip(gen.calls, flash.calls) if c.scratch_bytes != b.scratch_bytes}
    assert staged[0] == set() and staged[growth] == convs and staged[growth - 1] < convs
    gen = generate(graph, tmp_path / "ram", target=dataclasses.replace(ALL, ram_weights=RAM_WEIGHTS_ALL))
    assert [c.scratch_bytes for c in gen.calls] == [c.scratch_bytes for c in flash.calls]
    assert "memcpy(S" not in (tmp_path / "ram" / "model.c").read_text()


def test_an_arena_limit_the_copies_do_not_fit_stages_nothing(conv_and_dense, tmp_path, capsys):
    graph = parse_tflite(conv_and_dense, name="m")
    flash = generate(graph, tmp_path / "flash", target=DSP)
    staged = generate(graph, tmp_path / "staged", target=ALL)
    assert staged.arena_bytes > flash.arena_bytes
    fitted = generate(graph, tmp_path / "fitted", target=ALL, ram_limit=flash.arena_bytes)
    assert fitted.arena_bytes == flash.arena_bytes
    assert "memcpy(S" not in (tmp_path / "fitted" / "model.c").read_text()
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_and_dense)
    assert main(["plan", str(path), "--board", "nucleo-l4r5zi", "--no-stream", "--json",
                 "--arena-limit", str(flash.arena_bytes)]) == 0
    assert json.loads(capsys.readouterr().out)["arena_bytes"] == flash.arena_bytes


def test_staged_outputs_equal_tflite_micro(conv_and_dense, runtime_lib, tmp_path):
    from edgekit.target.host import random_inputs

    from opmodels import assert_generated_bit_exact

    gen = generate(parse_tflite(conv_and_dense, name="m"), tmp_path / "model", target=ALL)
    assert "memcpy(S" in (tmp_path / "model" / "model.c").read_text()
    assert_generated_bit_exact(gen, conv_and_dense, runtime_lib, tmp_path, random_inputs(gen.graph, 4, 9))


def test_boards_with_flash_wait_states_stage_by_default(conv_and_dense, tmp_path, capsys):
    assert load_board("nucleo-l4r5zi").target().stage_weights == STAGE_WEIGHTS_WAIT_STATES
    assert load_board("qemu-mps2-an386").target().stage_weights == 0  # zero wait-state memory
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_and_dense)
    arenas, staged = {}, {}
    for name, extra in (("default", []), ("off", ["--stage-weights", "0"]), ("an386", None)):
        board = "qemu-mps2-an386" if extra is None else "nucleo-l4r5zi"
        assert main(["plan", str(path), "--board", board, "--json", "--no-stream", *(extra or [])]) == 0
        doc = json.loads(capsys.readouterr().out)
        arenas[name], staged[name] = doc["arena_bytes"], doc["staged_weights"]
    assert arenas["default"] > arenas["off"] == arenas["an386"]
    assert len(staged["default"]) == 2 and staged["off"] == staged["an386"] == []  # the two convolutions
    assert main(["plan", str(path), "--board", "nucleo-l4r5zi", "--no-stream"]) == 0
    assert "staged weights (--stage-weights): 2 operators" in capsys.readouterr().out
    for bad in ("-1", "lots"):
        with pytest.raises(SystemExit) as done:
            main(["generate", str(path), "-o", str(tmp_path / "g"), "--stage-weights", bad])
        assert done.value.code == ExitCode.ERROR
        assert "--stage-weights" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_staged_weights_stall_less_on_nucleo_l4r5zi(conv_and_dense, tmp_path, capsys):
    """On nucleo-l4r5zi's memory system (the emulated Cortex-M4 running its kernels): the staged build
    stalls on flash less and takes fewer cycles, its outputs equal tflite-micro's, its arena is larger
    and its flash weights the same."""
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_and_dense)
    runs = {}
    for name, extra in (("staged", []), ("flash", ["--stage-weights", "0"])):
        assert main(["deploy", str(path), "--board", "nucleo-l4r5zi", "--emulate", "--samples", "2", "--json",
                     "--no-stream", "-o", str(tmp_path / name), *extra]) == 0
        runs[name] = json.loads(capsys.readouterr().out)
    assert all(r["profile"]["passed"] for r in runs.values())
    cycles = {k: r["profile"]["estimated_cycles"]["total"] for k, r in runs.items()}
    assert cycles["staged"]["memory_cycles"] < 0.8 * cycles["flash"]["memory_cycles"]  # 0.67 when written
    assert cycles["staged"]["estimated_cycles"] < cycles["flash"]["estimated_cycles"]
    sizes = {k: r["build"]["sizes"] for k, r in runs.items()}
    assert sizes["staged"]["ram_arena_bytes"] > sizes["flash"]["ram_arena_bytes"]
    assert sizes["staged"]["flash_weights_bytes"] == sizes["flash"]["flash_weights_bytes"]
    assert sizes["staged"]["ram_weights_bytes"] == 0


def test_a_streamed_segment_stages_into_its_block_before_its_loop(mlperf_models, runtime_lib, tmp_path):
    """vww on nucleo-l4r5zi's target streams ops 2-3; their weights are copied into their stages' state
    in the segment's block before the loop (the arena has room for them there: it does not grow), the
    calls in the loop read the copies, and the outputs equal tflite-micro's (host, ASan/UBSan)."""
    from edgekit.target.host import random_inputs

    from opmodels import assert_generated_bit_exact

    model = (mlperf_models / "vww_96_int8.tflite").read_bytes()
    target = load_board("nucleo-l4r5zi").target()
    gen = generate(parse_tflite(model, name="vww"), tmp_path / "model", target=target)
    source = (tmp_path / "model" / "model.c").read_text()
    copies = re.findall(r"^        memcpy\(SEG(\d+) \+ (\d+), model_(\w+), (\d+)\);", source, re.M)
    assert copies and gen.segments
    for k, off, name, n in copies:
        seg = gen.segments[int(k)]
        loop = source.index("for (int32_t s = 1;", source.index(f"memcpy(SEG{k} + {off}, model_{name}"))
        assert source.index(f"memcpy(SEG{k} + {off}") < loop  # once, before the loop
        assert re.search(rf"\(const \w+ \*\)\(SEG{k} \+ {off}\)", source)  # the call's parameters point there
        owner = next(i for i, st in enumerate(seg.stages) if name.startswith(f"op{st.op}_"))
        assert seg.state_offsets[owner] <= int(off) and int(off) + int(n) <= seg.block_bytes
    unstaged = generate(parse_tflite(model, name="vww"), tmp_path / "flash",
                        target=dataclasses.replace(target, stage_weights=0))
    assert [s.ops for s in gen.segments] == [s.ops for s in unstaged.segments]
    # the same calls with the segments' blocks as they were without copies: the same arena
    assert arena_with(gen.graph, op_memory(list(gen.calls)), list(unstaged.segments)) == gen.arena_bytes
    assert sum(s.block_bytes for s in gen.segments) > sum(s.block_bytes for s in unstaged.segments)

    assert_generated_bit_exact(gen, model, runtime_lib, tmp_path, random_inputs(gen.graph, 2, 3))


def test_a_segment_with_stages_made_over_in_place_stages_too(mlperf_models, runtime_lib, tmp_path):
    """resnet on nucleo-l4r5zi's target: its streamed segment's two ADDs make a branch's rows over in
    place (one in its row buffer, one in the whole output); planned again with the copies as its
    stages' state, the segment keeps them, and the outputs equal tflite-micro's (host, ASan/UBSan)."""
    from edgekit.target.host import random_inputs

    from opmodels import assert_generated_bit_exact

    model = (mlperf_models / "pretrainedResnet_quant.tflite").read_bytes()
    target = load_board("nucleo-l4r5zi").target()
    gen = generate(parse_tflite(model, name="resnet"), tmp_path / "model", target=target)
    unstaged = generate(parse_tflite(model, name="resnet"), tmp_path / "flash",
                        target=dataclasses.replace(target, stage_weights=0))
    (seg,), (plain,) = gen.segments, unstaged.segments
    assert len(seg.aliases) == 2 and seg.aliases == plain.aliases and seg.buffers == plain.buffers
    source = (tmp_path / "model" / "model.c").read_text()
    assert re.findall(r"^        memcpy\(SEG0 \+ \d+, model_op\d+_\w+, \d+\);", source, re.M)
    assert any(o >= 0 for o in seg.state_offsets) and seg.block_bytes > plain.block_bytes
    assert_generated_bit_exact(gen, model, runtime_lib, tmp_path, random_inputs(gen.graph, 2, 3))


def test_a_board_that_stages_keeps_whole_tensors_where_staging_takes_back_what_streaming_saved(mlperf_models,
                                                                                                 tmp_path):
    """kws streams on the default board (no wait states: nothing staged); on nucleo-l4r5zi the
    whole-tensor plan with each operator's copies needs less arena than the streamed one, whose
    segment keeps all its stages' copies for its whole loop: kws stays whole there, staged (it was
    1.29x the cycles streamed). vww still streams there, with less arena than whole."""
    from edgekit.codegen import plan_model
    from edgekit.ir import read_tflite

    kws = read_tflite(mlperf_models / "kws_ref_model.tflite")
    assert plan_model(kws, load_board("qemu-mps2-an386").target()).segments
    nucleo = load_board("nucleo-l4r5zi").target()
    kept = plan_model(kws, nucleo)
    assert not kept.segments and kept.staged
    streamed = plan_model(kws, dataclasses.replace(nucleo, stage_weights=0))
    assert streamed.segments  # streaming is not what the board refuses: staging is what it keeps
    gen = generate(kws, tmp_path / "kws", target=nucleo)
    assert not gen.segments and gen.staged_ops and gen.arena_bytes == kept.plan.arena_bytes
    vww = plan_model(read_tflite(mlperf_models / "vww_96_int8.tflite"), nucleo)
    assert vww.segments and vww.staged

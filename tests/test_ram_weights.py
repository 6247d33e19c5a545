"""--ram-weights: the most-read constant arrays copied to RAM at start-up (``codegen/placement.py``).

The arrays chosen are emitted without ``const`` (``.data``: their image stays in flash, the start-up
code copies them), the rest stay ``const`` in flash; the outputs do not change (host, tflite-micro),
and on a board whose flash has wait states the same kernels stall less (nucleo-l4r5zi's memory
system on the emulated Cortex-M4).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest

from edgekit.cli import main
from edgekit.codegen import generate
from edgekit.codegen.core import RAM_WEIGHTS_ALL, target_for_cpu
from edgekit.codegen.placement import ram_arrays, uses_per_byte
from edgekit.errors import ExitCode
from edgekit.ir import parse_tflite

DSP = target_for_cpu("cortex-m4")


@pytest.fixture(scope="module")
def conv_and_dense() -> bytes:
    """A 3x3 convolution on a 16x16 map (each weight used 256 times) and a dense layer on its
    flattened output (each weight used once)."""
    import keras

    from opmodels import keras_graph

    def build(x):
        y = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        return keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.MaxPooling2D(4)(y)))

    return keras_graph(build, [(16, 16, 4)], seed=71)


def _arrays_of(gen, kind: str) -> dict[str, int]:
    return {a.name: a.nbytes for c in gen.calls if c.op.type_name == kind for a in c.arrays}


def test_the_most_used_arrays_go_first_within_the_budget(conv_and_dense, tmp_path):
    graph = parse_tflite(conv_and_dense, name="m")
    whole = generate(graph, tmp_path / "flash", target=DSP)
    conv, dense = _arrays_of(whole, "CONV_2D"), _arrays_of(whole, "FULLY_CONNECTED")
    assert conv and dense and whole.ram_weight_bytes == 0 and not whole.ram_arrays
    uses = uses_per_byte(whole.graph, list(whole.calls))
    assert min(uses[n] for n in conv) > 10 * max(uses[n] for n in dense)

    budget = sum(conv.values()) + min(dense.values()) - 1  # the convolution's arrays, not one of the dense's
    gen = generate(graph, tmp_path / "conv", target=dataclasses.replace(DSP, ram_weights=budget))
    assert gen.ram_arrays == frozenset(conv) and gen.ram_weight_bytes == sum(conv.values())
    smallest = min({**conv, **dense}.values())
    assert ram_arrays(whole.graph, list(whole.calls), smallest - 1) == frozenset()
    # a budget the hottest arrays do not fit is spent on the next ones that do
    (picked,) = ram_arrays(whole.graph, list(whole.calls), smallest)
    assert {**conv, **dense}[picked] == smallest

    every = generate(graph, tmp_path / "all", target=dataclasses.replace(DSP, ram_weights=RAM_WEIGHTS_ALL))
    assert every.ram_arrays == frozenset(conv) | frozenset(dense)
    assert every.ram_weight_bytes == every.weight_bytes
    assert json.loads((tmp_path / "all" / "metadata.json").read_text())["ram_weight_bytes"] == every.weight_bytes


def test_arrays_in_ram_are_not_const_and_the_outputs_do_not_change(conv_and_dense, runtime_lib, tmp_path):
    from edgekit.target.host import random_inputs

    from opmodels import assert_generated_bit_exact

    graph = parse_tflite(conv_and_dense, name="m")
    whole = generate(graph, tmp_path / "flash", target=DSP)
    dense = _arrays_of(whole, "FULLY_CONNECTED")
    gen = generate(graph, tmp_path / "model",
                   target=dataclasses.replace(DSP, ram_weights=whole.weight_bytes - sum(dense.values())))
    assert gen.ram_arrays and not gen.ram_arrays & dense.keys()
    source = (tmp_path / "model" / "model_weights.c").read_text()
    header = (tmp_path / "model" / "model_weights.h").read_text()
    for name in (a.name for c in gen.calls for a in c.arrays):
        const = "" if name in gen.ram_arrays else "const "
        assert re.search(rf"^{const}\w+ model_{name}\[", source, re.M), name
        assert re.search(rf"^extern {const}\w+ model_{name}\[", header, re.M), name
    assert f"{gen.ram_weight_bytes} bytes (the arrays read most often" in (tmp_path / "model" / "model.h").read_text()

    assert_generated_bit_exact(gen, conv_and_dense, runtime_lib, tmp_path, random_inputs(gen.graph, 3, 5))


def test_ram_weights_must_be_bytes_or_all(conv_and_dense, tmp_path, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(conv_and_dense)
    for bad in ("-1", "lots"):
        with pytest.raises(SystemExit) as done:
            main(["generate", str(path), "-o", str(tmp_path / "g"), "--ram-weights", bad])
        assert done.value.code == ExitCode.ERROR
        assert "--ram-weights" in capsys.readouterr().err
    assert main(["generate", str(path), "-o", str(tmp_path / "g"), "--board", "qemu-mps2-an386",
                 "--ram-weights", "all"]) == 0
    assert "in RAM" in (tmp_path / "g" / "model_weights.c").read_text()


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_weights_in_ram_stall_less_on_a_board_with_flash_wait_states(mlperf_models, tmp_path, capsys):
    """ad01 (fully connected layers, 270 KB of weights) on nucleo-l4r5zi's memory system: with every
    array in RAM the same instructions take fewer cycles (no flash wait states on the weights), the
    outputs still equal tflite-micro's, the flash image is the same size and RAM holds the weights."""
    model = str(mlperf_models / "ad01_int8.tflite")
    runs = {}
    for ram in ("0", "all"):
        assert main(["deploy", model, "--board", "nucleo-l4r5zi", "--emulate", "--samples", "2", "--json",
                     "-o", str(tmp_path / ram), "--ram-weights", ram]) == 0
        runs[ram] = json.loads(capsys.readouterr().out)
    flash, ram = (runs[k] for k in ("0", "all"))
    assert ram["profile"]["passed"] and flash["profile"]["passed"]
    cycles = {k: r["profile"]["estimated_cycles"]["total"] for k, r in runs.items()}
    assert cycles["all"]["instructions"] == cycles["0"]["instructions"]
    assert cycles["all"]["memory_cycles"] < 0.5 * cycles["0"]["memory_cycles"]
    assert cycles["all"]["estimated_cycles"] < cycles["0"]["estimated_cycles"]
    sizes = {k: r["build"]["sizes"] for k, r in runs.items()}
    assert sizes["0"]["ram_weights_bytes"] == 0
    assert sizes["all"]["ram_weights_bytes"] == sizes["all"]["flash_weights_bytes"] > 250_000
    assert sizes["all"]["flash_weights_bytes"] == sizes["0"]["flash_weights_bytes"]
    assert sizes["all"]["flash_bytes"] == pytest.approx(sizes["0"]["flash_bytes"], abs=64)  # code alignment
    grown = sizes["all"]["static_ram_bytes"] - sizes["0"]["static_ram_bytes"]
    assert grown == pytest.approx(sizes["all"]["ram_weights_bytes"], abs=256)  # the arrays' 16-byte alignment


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_weights_that_do_not_fit_the_boards_ram_are_one_line(mlperf_models, tmp_path, capsys):
    """ad01's 291 KB of weights do not fit the nRF52840's 256 KB of RAM: one line, with the whole RAM the
    firmware needs (the arena, the stack and the rest linked past the weights included) and how much of it
    --ram-weights put there; with a budget that fits, the build's RAM line names the weights."""
    model = str(mlperf_models / "ad01_int8.tflite")
    assert main(["build", model, "--board", "nrf52840-dk", "-o", str(tmp_path / "all"), "--ram-weights", "all"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error: ad01_int8 does not fit nrf52840-dk: RAM needs"), err
    needs = int(re.search(r"RAM needs ([\d,]+) bytes", err[0]).group(1).replace(",", ""))
    in_ram = int(re.search(r"([\d,]+) of them weights --ram-weights", err[0]).group(1).replace(",", ""))
    assert in_ram > 250_000 and needs > in_ram + 8192  # the weights, the stack reserve and the rest
    assert main(["build", model, "--board", "nrf52840-dk", "-o", str(tmp_path / "some"), "--ram-weights", "100000",
                 "--json"]) == 0
    sizes = json.loads(capsys.readouterr().out)["sizes"]
    assert 0 < sizes["ram_weights_bytes"] <= 100_000 and sizes["ram_bytes"] <= sizes["ram_limit_bytes"]

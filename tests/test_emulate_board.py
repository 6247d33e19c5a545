"""A real board's cycles without the hardware: ``profile --emulate`` runs the board's kernels on
the emulated board of its core and estimates cycles and ms with the real board's memory system
and clock."""

from __future__ import annotations

import json
import shutil

import pytest

from edgekit.cli import main
from edgekit.target.boards import BoardError, emulated_twin, load_board

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc")


def test_twin_has_the_same_core():
    assert emulated_twin(load_board("nucleo-l4r5zi")).name == "qemu-mps2-an386"
    assert emulated_twin(load_board("stm32f746g-disco")).cpu == "cortex-m7"
    with pytest.raises(BoardError, match="no emulated board"):
        emulated_twin(load_board("rpi-pico"))


def test_profile_emulate_reports_the_real_boards_cycles_and_ms(mlperf_models, tmp_path, capsys):
    model = mlperf_models / "ad01_int8.tflite"
    assert main(["profile", "--board", "nucleo-l4r5zi", "--emulate", "--model", str(model), "--samples", "1",
                 "--json"]) == 0
    flat = json.loads(capsys.readouterr().out)["estimated_cycles"]
    assert flat["board"] == "nucleo-l4r5zi" and flat["clock_hz"] == 120_000_000
    assert flat["memory"] == "nucleo-l4r5zi's memory system"
    total = flat["total"]
    assert total["memory_cycles"] > 0
    assert total["estimated_ms"] == pytest.approx(total["estimated_cycles"] / 120e3, rel=1e-3)
    assert sum(o["estimated_cycles"] for o in flat["operators"]) == total["estimated_cycles"]


def test_emulate_refuses_a_port(mlperf_models, capsys):
    assert main(["profile", "--board", "nucleo-l4r5zi", "--emulate", "--port", "/dev/null",
                 "--model", str(mlperf_models / "ad01_int8.tflite")]) == 2
    assert "drop --port" in capsys.readouterr().err


def test_kernels_run_from_ram_where_the_flash_waits(mlperf_models, tmp_path, capsys):
    """nucleo-l4r5zi's kernels are copied to its SRAM2 (the emulated twin's RAM) at reset: the same
    outputs, the same work, and no wait for the flash on their instruction fetches."""
    model = str(mlperf_models / "kws_ref_model.tflite")
    runs = {}
    for name, extra in (("ram", []), ("flash", ["--no-ram-kernels"])):
        assert main(["deploy", model, "--board", "nucleo-l4r5zi", "--emulate", "--samples", "1", "--json",
                     "-o", str(tmp_path / name), *extra]) == 0
        runs[name] = json.loads(capsys.readouterr().out)
    for r in runs.values():
        assert r["passed"] and r["profile"]["samples_equal"] == 1
    code = {n: r["build"]["sizes"]["ram_code_bytes"] for n, r in runs.items()}
    assert code["flash"] == 0 < code["ram"]
    total = {n: r["profile"]["estimated_cycles"]["total"] for n, r in runs.items()}
    assert total["ram"]["instructions"] == pytest.approx(total["flash"]["instructions"], rel=1e-3)
    assert total["ram"]["memory_cycles"] < total["flash"]["memory_cycles"]
    assert total["ram"]["estimated_cycles"] < total["flash"]["estimated_cycles"]

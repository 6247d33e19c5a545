"""``edgekit deploy`` / ``edgekit profile`` end to end on the emulated boards (QEMU).

The four MLPerf Tiny models go to qemu-mps2-an386 (Cortex-M4) and one to qemu-mps2-an500
(Cortex-M7); on the device every output must equal the tflite-micro interpreter's, for at least
5 seeded random inputs each. No hardware needed.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import REAL_MODELS, ROOT
from edgekit.frontend import reference
from edgekit.cli import main as cli
from edgekit.harness.deploy import deploy

SAMPLES = 5

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")


@pytest.fixture(scope="module", autouse=True)
def _stop_reference_pool():
    yield
    reference.shutdown()


def _check(result):
    rep = result.profile
    assert rep is not None and rep.status == "complete", rep.summary() if rep else "no profile"
    assert rep.reference == "tflite-micro", rep.reference_note
    assert rep.equal_count == len(rep.samples) >= SAMPLES, rep.summary()
    assert rep.passed
    lat = rep.latency()
    assert lat["unit"] == "instructions" and lat["median"] > 0
    ram = rep.ram()
    assert 0 < ram["stack_peak_bytes"] < ram["stack_reserve_bytes"]
    assert ram["arena_bytes"] <= ram["static_ram_bytes"]
    assert rep.flash["weight_bytes"] > 0 and rep.flash["total_bytes"] > rep.flash["weight_bytes"]


@pytest.mark.parametrize("name", REAL_MODELS)
def test_deploy_real_model_m4(name, mlperf_models, tmp_path):
    result = deploy(mlperf_models / f"{name}.tflite", "qemu-mps2-an386", samples=SAMPLES, seed=1,
                    out_dir=tmp_path / "build")
    _check(result)
    # the report on disk is the one returned
    j = json.loads((tmp_path / "build" / "profile.json").read_text())
    assert j["passed"] and j["samples_equal"] == SAMPLES and j["board"] == "qemu-mps2-an386"
    assert len(j["operators"]) == result.build_json["num_ops"]


def test_deploy_m7(mlperf_models, tmp_path):
    result = deploy(mlperf_models / "kws_ref_model.tflite", "qemu-mps2-an500", samples=SAMPLES, seed=2,
                    out_dir=tmp_path / "build")
    _check(result)
    assert result.profile.device["board"] == "qemu-mps2-an500"


def test_cli_deploy_then_profile_build_dir(mlperf_models, tmp_path, capsys):
    out = tmp_path / "b"
    assert cli(["deploy", str(mlperf_models / "ad01_int8.tflite"), "--board", "qemu-mps2-an386",
                "--samples", "5", "-o", str(out), "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["passed"] and j["profile"]["samples_equal"] == 5
    # a second run from the build folder alone: the folder records its .tflite
    assert cli(["profile", "--board", "qemu-mps2-an386", "--build", str(out), "--samples", "5",
                "--report", str(tmp_path / "p.json")]) == 0
    text = capsys.readouterr().out
    assert "PASS: 5/5 outputs equal to tflite-micro" in text and "instructions per inference" in text
    assert json.loads((tmp_path / "p.json").read_text())["status"] == "complete"


def test_cli_deploy_under_a_ram_limit_streams_and_stays_exact(mlperf_models, tmp_path, capsys):
    """kws's default firmware on the default board needs 25.6 KB of RAM; deployed under --ram-limit
    25500 its arena is planned to fit, the log says what that cost, and the device's outputs still
    equal tflite-micro's."""
    assert cli(["deploy", str(mlperf_models / "kws_ref_model.tflite"), "--board", "qemu-mps2-an386",
                "--samples", "2", "-o", str(tmp_path / "b"), "--ram-limit", "25500"]) == 0
    got = capsys.readouterr()
    assert "to fit the " in got.err + got.out and "PASS: 2/2 outputs equal to tflite-micro" in got.out
    sizes = json.loads((tmp_path / "b" / "build.json").read_text())["sizes"]
    assert sizes["ram_bytes"] <= 25_500


def test_cli_profile_wrong_model_is_one_line(mlperf_models, tmp_path, capsys):
    out = tmp_path / "b"
    from edgekit.target.build import build_firmware

    build_firmware(mlperf_models / "ad01_int8.tflite", "qemu-mps2-an386", out)
    rc = cli(["profile", "--board", "qemu-mps2-an386", "--build", str(out),
              "--model", str(mlperf_models / "kws_ref_model.tflite"), "--samples", "1"])
    err = capsys.readouterr().err
    assert rc != 0
    line = [ln for ln in err.splitlines() if ln.startswith("edgekit: error:")]
    assert len(line) == 1 and "another model" in line[0] and "kws_ref_model.tflite" in line[0]


def test_cli_deploy_keras_without_calibration_refuses_fast(mlperf_models, tmp_path, capsys):
    rc = cli(["deploy", str(mlperf_models / "ad01.h5"), "--board", "qemu-mps2-an386", "-o", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--synthetic-calib" in err and "--calib" in err


def test_cli_real_board_needs_a_port(mlperf_models, tmp_path, capsys):
    rc = cli(["profile", "--board", "nucleo-l4r5zi", "--model", str(mlperf_models / "ad01_int8.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--port" in err and err.count("\n") == 0


@pytest.mark.slow
def test_deploy_keras_with_synthetic_calibration(mlperf_models, tmp_path):
    """The whole way from Keras: ad01.h5, calibrated on random data because we ask for it."""
    result = deploy(mlperf_models / "ad01.h5", "qemu-mps2-an386", synthetic_calib=True, samples=SAMPLES,
                    out_dir=tmp_path / "build")
    assert result.converted and (tmp_path / "build" / "ad01.tflite").is_file()
    _check(result)


@pytest.mark.parametrize("content", ['[1, 2]', '{"board": 3}', '{"board": "qemu-mps2-an386", "elf": "../x",'
                                     ' "num_ops": 1, "sizes": {}}', '\u00ff\u00fe'.encode("latin-1").decode("latin-1")])
def test_cli_profile_corrupt_build_json_is_one_line(content, tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / "build.json").write_text(content, encoding="latin-1")
    (out / "firmware.elf").write_bytes(b"\x7fELF")
    rc = cli(["profile", "--board", "qemu-mps2-an386", "--build", str(out), "--samples", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("edgekit: error:") and "build.json" in err[0], err


def test_deploy_reports_accuracy_on_labelled_inputs(tmp_path, capsys):
    """The digits example (examples/digits.py), trained here: deploy runs its 30 first test images
    with their labels on the emulated M4 and reports top-1 on the device, of tflite-micro and of the
    float Keras model; device and tflite-micro agree exactly (the outputs are bit-exact)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("digits_example", ROOT / "examples" / "digits.py")
    example = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = example
    spec.loader.exec_module(example)
    trained = example.train(tmp_path, epochs=15)
    x, y = np.load(trained.calib_path), np.load(trained.labels_path)
    np.save(tmp_path / "x30.npy", x[:30])
    np.save(tmp_path / "y30.npy", y[:30])
    code = cli(["deploy", str(trained.model_path), "--board", "qemu-mps2-an386", "--calib", str(trained.calib_path),
                 "--inputs", str(tmp_path / "x30.npy"), "--labels", str(tmp_path / "y30.npy"), "--samples", "0",
                 "-o", str(tmp_path / "fw"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)["profile"]
    acc = report["accuracy"]
    assert acc["labelled"] == 30 and report["samples_run"] == 30
    assert acc["device_top1"] == acc["reference_top1"] and acc["device_top1"] > 0.8
    assert acc["float_top1"] is not None and acc["float_top1"] > 0.8
    assert abs(acc["device_top1"] - acc["float_top1"]) <= 0.1  # int8 close to float on the same inputs

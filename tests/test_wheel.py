"""edgekit as a user installs it: a wheel built from this repository, installed into a fresh
virtual environment, run from a folder outside the checkout. The wheel carries the templates,
kernels, harness and board files (edgekit.files finds them through importlib.resources), so
generate, validate, build and deploy work without the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BOARD = "qemu-mps2-an386"


def _run(cmd, cwd, timeout=600):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(edgekit command, python) of a venv holding only the wheel (its dependencies come from the
    machine's site-packages: the wheel is what is tested, not PyPI)."""
    pytest.importorskip("hatchling", reason="setup.sh installs hatchling, the build backend")
    work = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", work / "dist"],
         cwd=work)
    wheel = next((work / "dist").glob("edgekit-*.whl"))
    _run([sys.executable, "-m", "venv", "--system-site-packages", work / "venv"], cwd=work)
    bin_dir = work / "venv" / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", wheel],
         cwd=work)
    return bin_dir / "edgekit", bin_dir / "python"


def test_installed_package_is_not_the_checkout(installed, tmp_path):
    _edgekit, python = installed
    out = _run([python, "-c", "import edgekit, edgekit.files as f; print(edgekit.__file__); print(f.KERNELS)"],
               cwd=tmp_path).stdout.split()
    assert not out[0].startswith(str(ROOT)) and "site-packages" in out[0]
    kernels = Path(out[1])
    assert kernels.is_dir() and (kernels / "dsp" / "ek_conv2d_dsp.c").is_file() and not str(kernels).startswith(str(ROOT))


def test_generate_from_the_wheel_equals_the_checkout(installed, mlperf_models, tmp_path):
    edgekit, _python = installed
    model = mlperf_models / "kws_ref_model.tflite"
    _run([edgekit, "generate", model, "-o", tmp_path / "wheel", "--board", BOARD], cwd=tmp_path)
    _run([sys.executable, "-m", "edgekit.cli", "generate", model, "-o", tmp_path / "checkout", "--board", BOARD],
         cwd=ROOT)
    files = sorted(p.relative_to(tmp_path / "checkout") for p in (tmp_path / "checkout").rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        assert (tmp_path / "wheel" / rel).read_bytes() == (tmp_path / "checkout" / rel).read_bytes(), rel


def test_validate_and_deploy_from_the_wheel(installed, mlperf_models, tmp_path):
    edgekit, _python = installed
    model = mlperf_models / "ad01_int8.tflite"
    out = _run([edgekit, "validate", model, "--samples", "3"], cwd=tmp_path).stdout
    assert "PASS: bit-exact with tflite-micro" in out
    out = _run([edgekit, "deploy", model, "--board", BOARD, "--samples", "3", "-o", tmp_path / "fw"], cwd=tmp_path).stdout
    assert "PASS: 3/3 outputs equal to tflite-micro" in out
    assert (tmp_path / "fw" / "firmware.elf").is_file()


def test_two_models_exported_from_the_wheel_build_with_cmake_and_run(installed, mlperf_models, tmp_path):
    """The issue's test of a package: from the wheel, outside the checkout, two models exported
    for CMake link into one program with one runtime, and both give tflite-micro's outputs."""
    cmake = pytest.importorskip("cmake", reason="setup.sh installs CMake from PyPI")
    import numpy as np
    from test_export import cmake_app
    from test_two_models import MODELS, _expected_from

    from edgekit.ir import read_tflite

    edgekit, _python = installed
    models = {}
    for k, (prefix, name) in enumerate(MODELS.items()):
        _run([edgekit, "export", mlperf_models / name, "--format", "cmake", "-o", tmp_path / "libs" / prefix,
              "--prefix", prefix], cwd=tmp_path)
        graph = read_tflite(mlperf_models / name)
        x = np.random.default_rng(k).integers(-128, 128, graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
        models[prefix] = (graph.tensors[graph.outputs[0]].nbytes, tmp_path / "libs" / prefix, x)
    app = cmake_app(models, tmp_path / "app")
    bin_cmake = Path(cmake.CMAKE_BIN_DIR) / "cmake"
    _run([bin_cmake, "-S", app, "-B", tmp_path / "build", "-DCMAKE_C_COMPILER=gcc"], cwd=tmp_path)
    _run([bin_cmake, "--build", tmp_path / "build"], cwd=tmp_path)
    got = _run([tmp_path / "build" / "app"], cwd=tmp_path).stdout.split()
    assert got[:-1] == _expected_from(mlperf_models, models) and got[-1] == "END"

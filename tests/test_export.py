"""``edgekit export``: libraries for the build systems firmware is made with. CMake and Make
exports are built with real CMake (from PyPI) and GNU make, for the host and for arm-none-eabi,
two models sharing one runtime; Zephyr, PlatformIO and Arduino exports are checked against their
documented formats (and the Arduino one compiled with Arduino's include path: src/ only)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_two_models import MODELS, _expected_from, _main_c

from edgekit.cli import main
from edgekit.ir import read_tflite
from edgekit.target.toolchain import find_tool, run

cmake = pytest.importorskip("cmake", reason="setup.sh installs CMake from PyPI")
CMAKE = str(Path(cmake.CMAKE_BIN_DIR) / "cmake")
ARM_FLAGS = "-mcpu=cortex-m4 -mthumb -O2"


def _export(mlperf_models: Path, out: Path, fmt: str, *extra: str) -> dict:
    """Both MLPerf models exported as ``fmt`` into out/<prefix>; {prefix: (output bytes, folder, input)}."""
    models = {}
    for k, (prefix, name) in enumerate(MODELS.items()):
        code = main(["export", str(mlperf_models / name), "--format", fmt, "-o", str(out / prefix),
                     "--prefix", prefix, *extra])
        assert code == 0
        graph = read_tflite(mlperf_models / name)
        x = np.random.default_rng(k).integers(-128, 128, graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
        models[prefix] = (graph.tensors[graph.outputs[0]].nbytes, out / prefix, x)
    return models


def cmake_app(models: dict, app: Path) -> Path:
    """A CMake project that links every model's library (exported into ../libs/<prefix>) into a
    program printing their outputs (test_two_models._main_c)."""
    app.mkdir()
    _main_c(models, app / "main.c", board=False)
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        + "".join(f"add_subdirectory(../libs/{p} {p})\n" for p in models)
        + f"add_executable(app main.c)\ntarget_link_libraries(app PRIVATE {' '.join(models)})\n")
    return app


def test_cmake_export_builds_and_runs_on_the_host(mlperf_models, tmp_path):
    models = _export(mlperf_models, tmp_path / "libs", "cmake")
    app = cmake_app(models, tmp_path / "app")
    run([CMAKE, "-S", str(app), "-B", str(tmp_path / "build"), "-DCMAKE_C_COMPILER=gcc",
         "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror"], "cmake configure")
    run([CMAKE, "--build", str(tmp_path / "build")], "cmake build")
    got = run([str(tmp_path / "build" / "app")], "app").stdout.split()
    assert got[:-1] == _expected_from(mlperf_models, models) and got[-1] == "END"


def test_cmake_export_cross_compiles_for_cortex_m4(mlperf_models, tmp_path):
    models = _export(mlperf_models, tmp_path / "libs", "cmake", "--board", "qemu-mps2-an386")
    (tmp_path / "arm.cmake").write_text(
        "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_SYSTEM_PROCESSOR arm)\n"
        "set(CMAKE_C_COMPILER arm-none-eabi-gcc)\nset(CMAKE_AR arm-none-eabi-ar)\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
        f"set(CMAKE_C_FLAGS_INIT \"{ARM_FLAGS} -Wall -Wextra -Werror\")\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.13)\nproject(fw C)\n"
                                         + "".join(f"add_subdirectory(../libs/{p} {p})\n" for p in models))
    run([CMAKE, "-S", str(proj), "-B", str(tmp_path / "build"), f"-DCMAKE_TOOLCHAIN_FILE={tmp_path / 'arm.cmake'}"],
        "cmake configure")
    run([CMAKE, "--build", str(tmp_path / "build")], "cmake build")
    nm = find_tool("arm-none-eabi-nm", "apt-get install binutils-arm-none-eabi")
    readelf = find_tool("arm-none-eabi-readelf", "apt-get install binutils-arm-none-eabi")
    for prefix in models:
        lib = next((tmp_path / "build").rglob(f"lib{prefix}.a"))
        symbols = run([nm, "-g", "--defined-only", str(lib)], "nm").stdout
        assert f"{prefix}_invoke" in symbols and f"{prefix}_arena" in symbols
        assert "Machine:                           ARM" in run([readelf, "-h", str(lib)], "readelf").stdout
    runtime = next((tmp_path / "build").rglob("libedgekit_runtime.a"))
    assert "ek_conv2d_dsp_s8" in run([nm, "-g", "--defined-only", str(runtime)], "nm").stdout  # DSP kernels


def test_make_export_builds_for_the_host_and_the_m4(mlperf_models, tmp_path):
    make = find_tool("make", "apt-get install make")
    models = _export(mlperf_models, tmp_path / "libs", "make")
    # alone: make -f ad.mk builds libad.a, for the host and cross-compiled
    for cc, ar, flags in (("gcc", "ar", "-O2 -Wall -Wextra -Werror"),
                          ("arm-none-eabi-gcc", "arm-none-eabi-ar", f"{ARM_FLAGS} -Wall -Wextra -Werror")):
        folder = tmp_path / "libs" / "ad"
        run([make, "-s", "-C", str(folder), "-f", "ad.mk", "clean"], "make clean")
        run([make, "-s", "-C", str(folder), "-f", "ad.mk", f"CC={cc}", f"AR={ar}", f"CFLAGS={flags}"], f"make ({cc})")
        assert (folder / "libad.a").stat().st_size > 0
    run([make, "-s", "-C", str(tmp_path / "libs" / "ad"), "-f", "ad.mk", "clean"], "make clean")
    # in a user's Makefile, two models and one runtime
    app = tmp_path / "app"
    app.mkdir()
    _main_c(models, app / "main.c", board=False)
    (app / "Makefile").write_text(
        "".join(f"include ../libs/{p}/{p}.mk\n" for p in models)
        + "SRCS := main.c " + " ".join(f"$({p.upper()}_SRCS)" for p in models) + " $(EDGEKIT_RUNTIME_SRCS)\n"
        + "CFLAGS := -std=c99 -O2 -Wall -Wextra -Werror " + " ".join(f"$({p.upper()}_INCLUDES)" for p in models) + "\n"
        + "app: $(SRCS)\n\t$(CC) $(CFLAGS) $(SRCS) -o $@\n")
    run([make, "-s", "-C", str(app), "CC=gcc"], "make app")
    got = run([str(app / "app")], "app").stdout.split()
    assert got[:-1] == _expected_from(mlperf_models, models) and got[-1] == "END"


def test_zephyr_platformio_arduino_follow_their_formats(mlperf_models, tmp_path):
    model = str(mlperf_models / "ad01_int8.tflite")
    for fmt in ("zephyr", "platformio", "arduino"):
        assert main(["export", model, "--format", fmt, "-o", str(tmp_path / fmt), "--prefix", "ad"]) == 0
    z = tmp_path / "zephyr"
    module = yaml.safe_load((z / "zephyr" / "module.yml").read_text())
    assert module["build"]["cmake"] == "zephyr" and (z / module["build"]["kconfig"]).is_file()
    kconfig = (z / "zephyr" / "Kconfig").read_text()
    assert "config EDGEKIT_AD\n\tbool " in kconfig
    zcmake = (z / "zephyr" / "CMakeLists.txt").read_text()
    assert "if(CONFIG_EDGEKIT_AD)" in zcmake and "zephyr_library_sources(" in zcmake
    for src in [ln.strip().replace("${CMAKE_CURRENT_LIST_DIR}", str(z / "zephyr")) for ln in zcmake.splitlines()
                if ln.strip().startswith("${CMAKE_CURRENT_LIST_DIR}/../") and ln.strip().endswith(".c")]:
        assert Path(src).resolve().is_file(), src

    p = tmp_path / "platformio"
    lib = json.loads((p / "library.json").read_text())
    assert lib["name"] == "edgekit-ad" and lib["version"] and "generated by edgekit" in lib["description"]
    assert lib["build"]["srcFilter"] == ["+<ad.c>", "+<ad_weights.c>", "+<ek/*.c>"] and (p / "ek").is_dir()

    a = tmp_path / "arduino"
    props = dict(ln.split("=", 1) for ln in (a / "library.properties").read_text().splitlines()
                 if ln and not ln.startswith("#"))
    required = {"name", "version", "author", "maintainer", "sentence", "paragraph", "category", "architectures"}
    assert required <= props.keys(), required - props.keys()
    assert props["name"][0].isalnum() and not props["name"].lower().startswith("arduino")
    assert (a / "src" / props["includes"]).is_file()
    # Arduino compiles every .c under src/ with src/ as the only include path
    cc = shutil.which("gcc")
    for c in [a / "src" / "ad.c", a / "src" / "ad_weights.c", *sorted((a / "src" / "ek").glob("*.c"))]:
        run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{a / 'src'}", "-c", str(c), "-o", str(tmp_path / "x.o")],
            f"compile {c.name}")


def test_export_leaves_a_users_build_file_alone(mlperf_models, tmp_path, capsys):
    out = tmp_path / "lib"
    out.mkdir()
    (out / "CMakeLists.txt").write_text("# mine\nproject(mine C)\n")
    code = main(["export", str(mlperf_models / "ad01_int8.tflite"), "--format", "cmake", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "edgekit did not write it" in err[0]
    assert (out / "CMakeLists.txt").read_text() == "# mine\nproject(mine C)\n" and not (out / "model.c").exists()
    # the file edgekit wrote is its own to replace
    (out / "CMakeLists.txt").unlink()
    assert main(["export", str(mlperf_models / "ad01_int8.tflite"), "--format", "cmake", "-o", str(out)]) == 0
    assert main(["export", str(mlperf_models / "ad01_int8.tflite"), "--format", "cmake", "-o", str(out)]) == 0


"""Output folders: a failed build leaves the last good one whole, one run at a time per folder,
and generate / build touch only files edgekit wrote."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from edgekit.errors import ExitCode
from edgekit.folders import LOCK_NAME, FolderBusy, locked, write_atomic
from edgekit.target.build import FirmwareTooLarge, build_firmware, read_build_info

BOARD = "qemu-mps2-an386"


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def _cli(*args: str) -> subprocess.CompletedProcess:
    # from the repository's root: ``-m`` runs this checkout's edgekit, whatever is installed
    return subprocess.run([sys.executable, "-m", "edgekit.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_failed_build_keeps_the_good_one(mlperf_models, tmp_path):
    out = tmp_path / "fw"
    good = build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    before = _snapshot(out)
    assert good.elf == out / "firmware.elf" and good.generated.out_dir == out / "model"
    assert read_build_info(out)["model"] == good.model_name
    # kws needs far more RAM than this limit: the build fails after generating and compiling
    with pytest.raises(FirmwareTooLarge):
        build_firmware(mlperf_models / "kws_ref_model.tflite", BOARD, out, ram_limit=8_000)
    assert _snapshot(out) == before, "a failed build changed the folder of the good one"
    assert [p.name for p in out.iterdir() if p.name.startswith(".build-")] == []


def test_a_new_build_replaces_every_product(mlperf_models, tmp_path):
    out = tmp_path / "fw"
    build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    (out / "firmware.uf2").write_bytes(b"from a board that takes UF2")  # a product this board does not make
    second = build_firmware(mlperf_models / "kws_ref_model.tflite", BOARD, out)
    info = read_build_info(out)
    assert info["model_sha256"] == second.model_sha256 and info["uf2"] is None
    assert not (out / "firmware.uf2").exists()
    assert (out / "model" / "model.h").read_text().count("kws_ref_model") >= 1


def test_build_refuses_a_model_folder_holding_user_files(mlperf_models, tmp_path):
    out = tmp_path / "fw"
    build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    mine = out / "model" / "notes.txt"
    mine.write_text("mine")
    before = _snapshot(out)
    with pytest.raises(Exception, match="notes.txt, which edgekit did not write"):
        build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    assert _snapshot(out) == before and mine.read_text() == "mine"


def test_lock_is_exclusive_between_processes_and_reentrant_within_one(tmp_path):
    folder = tmp_path / "o"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from edgekit.folders import locked
        with locked({str(folder)!r}):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy, match="another edgekit run is writing there"):
            with locked(folder):
                pass
    finally:
        holder.kill()
        holder.wait()
    # the kernel releases a dead process's lock: no stale lock file blocks the next run
    with locked(folder), locked(folder):
        pass


def test_second_run_on_a_busy_folder_is_one_line(mlperf_models, tmp_path):
    out = tmp_path / "gen"
    with locked(out):
        proc = _cli("generate", str(mlperf_models / "ad01_int8.tflite"), "-o", str(out))
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
    assert proc.returncode == ExitCode.ERROR, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error:") and "another edgekit run" in lines[0]


def test_concurrent_builds_into_one_folder(mlperf_models, tmp_path):
    """Two builds at once: each finishes or is refused in one line; the folder holds one whole build."""
    out = tmp_path / "fw"
    models = [mlperf_models / "ad01_int8.tflite", mlperf_models / "kws_ref_model.tflite"]
    procs = [subprocess.Popen([sys.executable, "-m", "edgekit.cli", "build", str(m), "--board", BOARD, "-o", str(out)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for m in models]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    for rc, err in results:
        assert rc == 0 or (rc == ExitCode.ERROR and err.strip().count("\n") == 0 and "another edgekit run" in err), err
    assert any(rc == 0 for rc, _ in results)
    info = read_build_info(out)
    elf = (out / info["elf"]).read_bytes()
    assert info["sizes"]["flash_bytes"] > 0 and len(elf) > 0
    assert (out / "model" / "metadata.json").read_text().count(info["model_sha256"]) == 1


def test_failed_generate_into_a_new_folder_leaves_nothing(mlperf_models, tmp_path):
    # the model reads, then no plan fits 100 bytes: the run fails after taking the folder
    proc = _cli("generate", str(mlperf_models / "ad01_int8.tflite"), "-o", str(tmp_path / "new"),
                "--arena-limit", "100")
    assert proc.returncode == ExitCode.ERROR and proc.stderr.startswith("edgekit: error:"), proc.stderr
    assert not (tmp_path / "new").exists()


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "r.json"
    for k in range(5):
        write_atomic(target, f"v{k}")
    assert target.read_text() == "v4" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    with pytest.raises(Exception, match="cannot write"):
        write_atomic(tmp_path / "r.json" / "x", "under a file")
    assert target.read_text() == "v4"


def test_build_replaces_a_build_of_an_edgekit_without_manifests(mlperf_models, tmp_path):
    """A build folder written before generate kept a manifest (its model/ says in metadata.json that
    edgekit wrote it) is replaced, not refused."""
    out = tmp_path / "fw"
    build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    (out / "model" / ".edgekit-files.json").unlink()
    build_firmware(mlperf_models / "ad01_int8.tflite", BOARD, out)
    assert (out / "model" / ".edgekit-files.json").is_file() and read_build_info(out)["model"] == "ad01_int8"

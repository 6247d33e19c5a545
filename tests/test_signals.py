"""A signal to a running command leaves no process behind: not QEMU, not the reference worker,
not multiprocessing's resource tracker; SIGTERM unwinds like Ctrl-C (exit 130, one line)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.errors import ExitCode
from edgekit.folders import locked


def _processes() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (parent pid, process group, state, command) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0], cmd[:100])
    return table


def _descendants(root: int) -> set[int]:
    table = _processes()
    found, grew = {root}, True
    while grew:
        new = {pid for pid, (ppid, *_rest) in table.items() if ppid in found} - found
        found |= new
        grew = bool(new)
    return found - {root}


def _alive(pids: set[int], pgid: int) -> list[str]:
    """Of ``pids`` and of process group ``pgid``: those still running (not zombies)."""
    return [f"{pid}: {cmd}" for pid, (_ppid, group, state, cmd) in _processes().items()
            if (pid in pids or group == pgid) and state != "Z" and pid != pgid]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig, delay_s", [(signal.SIGTERM, 1.0), (signal.SIGKILL, 0.0), (signal.SIGKILL, 1.5)])
def test_signal_to_deploy_leaves_no_process(mlperf_models, tmp_path, sig, delay_s):
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli", "deploy", str(mlperf_models / "ad01_int8.tflite"),
                             "--board", "qemu-mps2-an386", "-o", str(out), "--samples", "20000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        children: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            children = _descendants(proc.pid)
            cmds = " ".join(_processes().get(pid, (0, 0, "", ""))[3] for pid in children)
            if "qemu-system-arm" in cmds and "multiprocessing.spawn" in cmds:
                break  # QEMU runs and the reference worker has started
            time.sleep(0.05)
        else:
            pytest.fail(f"deploy never ran QEMU and the reference worker: {proc.poll()}")
        time.sleep(delay_s)  # 0: the worker is still starting up when its parent dies
        children |= _descendants(proc.pid)
        os.kill(proc.pid, sig)
        rc = proc.wait(timeout=30)
        try:  # EOF comes only when no process is left holding the pipe
            _out, rest = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            rest = None
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while _alive(children, proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(children, proc.pid)
    for line in left:  # do not leave them to the next test either
        os.kill(int(line.split(":")[0]), signal.SIGKILL)
    assert left == [], f"left behind after {sig.name}: {left}"
    assert rest is not None, "something still holds the command's stderr open"
    if sig == signal.SIGTERM:
        assert rc == ExitCode.INTERRUPTED and rest.strip().splitlines()[-1] == "edgekit: interrupted (SIGTERM)"
        assert "Traceback" not in rest
    assert [p.name for p in out.iterdir() if p.name.startswith(".build-")] == []
    with locked(out):  # the folder is free for the next run
        pass

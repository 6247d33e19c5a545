"""Start an emulated board (QEMU) with a firmware ELF; its UART becomes a pty or a TCP socket.

    with emulator.start(board, elf) as emu:
        serial.serial_for_url(emu.port_url)   # the harness talks to the firmware here

QEMU runs with ``-icount shift=N`` from the board file: every instruction advances virtual time
by 2^N ns, so the firmware's timer counts instructions, independent of the host's speed. Every
wait is bounded; ``stop()`` (and leaving the ``with`` block) always ends the process.
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..children import die_with_parent
from ..errors import ToolchainError
from .boards import Board, load_board

SERIAL_KINDS = ("pty", "tcp")
SETTLE_S = 0.2  # after the serial port appears, how long QEMU must stay up to count as started
_PTY_LINE = re.compile(r"char device redirected to (\S+)")


class EmulatorError(ToolchainError):
    """The emulator is missing, would not start, or stopped."""


def qemu_command(board: Board, elf: Path, serial: str) -> list[str]:
    """The QEMU command line for ``board``; ``serial`` is a QEMU -serial spec (``pty``, ``tcp:...``)."""
    spec = board.emulator
    if spec is None:
        raise EmulatorError(f"{board.name} is a real board, not an emulated one")
    return [spec.program, "-machine", spec.machine, "-nographic", "-monitor", "none",
            "-serial", serial, "-icount", f"shift={spec.icount_shift}", *spec.extra_args,
            "-kernel", str(elf)]


@dataclass
class Emulator:
    board: Board
    elf: Path
    process: subprocess.Popen
    port_url: str  # for pyserial's serial_for_url: "/dev/pts/N" or "socket://127.0.0.1:PORT"
    command: list[str]
    output: list[str] = field(default_factory=list)  # what QEMU printed while starting

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def icount_shift(self) -> int:
        return self.board.emulator.icount_shift if self.board.emulator else 0

    def stop(self, timeout_s: float = 5.0) -> None:
        """End QEMU: terminate, then kill if it has not exited within ``timeout_s``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_lines_until(proc: subprocess.Popen, pattern: re.Pattern | None, deadline: float,
                      lines: list[str]) -> re.Match | None:
    """Collect QEMU's output lines until one matches, the process ends, or the deadline passes."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    fd = proc.stdout.fileno()
    buf = b""
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, min(0.1, deadline - time.monotonic()))):
                if proc.poll() is not None:
                    return None
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # QEMU closed its output: it is exiting; collect its status
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                return None
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").strip()
                lines.append(text)
                m = pattern.search(text) if pattern else None
                if m:
                    return m
        return None
    finally:
        sel.close()


def start(board: Board | str, elf: str | Path, serial: str = "pty",
          startup_timeout_s: float = 10.0) -> Emulator:
    """Launch QEMU for ``board`` with ``elf``; return once its serial port can be opened.

    ``serial``: ``"pty"`` (a pseudo-terminal; ``port_url`` is its path) or ``"tcp"`` (a local
    TCP server; ``port_url`` is ``socket://127.0.0.1:PORT``)."""
    board = load_board(board) if isinstance(board, str) else board
    elf = Path(elf)
    if serial not in SERIAL_KINDS:
        raise ValueError(f"serial must be one of {SERIAL_KINDS}")
    if not elf.is_file():
        raise EmulatorError(f"{elf}: no such firmware")
    with elf.open("rb") as f:
        if f.read(4) != b"\x7fELF":
            raise EmulatorError(f"{elf}: not an ELF file")
    if board.emulator is None:
        raise EmulatorError(f"{board.name} is a real board; flash it with: edgekit flash DIR --board {board.name}")
    port = _free_port() if serial == "tcp" else 0
    spec = "pty" if serial == "pty" else f"tcp:127.0.0.1:{port},server=on,wait=off"
    cmd = qemu_command(board, elf, spec)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
    except FileNotFoundError:
        raise EmulatorError(f"{board.emulator.program} not found on PATH (apt-get install qemu-system-arm)") from None
    lines: list[str] = []
    deadline = time.monotonic() + startup_timeout_s
    emu = Emulator(board, elf, proc, "", cmd, lines)
    try:
        if serial == "pty":
            m = _read_lines_until(proc, _PTY_LINE, deadline, lines)
            if m is None:
                raise EmulatorError(_startup_failure(board, proc, lines, startup_timeout_s))
            emu.port_url = m.group(1)
        else:
            while True:
                if proc.poll() is not None:
                    _read_lines_until(proc, None, time.monotonic() + 0.5, lines)
                    raise EmulatorError(_startup_failure(board, proc, lines, startup_timeout_s))
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break  # QEMU listens; it accepts the next client once this one closes
                except OSError:
                    if time.monotonic() > deadline:
                        raise EmulatorError(_startup_failure(board, proc, lines, startup_timeout_s)) from None
                    time.sleep(0.05)
            emu.port_url = f"socket://127.0.0.1:{port}"
        # A firmware that faults at reset takes QEMU down at once ("Lockup"): say so here.
        _read_lines_until(proc, None, time.monotonic() + SETTLE_S, lines)
        if proc.poll() is not None:
            raise EmulatorError(_startup_failure(board, proc, lines, startup_timeout_s))
    except BaseException:
        emu.stop()
        raise
    # Keep reading QEMU's output so a chatty QEMU never blocks on a full pipe.
    threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
    return emu


def _drain(proc: subprocess.Popen, lines: list[str], keep: int = 200) -> None:
    try:
        for raw in iter(proc.stdout.readline, b""):
            lines.append(raw.decode("utf-8", "replace").strip())
            del lines[:-keep]
    except (OSError, ValueError):
        pass  # closed by stop()


def _startup_failure(board: Board, proc: subprocess.Popen, lines: list[str], timeout_s: float) -> str:
    said = next((ln for ln in lines if ln and not _PTY_LINE.search(ln)), "")
    if proc.poll() is not None:
        return f"{board.emulator.program} -machine {board.emulator.machine} exited with {proc.returncode}" + \
            (f": {said}" if said else "")
    return f"{board.emulator.program} did not open its serial port within {timeout_s:g} s" + \
        (f" ({said})" if said else "")

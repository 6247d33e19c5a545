"""Put a built firmware on its board: run the flashing tool the board file names (openocd,
pyocd, picotool, nrfjprog -- the first one installed), or, for an emulated board, start QEMU
with the ELF and hand back its serial port."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import EdgekitError, ToolchainError
from . import emulator
from .boards import Board, FlashTool, load_board
from .build import read_build_info


class FlashError(ToolchainError):
    """No flashing tool is installed, or the tool failed."""


@dataclass(frozen=True)
class FlashResult:
    board: str
    tool: str
    command: list[str]
    output: str


def firmware_files(build_dir: Path, info: dict) -> dict[str, str]:
    """Placeholder values for a board's flash command: {elf}, {hex}, {bin}, {uf2}."""
    files = {}
    for key in ("elf", "hex", "bin", "uf2"):
        name = info.get(key)
        if name:
            files[key] = str((build_dir / name).resolve())
    return files


def board_for_build(build_dir: str | Path, board: Board | str | None = None) -> tuple[Board, dict]:
    """The board a firmware directory was built for, checked against ``board`` if given."""
    build_dir = Path(build_dir)
    info = read_build_info(build_dir)
    if board is None:
        board = info["board"]
    board = load_board(board) if isinstance(board, str) else board
    if info.get("board") != board.name:
        raise EdgekitError(f"{build_dir} was built for {info.get('board')}, not {board.name}; "
                           f"build again with --board {board.name}")
    return board, info


def flash_command(tool: FlashTool, files: dict[str, str]) -> list[str]:
    out = []
    for arg in tool.args:
        for key, value in files.items():
            arg = arg.replace("{" + key + "}", value)
        if "{" in arg and "}" in arg:
            missing = arg[arg.index("{") + 1:arg.index("}")]
            raise FlashError(f"{tool.tool} needs firmware.{missing}, which this build did not make")
        out.append(arg)
    return [tool.tool, *out]


def flash(build_dir: str | Path, board: Board | str | None = None, timeout_s: float = 300.0) -> FlashResult:
    """Program a real board with the firmware in ``build_dir`` (see :func:`start_emulated` for
    emulated boards)."""
    build_dir = Path(build_dir)
    board, info = board_for_build(build_dir, board)
    if board.emulated:
        raise FlashError(f"{board.name} is emulated: start it with edgekit.target.flash.start_emulated()")
    tool = next((t for t in board.flash_tools if shutil.which(t.tool)), None)
    if tool is None:
        names = ", ".join(t.tool for t in board.flash_tools)
        hints = "; ".join(f"{t.tool}: {t.install_hint}" for t in board.flash_tools if t.install_hint)
        raise FlashError(f"flash {board.name}: none of {names} is installed" + (f" ({hints})" if hints else ""))
    cmd = flash_command(tool, firmware_files(build_dir, info))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise FlashError(f"{tool.tool} did not finish within {timeout_s:g} s") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        said = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
        raise FlashError(f"{tool.tool} failed (exit {proc.returncode})" + (f": {said}" if said else ""))
    return FlashResult(board.name, tool.tool, cmd, output)


def start_emulated(build_dir: str | Path, board: Board | str | None = None,
                   serial: str = "pty") -> emulator.Emulator:
    """Start QEMU with the firmware in ``build_dir``; the caller stops it (or uses ``with``)."""
    board, info = board_for_build(build_dir, board)
    return emulator.start(board, Path(build_dir) / info["elf"], serial=serial)


def serve_emulated(build_dir: str | Path, board: Board | str | None = None, serial: str = "pty",
                   seconds: float | None = None,
                   announce: Callable[[Board, emulator.Emulator], None] = lambda board, emu: None) -> None:
    """Run the firmware of ``build_dir`` in QEMU for ``seconds`` (None: until interrupted);
    ``announce`` is told the board and the running emulator (its serial port). QEMU stopping by
    itself is an error."""
    board, _ = board_for_build(build_dir, board)
    with start_emulated(build_dir, board, serial=serial) as emu:
        announce(board, emu)
        try:
            code = emu.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise emulator.EmulatorError(f"{board.emulator.program} stopped by itself (exit {code})")

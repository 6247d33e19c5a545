"""Estimated cycles of any firmware image that marks what it times with ``ek_harness_op_hook``.

The image runs on its own under QEMU (the board's core: mps2-an386 for a Cortex-M4, mps2-an500
for a Cortex-M7), with the cycle plugin and the board's memory system placed on the image
(``memory_model``); it must stop by itself (semihosting SYS_EXIT) within the timeout. Every
stretch between two calls of the hook is one operator; the total runs from the first call to the
last. Time is the estimate at the board's clock.

    result = image_cycles.run(Path("fw.elf"), load_board("nucleo-l4r5zi"))
    result.cycles, result.ms, result.operators
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..children import die_with_parent
from ..errors import EdgekitError, ToolchainError
from . import cycles
from .boards import Board
from .elfimage import read_elf
from .memory_model import write_memory_file

#: the QEMU machine that runs a core's images (code at 0, RAM at 0x20000000)
MACHINES = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500"}
DEFAULT_TIMEOUT_S = 120.0


class ImageRunError(EdgekitError):
    """The image could not be timed: it never called the hook, or QEMU failed."""


@dataclass(frozen=True)
class ImageCycles:
    image: str
    board: str
    clock_hz: int
    machine: str
    memory_model: bool  # False: zero wait-state memory (the board file has no memory_system)
    operators: tuple[cycles.Counts, ...]

    @property
    def instructions(self) -> int:
        return sum(o.instructions for o in self.operators)

    @property
    def cycles(self) -> int:
        return sum(o.cycles for o in self.operators)

    @property
    def memory_cycles(self) -> int:
        return sum(o.memory_cycles for o in self.operators)

    @property
    def ms(self) -> float:
        return self.cycles / self.clock_hz * 1e3

    def to_json(self) -> dict:
        return {"image": self.image, "board": self.board, "clock_hz": self.clock_hz, "machine": self.machine,
                "memory_model": self.memory_model, "instructions": self.instructions, "cycles": self.cycles,
                "memory_cycles": self.memory_cycles, "ms": round(self.ms, 4),
                "operators": [{"index": i, "instructions": o.instructions, "cycles": o.cycles,
                               "memory_cycles": o.memory_cycles, "ms": round(o.cycles / self.clock_hz * 1e3, 4)}
                              for i, o in enumerate(self.operators)]}

    def summary(self) -> str:
        memory = "with its memory system" if self.memory_model else "zero wait-state memory (no memory_system)"
        lines = [f"{self.image} on {self.board} ({self.clock_hz / 1e6:g} MHz, {memory}; run on QEMU {self.machine})",
                 f"instructions {self.instructions:,}  estimated cycles {self.cycles:,}  "
                 f"({self.memory_cycles:,} from memory)  {self.ms:.3f} ms"]
        if len(self.operators) > 1:
            lines.append(f"{'op':>4} {'instructions':>14} {'cycles':>14} {'ms':>10}")
            for i, o in enumerate(self.operators):
                lines.append(f"{i:>4} {o.instructions:>14,} {o.cycles:>14,} {o.cycles / self.clock_hz * 1e3:>10.3f}")
        return "\n".join(lines)


def run(elf: Path, board: Board, timeout_s: float = DEFAULT_TIMEOUT_S, work: Path | None = None) -> ImageCycles:
    elf = Path(elf)
    read_elf(elf)  # a missing file, or not an ARM image: one line
    machine = MACHINES.get(board.cpu)
    if machine is None:
        raise ImageRunError(f"{board.name} has a {board.cpu}; edgekit cycles runs Cortex-M4 and Cortex-M7 images "
                            f"({', '.join(MACHINES)})")
    hook = cycles.symbol_address(elf, cycles.HOOK_SYMBOL)
    with tempfile.TemporaryDirectory(prefix="edgekit-cycles-") as tmp:
        work = Path(work or tmp)
        out = work / "cycles.jsonl"
        memory_file = None
        if board.memory_system is not None:
            memory_file = write_memory_file(board, elf, work / "memory.txt")
        args = cycles.plugin_args(board.cpu, out, hook, 0, memory_file=memory_file)
        cmd = ["qemu-system-arm", "-machine", machine, "-nographic", "-monitor", "none", "-serial", "null",
               "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf), *args]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=die_with_parent)
        except FileNotFoundError:
            raise ToolchainError("qemu-system-arm not found (apt-get install qemu-system-arm)") from None
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            err = None
        core, segments = cycles.read_segments(out) if out.exists() else ("", [])
        if err is not None and proc.returncode != 0 and not segments:
            first = next((ln for ln in err.splitlines() if ln.strip()), f"exit status {proc.returncode}")
            raise ImageRunError(f"{elf.name}: QEMU failed: {first[:200]}")
        if not segments:
            why = "within" if err is None else "before it stopped, in"
            raise ImageRunError(f"{elf.name} did not call {cycles.HOOK_SYMBOL} twice {why} {timeout_s:g} s "
                                "(nothing to time: it must call the hook before and after what it times)")
    return ImageCycles(elf.name, board.name, board.clock_hz, machine, memory_file is not None, tuple(segments))

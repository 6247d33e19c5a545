"""Estimated Cortex-M cycles for firmware running under QEMU, per operator and in total.

QEMU counts instructions exactly but models no pipeline. The edgekit plugin
(``firmware/qemu_plugin/``, a QEMU TCG plugin in C) decodes every executed Thumb-2 instruction
into a class (ALU, load, store, multiply/MAC, DSP SIMD, branch, load/store multiple, ...) and
turns the classes into cycles with a core's timing file (``cortex-m4.cycles``: ARM's Cortex-M4
TRM timings; ``cortex-m7.cycles``: an estimate from ARM's description of the M7 pipeline). It
attributes counts to operators by watching the harness's ``ek_harness_op_hook`` run, and writes
one JSON line per invoke.

    with cycles.instrumented(board, elf, num_ops, work) as (board_with_plugin, result_file):
        ... start QEMU for board_with_plugin, run invokes ...
    report = cycles.read(result_file)   # CycleReport: instructions, cycles, per operator

With a board that has a ``memory_system`` (``memory_file``), the plugin also charges each
instruction fetch and data access by region: flash wait states behind the board's flash
accelerator (caches, prefetch), RAM wait states (``target/memory_model.py``, ``ek_memory.c``).
Images that mark their own stretches with the hook (``ops=0``) get one segment per hook call
(``read_segments``), which ``edgekit cycles`` reports.

The plugin is compiled with the host's gcc on first use and cached per source contents.
Instructions are exact; cycles are an estimate (the timing file's and the memory model's choices).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import EdgekitError, ToolchainError
from ..files import QEMU_PLUGIN
from .memory_model import write_memory_file

PLUGIN_SOURCES = ("ek_cycles.c", "ek_thumb.c", "ek_memory.c")
HOOK_SYMBOL = "ek_harness_op_hook"

#: timing file per CPU (boards' ``cpu`` key)
TIMING_FILES = {"cortex-m4": "cortex-m4.cycles", "cortex-m7": "cortex-m7.cycles"}


class CycleModelError(EdgekitError):
    """No cycle model for this core, or the plugin could not be built or read."""


def timing_file(cpu: str) -> Path:
    name = TIMING_FILES.get(cpu)
    if name is None:
        raise CycleModelError(f"no cycle model for {cpu} (edgekit has: {', '.join(TIMING_FILES)}); "
                              "instructions are still counted")
    return QEMU_PLUGIN / name


def has_model(cpu: str) -> bool:
    return cpu in TIMING_FILES


_plugin_cache: dict[str, Path] = {}


def plugin_path() -> Path:
    """The plugin shared object, built with the host gcc on first use (cached by source hash)."""
    srcs = [QEMU_PLUGIN / s for s in PLUGIN_SOURCES]
    headers = sorted(QEMU_PLUGIN.glob("*.h"))
    h = hashlib.sha256()
    for p in [*srcs, *headers]:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    key = h.hexdigest()[:16]
    if key in _plugin_cache and _plugin_cache[key].is_file():
        return _plugin_cache[key]
    out_dir = Path(tempfile.gettempdir()) / f"edgekit-qemu-plugin-{key}"
    so = out_dir / "ek_cycles.so"
    if not so.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix="ek_cycles.", suffix=".so")
        os.close(fd)
        tmp = Path(tmp_name)
        cmd = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-shared",
               f"-I{QEMU_PLUGIN}", *map(str, srcs), "-o", str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise ToolchainError("gcc not found on PATH (the QEMU cycle plugin is built with the host gcc)") from None
        if proc.returncode != 0:
            first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:200])
            raise ToolchainError(f"building the QEMU cycle plugin failed: {first}")
        tmp.replace(so)  # atomic: concurrent builders agree
    _plugin_cache[key] = so
    return so


def symbol_address(elf: Path, name: str) -> int:
    """Address of a function in the ELF (Thumb bit cleared)."""
    try:
        out = subprocess.run(["arm-none-eabi-nm", "--defined-only", str(elf)], capture_output=True,
                             text=True, check=True).stdout
    except FileNotFoundError:
        raise ToolchainError("arm-none-eabi-nm not found (apt-get install binutils-arm-none-eabi)") from None
    except subprocess.CalledProcessError as exc:
        raise CycleModelError(f"{elf}: cannot read its symbols ({exc.stderr.strip()[:100]})") from None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise CycleModelError(f"{elf.name} has no symbol {name}: not built with the edgekit harness")


def plugin_args(cpu: str, out_file: Path, hook: int | None = None, num_ops: int = 0,
                blocks_file: Path | None = None, memory_file: Path | None = None) -> list[str]:
    """QEMU arguments that load the plugin (``-plugin path,arg=value,...``). ``blocks_file``:
    the plugin also writes every executed block's counts there at exit (see ``hot_blocks``).
    ``memory_file``: a board's memory system placed on the image (``memory_model``)."""
    parts = [str(plugin_path()), f"model={timing_file(cpu)}", f"out={out_file}"]
    if hook is not None:
        parts += [f"hook=0x{hook:x}", f"ops={num_ops}"]
    if blocks_file is not None:
        parts.append(f"blocks={blocks_file}")
    if memory_file is not None:
        parts.append(f"mem={memory_file}")
    for p in parts:
        if "," in p:
            raise CycleModelError(f"QEMU plugin arguments cannot contain ',': {p}")
    return ["-plugin", ",".join(parts)]


MODELLED_SUFFIX = ".board.json"


@contextlib.contextmanager
def instrumented(board, elf: Path, num_ops: int, work: Path | None = None,
                 blocks: bool = False, memory_of=None) -> Iterator[tuple[object, Path]]:
    """``board`` with the cycle plugin added to its QEMU command line, and the file the plugin
    writes. Start the emulator with the returned board; read the file once QEMU has stopped
    (or after the invokes: every invoke's line is flushed when it ends). ``memory_of``: the
    board whose memory system and clock the estimate is for (default ``board``; a real board
    with the same core, its firmware's kernels run on the emulated one)."""
    if board.emulator is None:
        raise CycleModelError(f"{board.name} is a real board: cycles are estimated only under QEMU")
    timing_file(board.cpu)  # fail early without a model
    modelled = memory_of or board
    if modelled.cpu != board.cpu:
        raise CycleModelError(f"{modelled.name} has a {modelled.cpu}, the emulated {board.name} a {board.cpu}: "
                              "cycles can be estimated only for the core that runs")
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgekit-cycles-")))
        out_file = Path(work) / "cycles.jsonl"
        out_file.unlink(missing_ok=True)
        memory_file = None
        if modelled.memory_system is not None:
            memory_file = write_memory_file(modelled, elf, Path(work) / "memory.txt")
        Path(str(out_file) + MODELLED_SUFFIX).write_text(json.dumps(
            {"board": modelled.name, "clock_hz": modelled.clock_hz, "memory_model": memory_file is not None}))
        args = plugin_args(board.cpu, out_file, symbol_address(Path(elf), HOOK_SYMBOL), num_ops,
                           Path(work) / "blocks.txt" if blocks else None, memory_file)
        emu = dataclasses.replace(board.emulator, extra_args=(*board.emulator.extra_args, *args))
        yield dataclasses.replace(board, emulator=emu), out_file


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Counts:
    instructions: int
    cycles: int
    taken_branches: int
    classes: dict[str, int]
    memory_cycles: int = 0  # what the memory system added (part of cycles)

    @classmethod
    def from_json(cls, d: dict, names: list[str]) -> "Counts":
        return cls(d["insns"], d["cycles"], d["taken"], dict(zip(names, d["classes"])), d.get("memory_cycles", 0))

    @property
    def cycles_per_instruction(self) -> float:
        return self.cycles / self.instructions if self.instructions else 0.0

    def to_json(self) -> dict:
        return {"instructions": self.instructions, "estimated_cycles": self.cycles,
                "taken_branches": self.taken_branches, "classes": self.classes}


@dataclass
class CycleReport:
    """What the plugin wrote: one :class:`Counts` per operator per invoke."""

    core: str
    classes: list[str]
    invokes: list[tuple[Counts, list[Counts]]] = field(default_factory=list)  # (total, per op)
    board: str | None = None  # the board the estimate is for (memory system, clock), if known
    clock_hz: int | None = None
    memory_model: bool = False  # False: zero wait-state memory

    def median_invoke(self) -> tuple[Counts, list[Counts]]:
        if not self.invokes:
            raise CycleModelError("the cycle plugin recorded no complete invoke")
        cyc = [t.cycles for t, _ in self.invokes]
        med = statistics.median_low(cyc)
        return self.invokes[cyc.index(med)]

    @property
    def total(self) -> Counts:
        return self.median_invoke()[0]

    @property
    def operators(self) -> list[Counts]:
        return self.median_invoke()[1]

    @property
    def memory(self) -> str:
        return f"{self.board}'s memory system" if self.memory_model else "zero wait states"

    def to_json(self) -> dict:
        total, ops = self.median_invoke()

        def counts(c: Counts) -> dict:
            d = c.to_json()
            d["memory_cycles"] = c.memory_cycles
            if self.clock_hz:
                d["estimated_ms"] = round(c.cycles / self.clock_hz * 1e3, 4)
            return d

        return {"core": self.core, "model": f"edgekit QEMU plugin, {TIMING_FILES.get(self.core, self.core)}",
                "board": self.board, "clock_hz": self.clock_hz, "memory": self.memory,
                "note": "instructions: exact (QEMU); cycles: estimated from instruction classes, "
                        + (f"with {self.board}'s flash wait states, caches and prefetch" if self.memory_model
                           else "zero wait-state memory"),
                "invokes": len(self.invokes), "total": counts(total),
                "operators": [counts(o) for o in ops]}


def read(path: Path) -> CycleReport:
    """Parse the plugin's output (complete invokes only)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise CycleModelError(f"{path}: the cycle plugin wrote nothing ({exc.strerror})") from None
    if not lines:
        raise CycleModelError(f"{path}: empty; did QEMU load the plugin?")
    try:
        head = json.loads(lines[0])
        report = CycleReport(head["core"], head["classes"])
        modelled = Path(str(path) + MODELLED_SUFFIX)
        if modelled.is_file():
            m = json.loads(modelled.read_text())
            report.board, report.clock_hz, report.memory_model = m["board"], m["clock_hz"], m["memory_model"]
        for line in lines[1:]:
            if not line.endswith("}"):
                break  # a line still being written
            d = json.loads(line)
            if "invoke" in d:
                report.invokes.append((Counts.from_json(d["total"], report.classes),
                                       [Counts.from_json(o, report.classes) for o in d["ops"]]))
    except (ValueError, KeyError) as exc:
        raise CycleModelError(f"{path}: not the cycle plugin's output ({exc})") from None
    return report


def read_segments(path: Path) -> tuple[str, list[Counts]]:
    """The core and the counts between consecutive hook calls of a run with ``ops=0``: the
    i-th entry is what ran between the i-th and the (i+1)-th call (what ran before the first
    call is left out)."""
    try:
        lines = Path(path).read_text().splitlines()
        head = json.loads(lines[0])
        segments = [json.loads(ln) for ln in lines[1:] if ln.endswith("}") and ln.startswith('{"segment"')]
        counts = [Counts.from_json(d["counts"], head["classes"]) for d in segments]
    except (OSError, IndexError) as exc:
        raise CycleModelError(f"{path}: the cycle plugin wrote nothing ({exc})") from None
    except (ValueError, KeyError) as exc:
        raise CycleModelError(f"{path}: not the cycle plugin's output ({exc})") from None
    return head["core"], counts[1:]


def hot_blocks(blocks_file: Path, elf: Path, top: int = 20) -> list[dict]:
    """The blocks with the most estimated cycles (after QEMU has exited): address, function,
    instructions, cycles per execution, executions, share of all cycles. For kernel tuning."""
    rows = []
    for line in Path(blocks_file).read_text().splitlines():
        addr, n, cyc, execs, taken = line.split()
        rows.append((int(addr, 16), int(n), int(cyc), int(execs), int(taken)))
    out = subprocess.run(["arm-none-eabi-nm", "-n", "--defined-only", str(elf)], capture_output=True,
                         text=True).stdout
    funcs = sorted((int(a, 16) & ~1, name) for a, t, name in
                   (ln.split() for ln in out.splitlines() if len(ln.split()) == 3) if t in "tT")
    total = sum(c * e for _, _, c, e, _ in rows) or 1
    rows.sort(key=lambda r: -r[2] * r[3])

    def func(a):
        best = "?"
        for start, name in funcs:
            if start > a:
                break
            best = f"{name}+0x{a - start:x}"
        return best

    return [{"address": f"0x{a:08x}", "where": func(a), "instructions": n, "cycles": c, "executions": e,
             "taken_exits": t, "share": c * e / total} for a, n, c, e, t in rows[:top]]

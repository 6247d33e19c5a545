"""Firmware for a board: the generated model, the runtime kernels, the serial harness and the
board support code, compiled and linked with arm-none-eabi-gcc, measured against the board.

``build_firmware(model.tflite, board, out_dir)`` writes into ``out_dir``::

    model/          generated C (edgekit.codegen.generate, prefix "model") and its kernels
    harness/        ek_model_glue.c: the model and board as the harness describes them
    link.ld         linker script rendered from the board's memory regions
    firmware.elf    (+ .bin, .hex, .uf2 where the board takes one, .map)
    build.json      board, model, sizes: what ``edgekit flash`` and the profiler read

Sizes: flash = weights + code + .data image; RAM = arena + other static (.data + .bss) +
stack reserve. A firmware over the board's flash or RAM raises :class:`FirmwareTooLarge`.
Objects that do not depend on the model (kernels, harness, board support) are compiled once
per board and process, keyed by their flags and source contents.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..codegen import GeneratedModel, foreign_files, generate
from ..codegen.core import Target
from ..codegen.render import array_symbol, environment
from ..errors import EdgekitError, PlanError, ToolchainError
from ..files import BOARD_SUPPORT, FIRMWARE
from ..folders import locked
from ..ir import DType, read_tflite
from .boards import Board, load_board
from .stack import StackUse, library_frames, read_call_graph, worst_case
from .toolchain import C_WARNINGS, find_tool

HARNESS_DIR = FIRMWARE / "harness"
BOARD_API_DIR = FIRMWARE / "board"
COMMON_SUPPORT = BOARD_SUPPORT / "common"
HARNESS_SOURCES = ("ek_frame.c", "ek_harness.c", "ek_main.c")
COMMON_SOURCES = ("startup_cortexm.c", "ek_memory.c")
BUILD_JSON = "build.json"

#: TensorType codes the harness reports (PROTOCOL.md, HELLO_REPLY)
PROTOCOL_DTYPES = {DType.INT8: 9, DType.UINT8: 3, DType.INT16: 7, DType.INT32: 2, DType.FLOAT32: 0}

_ARM_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"


class FirmwareTooLarge(EdgekitError):
    """The firmware needs more flash or RAM than the board (or the limit asked for) has."""


@dataclass(frozen=True)
class FirmwareSizes:
    """Bytes. Flash: what is programmed; RAM: .data + .bss + the stack reserve."""

    flash_weights_bytes: int  # constant weights and per-channel tables of the model (those in RAM too)
    flash_code_bytes: int  # everything else in flash: code, parameters, vectors, boot stage
    flash_data_bytes: int  # initial values of .data (copied to RAM at reset), but the weights in RAM
    flash_limit_bytes: int
    ram_arena_bytes: int  # the model's activation arena (in .bss)
    ram_other_static_bytes: int  # the rest of .data + .bss: harness buffers, model I/O, kernels
    ram_stack_bytes: int  # stack reserve
    ram_limit_bytes: int
    ram_weights_bytes: int = 0  # weights copied to RAM at reset (--ram-weights): in .data, their image in flash
    ram_code_bytes: int = 0  # kernel code copied to RAM at reset (Target.ram_kernels): its image in flash
    code_ram_limit_bytes: int | None = None  # the code RAM's size when that code is there (else: in the RAM)

    @property
    def static_ram_bytes(self) -> int:
        return self.ram_arena_bytes + self.ram_weights_bytes + self.ram_code_bytes + self.ram_other_static_bytes

    @property
    def flash_bytes(self) -> int:
        return self.flash_weights_bytes + self.flash_code_bytes + self.flash_data_bytes

    @property
    def flash_beyond_weights_bytes(self) -> int:
        return self.flash_code_bytes + self.flash_data_bytes

    @property
    def ram_bytes(self) -> int:
        return self.static_ram_bytes + self.ram_stack_bytes

    @property
    def ram_region_bytes(self) -> int:
        """What the RAM limit counts: all RAM but the kernel code in a code RAM of its own."""
        return self.ram_bytes - (self.ram_code_bytes if self.code_ram_limit_bytes is not None else 0)

    def to_json(self) -> dict:
        d = asdict(self)
        d.update(flash_bytes=self.flash_bytes, flash_beyond_weights_bytes=self.flash_beyond_weights_bytes,
                 static_ram_bytes=self.static_ram_bytes, ram_bytes=self.ram_bytes)
        return d


@dataclass(frozen=True)
class FirmwareBuild:
    board: Board
    model_name: str
    model_sha256: str
    model_path: Path  # the .tflite
    out_dir: Path
    elf: Path
    bin: Path
    hex: Path
    uf2: Path | None
    sizes: FirmwareSizes
    generated: GeneratedModel

    def to_json(self) -> dict:
        return {
            "edgekit_version": __version__, "board": self.board.name, "model": self.model_name,
            "model_sha256": self.model_sha256, "tflite": str(self.model_path.resolve()),
            "elf": self.elf.name, "bin": self.bin.name,
            "hex": self.hex.name, "uf2": self.uf2.name if self.uf2 else None,
            "num_ops": len(self.generated.calls), "emulated": self.board.emulated,
            "icount_shift": self.board.emulator.icount_shift if self.board.emulator else None,
            "clock_hz": self.board.clock_hz, "timer_hz": self.board.timer_hz,
            "sizes": self.sizes.to_json(),
            "invoke_stack_bytes": getattr(self.generated.invoke_stack, "bytes", None),
        }

    def moved_to(self, out_dir: Path) -> "FirmwareBuild":
        """The same build after its folder's contents moved to ``out_dir``."""
        def at(p: Path | None) -> Path | None:
            return None if p is None else out_dir / p.relative_to(self.out_dir)
        gen = dataclasses.replace(self.generated, out_dir=at(self.generated.out_dir))
        return dataclasses.replace(self, out_dir=out_dir, elf=at(self.elf), bin=at(self.bin), hex=at(self.hex),
                                   uf2=at(self.uf2), generated=gen)

    def summary(self) -> str:
        s = self.sizes
        return (f"{self.model_name} on {self.board.name}: {self.elf}\n"
                f"  flash {s.flash_bytes:,} of {s.flash_limit_bytes:,} bytes: weights "
                f"{s.flash_weights_bytes:,}, code {s.flash_code_bytes:,}, data {s.flash_data_bytes:,}\n"
                f"  RAM   {s.ram_bytes:,} of {s.ram_limit_bytes:,} bytes: arena {s.ram_arena_bytes:,}, "
                + (f"weights {s.ram_weights_bytes:,}, " if s.ram_weights_bytes else "")
                + (f"kernel code {s.ram_code_bytes:,}, " if s.ram_code_bytes else "")
                + f"other static {s.ram_other_static_bytes:,}, stack {s.ram_stack_bytes:,}"
                + (f"\n  {self.generated.invoke_stack.text()}" if self.generated.invoke_stack else "")
                + (f"\n  {self.generated.limit_note}" if self.generated.limit_note else ""))



# ---------------------------------------------------------------------------- compiling


_cache_root: Path | None = None


def _object_cache() -> Path:
    global _cache_root
    if _cache_root is None:
        _cache_root = Path(tempfile.mkdtemp(prefix="edgekit-objects-"))
        atexit.register(shutil.rmtree, _cache_root, True)
    return _cache_root


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln
    return lines[0] if lines else "(no output)"


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{what} failed: {_first_error(proc.stderr + proc.stdout)}")
    return proc


def compile_objects(sources: list[Path], flags: list[str], include_dirs: list[Path], what: str,
                    extra_inputs: list[Path] = ()) -> list[Path]:
    """Compile ``sources`` (C or preprocessed assembly) with one compiler call; reuse earlier
    objects when the flags and the contents of sources, headers and ``extra_inputs`` match."""
    cc = find_tool("arm-none-eabi-gcc", _ARM_HINT)
    stems = [s.stem for s in sources]
    if len(set(stems)) != len(stems):
        raise ValueError(f"{what}: two sources share a file name: {stems}")
    # The key holds what the objects depend on, not where it lives: flags, sources, and the
    # headers of each include directory (by position), so copies of the kernels share objects.
    h = hashlib.sha256("\0".join([cc, *flags]).encode())
    for p in [*sources, *extra_inputs]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for i, d in enumerate(include_dirs):
        for p in sorted(d.glob("*.h")):
            h.update(f"{i}/{p.name}".encode() + b"\0" + p.read_bytes() + b"\0")
    out = _object_cache() / h.hexdigest()[:24]
    objs = [out / f"{s.stem}.o" for s in sources]
    if (out / ".done").exists():
        return objs
    out.mkdir(parents=True, exist_ok=True)
    _run([cc, *flags, *[f"-I{d}" for d in include_dirs], "-c", *map(str, sources)],
         f"arm-none-eabi-gcc ({what})", cwd=out)
    (out / ".done").touch()
    return objs


# kernels that move data or reduce it once: a small share of any model's time, compiled for size
LIGHT_KERNELS = {"ek_pool", "ek_softmax", "ek_mean", "ek_pad", "ek_quantize", "ek_strided_slice",
                 "ek_transpose", "ek_concat", "ek_lut"}


# on cores with the DSP extension the portable fully connected kernel runs only layers of fewer than
# codegen.ops.dsp.SMALL_FC_MACS multiply-accumulates: compiled for size there too
DSP_LIGHT_KERNELS = LIGHT_KERNELS | {"ek_fully_connected"}


def compile_flags(board: Board) -> list[str]:
    # -Og is for debugging: the DSP kernels' C twins instead of their assembly loops (gcc tells -Og
    # from -O1 by no macro; at -O0 the kernels leave the assembly out by themselves; ek_dsp.h).
    # -fcallgraph-info=su: each object's frames and calls, beside it, for the stack figure (stack.py)
    debug = ["-DEK_DSP_NO_ASM"] if board.opt == "-Og" else []
    return [*board.cpu_flags, *C_WARNINGS, board.opt, "-g", "-ffunction-sections", "-fdata-sections",
            "-fcallgraph-info=su", *[f"-D{d}" for d in board.c_defines], *debug]


def _size_flags(board: Board) -> list[str]:
    """For code that takes little of the time: the harness and board support, and the kernels
    that move data or reduce it once (pooling, softmax, ...)."""
    return [f for f in compile_flags(board) if f != board.opt] + ["-Os"]


def _light_kernels(target: Target) -> set[str]:
    return DSP_LIGHT_KERNELS if target.dsp else LIGHT_KERNELS


def ram_code_objects(kernel_objs: list[Path], target: Target) -> list[str]:
    """The object files whose code the linker places in RAM (``Target.ram_kernels``): the kernels
    compiled for speed, which take the model's time; the light ones stay in flash."""
    if not target.ram_kernels:
        return []
    return [o.name for o in kernel_objs if o.stem not in _light_kernels(target)]


def compile_kernels(ek_dir: Path, board: Board, target: Target) -> list[Path]:
    """The runtime's kernels in ``ek_dir``, each with the flags it is built with for ``board``."""
    kernel_sources = sorted(ek_dir.glob("*.c"))
    light = _light_kernels(target)
    hot = [k for k in kernel_sources if k.stem not in light]
    objs = compile_objects(hot, compile_flags(board), [ek_dir], f"kernels for {board.name}")
    if len(hot) < len(kernel_sources):
        objs += compile_objects([k for k in kernel_sources if k not in hot], _size_flags(board),
                                [ek_dir], f"portable kernels for {board.name}")
    return objs


def invoke_stack(board: Board, target: Target):
    """For ``generate(stack=...)``: the worst-case stack of a generated model's ``P_invoke``,
    compiled as a build for ``board`` compiles it, C library calls included."""
    def measure(out_dir: Path, prefix: str) -> StackUse:
        if shutil.which("arm-none-eabi-gcc") is None:
            return StackUse(f"{prefix}_invoke", None, reason=f"arm-none-eabi-gcc, which computes it for "
                            f"{board.name}, is not installed ({_ARM_HINT})")
        out_dir = Path(out_dir).resolve()  # the compiler runs elsewhere: a relative -o would not be found
        objs = compile_kernels(out_dir / "ek", board, target)
        objs += compile_objects([out_dir / f"{prefix}.c"], compile_flags(board), [out_dir, out_dir / "ek"],
                                f"{prefix} for its stack figure")
        funcs = read_call_graph([o.with_suffix(".ci") for o in objs])
        cc = find_tool("arm-none-eabi-gcc", _ARM_HINT)
        objdump = find_tool("arm-none-eabi-objdump", _ARM_HINT)
        unknown = {n for f in funcs.values() for n in f.calls if n in funcs and funcs[n].frame is None}
        library: dict[str, int] = {}
        for lib in ("libc.a", "libgcc.a"):
            path = Path(subprocess.run([cc, *board.cpu_flags, f"-print-file-name={lib}"], capture_output=True,
                                       text=True).stdout.strip())
            if path.is_file():
                library.update(library_frames(objdump, path, unknown - library.keys()))
        use = worst_case(funcs, f"{prefix}_invoke", library)
        return dataclasses.replace(use, how=f"edgekit build compiles it for {board.name} ({Path(cc).name} "
                                            f"{_compiler_version(cc)}, {board.opt}, {board.cpu})")
    return measure


def _compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "-dumpversion"], capture_output=True, text=True).stdout.strip()
    return out or "(unknown version)"


# ---------------------------------------------------------------------------- rendering


def render_glue(gen: GeneratedModel, out: Path, board_name: str, clock_hz: int, timer_hz: int,
                stack_bytes: int) -> Path:
    """``ek_model_glue.c``: the harness's description of the model on this board."""
    ios = [*gen.inputs, *gen.outputs]
    codes = []
    for io in ios:
        if io.tensor.dtype not in PROTOCOL_DTYPES:
            raise EdgekitError(f"{gen.graph.name}: the harness cannot carry {io.c_name} of type "
                               f"{io.tensor.dtype.name}")
        codes.append(PROTOCOL_DTYPES[io.tensor.dtype])
    env = environment()
    env.loader = _loader(env.loader, HARNESS_DIR)
    text = env.get_template("ek_model_glue.c.j2").render(
        version=__version__, model_name=gen.graph.name, board_name=board_name, prefix=gen.prefix,
        PREFIX=gen.prefix.upper(), inputs=list(gen.inputs), outputs=list(gen.outputs),
        dtype_codes=codes, sha256=list(bytes.fromhex(gen.graph.digest or "00" * 32)),
        clock_hz=clock_hz, timer_hz=timer_hz, stack_bytes=stack_bytes,
        pulled=any(seg.pulled is not None for seg in gen.segments))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def _loader(base, *dirs: Path):
    return jinja2.ChoiceLoader([jinja2.FileSystemLoader([str(d) for d in dirs]), base])


def render_linker_script(board: Board, out: Path, measure: bool = False, ram_code: list[str] = ()) -> Path:
    """The board's linker script. ``measure``: every region stretched to the next region's origin,
    so an oversized firmware still links and can be measured. ``ram_code``: object file names whose
    code is copied to RAM at reset and runs there (the board's code RAM, else its RAM)."""
    regions = list(board.memory)
    if measure:
        ordered = sorted(regions, key=lambda r: r.origin)
        stretched = {}
        for i, r in enumerate(ordered):
            nxt = ordered[i + 1].origin if i + 1 < len(ordered) else 2**32
            stretched[r.name] = nxt - r.origin
        regions = [type(r)(r.name, r.kind, r.origin, stretched[r.name]) for r in regions]
    env = environment()
    env.loader = _loader(env.loader, COMMON_SUPPORT)
    by_name = {r.name: r for r in regions}
    code_region = by_name[(board.code_ram_region or board.ram_region).name]
    out.write_text(env.get_template("link.ld.j2").render(
        board=board, regions=regions, flash=board.flash_region, ram=board.ram_region,
        stack_bytes=board.stack_bytes, boot_stage=board.boot_stage, code_region=code_region,
        ram_code=list(ram_code)))
    return out


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32 with polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


_CHECKSUMS = {"crc32-mpeg2": crc32_mpeg2}


def build_boot_stage(board: Board, work: Path) -> Path:
    """Assemble the board's boot stage at its load address, pad it, append its checksum, and
    render it as a C array in section ``.boot2``. Returns the C file."""
    stage = board.boot_stage
    assert stage is not None
    cc = find_tool("arm-none-eabi-gcc", _ARM_HINT)
    objcopy = find_tool("arm-none-eabi-objcopy", _ARM_HINT)
    work.mkdir(parents=True, exist_ok=True)
    src = BOARD_SUPPORT / stage.source
    elf, raw = work / "boot_stage.elf", work / "boot_stage.bin"
    _run([cc, *board.cpu_flags, "-nostdlib", "-nostartfiles", *[f"-D{k}={v}" for k, v in stage.defines],
          f"-Wl,-Ttext=0x{stage.load_origin:08X}", "-Wl,--entry=ek_boot2_entry",
          str(src), "-o", str(elf)], f"boot stage {src.name}")
    _run([objcopy, "-O", "binary", str(elf), str(raw)], "objcopy boot stage")
    code = raw.read_bytes()
    room = stage.size_bytes - 4
    if len(code) > room:
        raise ToolchainError(f"boot stage {src.name} is {len(code)} bytes; at most {room} fit")
    padded = code + bytes(room - len(code))
    data = padded + struct.pack("<I", _CHECKSUMS[stage.checksum](padded))
    env = environment()
    env.loader = _loader(env.loader, COMMON_SUPPORT)
    out = work / "ek_boot_stage.c"
    out.write_text(env.get_template("boot_stage.c.j2").render(
        board_name=board.name, source=stage.source, load_origin=stage.load_origin,
        checksum=stage.checksum, data=np.frombuffer(data, dtype=np.uint8)))
    return out


# ---------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class _Section:
    name: str
    size: int
    vma: int
    lma: int
    flags: frozenset[str]


def _sections(elf: Path) -> list[_Section]:
    objdump = find_tool("arm-none-eabi-objdump", _ARM_HINT)
    out = _run([objdump, "-h", "-w", str(elf)], "objdump").stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+\S+\s+(.*)$", line)
        if m:
            flags = frozenset(f.strip() for f in m.group(5).split(","))
            secs.append(_Section(m.group(1), int(m.group(2), 16), int(m.group(3), 16),
                                 int(m.group(4), 16), flags))
    return secs


def _symbol_sizes(elf: Path) -> dict[str, int]:
    nm = find_tool("arm-none-eabi-nm", _ARM_HINT)
    out = _run([nm, "-S", "--defined-only", str(elf)], "nm").stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def measure(elf: Path, board: Board, gen: GeneratedModel, ram_limit: int | None = None) -> FirmwareSizes:
    flash, ram = _up_to_next(board, board.flash_region), _up_to_next(board, board.ram_region)
    secs = [s for s in _sections(elf) if s.size > 0]
    flash_total = sum(s.size for s in secs if "LOAD" in s.flags and flash(s.lma))
    data_image = sum(s.size for s in secs if "LOAD" in s.flags and flash(s.lma) and ram(s.vma))
    ram_total = sum(s.size for s in secs if "ALLOC" in s.flags and ram(s.vma))
    stack = sum(s.size for s in secs if s.name == ".stack")
    code = next((s for s in secs if s.name == ".ramcode"), None)  # its image is code, not .data
    ram_code = code.size if code is not None else 0
    if code is not None and ram(code.vma):
        data_image -= ram_code
        ram_total -= ram_code
    arrays = {a.name: a for c in gen.calls for a in c.arrays}
    syms = _symbol_sizes(elf)
    weights = sum(syms.get(array_symbol(gen.prefix, a), 0) for a in arrays.values())
    in_ram = sum(syms.get(array_symbol(gen.prefix, a), 0) for n, a in arrays.items() if n in gen.ram_arrays)
    return FirmwareSizes(
        flash_weights_bytes=weights, flash_code_bytes=flash_total - weights - (data_image - in_ram),
        flash_data_bytes=data_image - in_ram, flash_limit_bytes=board.flash_bytes,
        ram_arena_bytes=gen.arena_bytes, ram_other_static_bytes=ram_total - stack - gen.arena_bytes - in_ram,
        ram_stack_bytes=stack, ram_limit_bytes=ram_limit if ram_limit is not None else board.ram_bytes,
        ram_weights_bytes=in_ram, ram_code_bytes=ram_code, code_ram_limit_bytes=_code_ram_limit(board, code))


def _code_ram_limit(board: Board, code) -> int | None:
    """The code RAM's size when the kernels' code went there (it is not in the RAM limit)."""
    region = board.code_ram_region
    return region.size_bytes if code is not None and code.size and region is not None else None


def _up_to_next(board: Board, region):
    """Whether an address is in ``region`` or past its end but below the next region: so a firmware
    linked with the stretched regions of ``render_linker_script(measure=True)`` is measured whole
    (its .bss may start beyond the RAM's end when .data alone fills it)."""
    end = min((r.origin for r in board.memory if r.origin > region.origin), default=2**32)
    return lambda address: region.origin <= address < end


def check_fits(sizes: FirmwareSizes, model_name: str, board: Board, ram_limit: int | None = None) -> None:
    problems = []
    if sizes.ram_region_bytes > sizes.ram_limit_bytes:
        has = "limit is" if ram_limit is not None else "board has"
        weights = (f", {sizes.ram_weights_bytes:,} of them weights --ram-weights copies there"
                   if sizes.ram_weights_bytes else "")
        code = (f", {sizes.ram_code_bytes:,} of them kernel code (--no-ram-kernels keeps it in flash)"
                if sizes.ram_code_bytes and sizes.code_ram_limit_bytes is None else "")
        problems.append(f"RAM needs {sizes.ram_region_bytes:,} bytes{weights}{code}, {has} {sizes.ram_limit_bytes:,} "
                        f"(over by {sizes.ram_region_bytes - sizes.ram_limit_bytes:,})")
    if sizes.code_ram_limit_bytes is not None and sizes.ram_code_bytes > sizes.code_ram_limit_bytes:
        problems.append(f"the kernels' code needs {sizes.ram_code_bytes:,} bytes of {board.code_ram_region.name}, "
                        f"which holds {sizes.code_ram_limit_bytes:,} (--no-ram-kernels keeps it in flash)")
    if sizes.flash_bytes > sizes.flash_limit_bytes:
        problems.append(f"flash needs {sizes.flash_bytes:,} bytes, board has {sizes.flash_limit_bytes:,} "
                        f"(over by {sizes.flash_bytes - sizes.flash_limit_bytes:,})")
    if problems:
        raise FirmwareTooLarge(f"{model_name} does not fit {board.name}: " + "; ".join(problems))


# ---------------------------------------------------------------------------- outputs


def write_uf2(binary: bytes, base: int, family_id: int, out: Path) -> Path:
    """UF2 (github.com/microsoft/uf2): 512-byte blocks of 256 payload bytes each."""
    blocks = [binary[i:i + 256] for i in range(0, len(binary), 256)] or [b""]
    with out.open("wb") as f:
        for n, chunk in enumerate(blocks):
            header = struct.pack("<8I", 0x0A324655, 0x9E5D5157, 0x00002000, base + 256 * n, 256, n,
                                 len(blocks), family_id)
            f.write(header + chunk.ljust(476, b"\0") + struct.pack("<I", 0x0AB16F30))
    return out


def _link(cmd: list[str]) -> str | None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    text = proc.stderr + proc.stdout
    if "overflowed by" in text or "will not fit in region" in text:
        return "overflow"
    raise ToolchainError(f"link failed: {_first_error(text)}")


def build_firmware(model_tflite: str | Path, board: Board | str, out_dir: str | Path,
                   ram_limit: int | None = None, target: Target | None = None) -> FirmwareBuild:
    """Generate, compile, link and measure the firmware for ``model_tflite`` on ``board``.

    ``ram_limit`` (bytes) replaces the board's RAM limit for the fit check, to try a model
    against a smaller part. Raises :class:`FirmwareTooLarge` (one line naming the limit and by
    how much) if the firmware does not fit."""
    board = load_board(board) if isinstance(board, str) else board
    model_tflite, out_dir = Path(model_tflite), Path(out_dir).resolve()
    with locked(out_dir):
        stage = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
        try:
            built = _build_into(stage, model_tflite, board, ram_limit, target)
            _swap_in(stage, out_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return built.moved_to(out_dir)


#: what a build writes into its folder; an earlier build's products not written again are removed
BUILD_DIRS = ("model", "harness", "boot_stage")
BUILD_FILES = ("link.ld", "firmware.elf", "firmware.map", "firmware.bin", "firmware.hex", "firmware.uf2")


def _swap_in(stage: Path, out_dir: Path) -> None:
    """Replace the build in ``out_dir`` with the one in ``stage``. A failed build never gets here,
    so the folder keeps the last good build whole; ``build.json`` goes first and comes back last,
    so a run killed half-way leaves a folder that says it holds no build."""
    old_model = out_dir / "model"
    if old_model.is_dir():
        foreign = foreign_files(old_model)
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise EdgekitError(f"{old_model}: holds {', '.join(foreign[:3])}{more}, which edgekit did not write; "
                               "move them or choose another folder")
    (out_dir / BUILD_JSON).unlink(missing_ok=True)
    trash = stage / ".replaced"
    trash.mkdir()
    for name in BUILD_DIRS:
        if (out_dir / name).exists():
            os.replace(out_dir / name, trash / name)
        if (stage / name).exists():
            os.replace(stage / name, out_dir / name)
    for name in BUILD_FILES:
        if (stage / name).exists():
            os.replace(stage / name, out_dir / name)
        else:
            (out_dir / name).unlink(missing_ok=True)
    os.replace(stage / BUILD_JSON, out_dir / BUILD_JSON)


def _arena_to_fit(sizes: FirmwareSizes) -> int | None:
    """The arena with which a firmware over its RAM limit would fit, when the excess is less than
    its arena (then planning it under that limit, which trades cycles for arena, may fit)."""
    over = sizes.ram_region_bytes - sizes.ram_limit_bytes
    return sizes.ram_arena_bytes - over if 0 < over < sizes.ram_arena_bytes else None


def _build_into(out_dir: Path, model_tflite: Path, board: Board, ram_limit: int | None,
                target: Target | None, arena_limit: int | None = None) -> FirmwareBuild:
    """Generate, compile, link and measure into ``out_dir``. A firmware over its RAM by less than its
    arena is built once more with the arena planned under the limit that fits (``codegen.fit_arena``:
    more streaming, direct convolutions), ``arena_limit``; if no plan fits that, the RAM error stands."""
    graph = read_tflite(model_tflite)
    # DSP kernels on cores that have them, unless another target is asked for (benchmarks)
    target = target or board.target()
    gen = generate(graph, out_dir / "model", prefix="model", source=model_tflite.name, target=target,
                   stack=invoke_stack(board, target), ram_limit=arena_limit)

    def smaller(sizes: FirmwareSizes) -> FirmwareBuild | None:
        fit = _arena_to_fit(sizes) if arena_limit is None else None
        if fit is None:
            return None
        try:
            return _build_into(out_dir, model_tflite, board, ram_limit, target, arena_limit=fit)
        except PlanError as exc:  # no plan that small: the RAM error stands, saying so
            try:
                check_fits(sizes, graph.name, board, ram_limit)
            except FirmwareTooLarge as too_large:
                least = f", and the smallest edgekit plans is {exc.best_bytes:,} bytes" if exc.best_bytes else ""
                raise FirmwareTooLarge(f"{too_large}; an arena of {fit:,} bytes would fit{least}") from None
            return None

    flags = compile_flags(board)
    size_flags = _size_flags(board)
    harness_inc = [BOARD_API_DIR, HARNESS_DIR, COMMON_SUPPORT, board.support_dir]
    kernel_objs = compile_kernels(gen.out_dir / "ek", board, target)
    boot_src = BOARD_SUPPORT / board.boot_stage.source if board.boot_stage else None
    support_sources = [p for p in sorted(board.support_dir.glob("*.c")) if p != boot_src]
    runtime_objs = compile_objects(
        [*(HARNESS_DIR / s for s in HARNESS_SOURCES), *(COMMON_SUPPORT / s for s in COMMON_SOURCES),
         *support_sources], size_flags, harness_inc, f"harness and board support for {board.name}")
    glue = render_glue(gen, out_dir / "harness" / "ek_model_glue.c", board.name, board.clock_hz,
                       board.timer_hz, board.stack_bytes)
    model_inc = [gen.out_dir, gen.out_dir / "ek", HARNESS_DIR, BOARD_API_DIR]
    model_objs = compile_objects([gen.out_dir / "model.c"], [*flags, "-include", "ek_op_hook.h"],
                                 model_inc, f"{graph.name} model")
    model_objs += compile_objects([gen.out_dir / "model_weights.c", glue], flags, model_inc,
                                  f"{graph.name} weights")
    objs = [*model_objs, *runtime_objs, *kernel_objs]
    if board.boot_stage is not None:
        stage_c = build_boot_stage(board, out_dir / "boot_stage")
        objs += compile_objects([stage_c], flags, [], f"boot stage for {board.name}")

    cc = find_tool("arm-none-eabi-gcc", _ARM_HINT)
    elf = out_dir / "firmware.elf"

    def link_cmd(script: Path) -> list[str]:
        return [cc, *board.cpu_flags, "-nostartfiles", "-Wl,--gc-sections",
                f"-Wl,-Map={out_dir / 'firmware.map'}", "-T", str(script), *map(str, objs),
                "-o", str(elf), "-Wl,--start-group", "-lc", "-lgcc", "-Wl,--end-group"]

    ram_code = ram_code_objects(kernel_objs, target)
    script = render_linker_script(board, out_dir / "link.ld", ram_code=ram_code)
    if _link(link_cmd(script)) == "overflow":
        # Link once more with every region stretched, only to say by how much it does not fit.
        measure_script = render_linker_script(board, out_dir / "link_measure.ld", measure=True, ram_code=ram_code)
        if _link(link_cmd(measure_script)) == "overflow":
            raise ToolchainError(f"{graph.name} on {board.name}: link overflows even unbounded regions")
        sizes = measure(elf, board, gen, ram_limit)
        elf.unlink()
        if (fitted := smaller(sizes)) is not None:
            return fitted
        check_fits(sizes, graph.name, board, ram_limit)
        raise FirmwareTooLarge(f"{graph.name} does not fit {board.name}: a memory region overflowed "
                               f"(flash {sizes.flash_bytes:,} bytes, RAM {sizes.ram_bytes:,} bytes)")
    sizes = measure(elf, board, gen, ram_limit)
    if sizes.ram_region_bytes > sizes.ram_limit_bytes and (fitted := smaller(sizes)) is not None:
        return fitted
    check_fits(sizes, graph.name, board, ram_limit)

    objcopy = find_tool("arm-none-eabi-objcopy", _ARM_HINT)
    binary, hexfile = out_dir / "firmware.bin", out_dir / "firmware.hex"
    _run([objcopy, "-O", "binary", str(elf), str(binary)], "objcopy")
    _run([objcopy, "-O", "ihex", str(elf), str(hexfile)], "objcopy")
    uf2 = None
    if board.uf2_family_id is not None:
        uf2 = write_uf2(binary.read_bytes(), board.flash_region.origin, board.uf2_family_id,
                        out_dir / "firmware.uf2")
    build = FirmwareBuild(board, graph.name, graph.digest, model_tflite, out_dir, elf, binary, hexfile, uf2,
                          sizes, gen)
    (out_dir / BUILD_JSON).write_text(json.dumps(build.to_json(), indent=2) + "\n")
    return build


def read_build_info(out_dir: str | Path) -> dict:
    """``build.json`` of a firmware directory (what ``build_firmware`` wrote)."""
    path = Path(out_dir) / BUILD_JSON
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgekitError(f"{out_dir}: no {BUILD_JSON}; build it first: edgekit build MODEL.tflite "
                           f"--board BOARD -o {out_dir}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgekitError(f"{path}: unreadable ({type(exc).__name__}); build again") from None
    wrong = _build_info_problem(info)
    if wrong:
        raise EdgekitError(f"{path}: {wrong}; build again")
    if not (Path(out_dir) / info["elf"]).is_file():
        raise EdgekitError(f"{out_dir}: {info['elf']} is missing; build again")
    return info


#: what readers of build.json rely on: key -> the type its value must have
BUILD_INFO_TYPES = {"board": str, "elf": str, "num_ops": int, "sizes": dict}
#: the sizes a profile report takes from build.json
BUILD_INFO_SIZES = ("flash_bytes", "flash_weights_bytes", "flash_code_bytes", "flash_data_bytes", "flash_limit_bytes")


def _build_info_problem(info) -> str:
    """What is wrong with a read build.json, or ''."""
    if not isinstance(info, dict):
        return "not a JSON object"
    for key, kind in BUILD_INFO_TYPES.items():
        if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool):
            return f"'{key}' is missing or not a {kind.__name__}"
    if Path(info["elf"]).name != info["elf"]:
        return "'elf' is not a file name in the build folder"
    if not all(isinstance(info["sizes"].get(k), int) for k in BUILD_INFO_SIZES):
        return "'sizes' lacks the flash sizes"
    return ""

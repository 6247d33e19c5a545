"""Boards: one declarative YAML file per board in ``boards/``, loaded into frozen dataclasses.

Every fact about a board lives in its file (memory map, clocks, timer, UART, compiler flags,
how to flash it, how to emulate it); Python only checks the file and hands the facts on. Units
are in the key names: ``*_bytes``, ``*_hz``, ``origin`` is a byte address.

A board file, annotated (see ``boards/README.md`` for every key)::

    name: nucleo-l4r5zi                 # must equal the file name
    description: ST NUCLEO-L4R5ZI ...
    cpu: cortex-m4                      # -mcpu
    fpu: fpv4-sp-d16                    # -mfpu, or none
    float_abi: hard                     # soft | softfp | hard
    irq_count: 95                       # external interrupts in the vector table
    clock_hz: 120000000                 # CPU clock the board support sets up
    timer: dwt-cyccnt                   # what ek_timer_ticks() reads
    timer_hz: 120000000
    memory:
      - {name: FLASH, kind: flash, origin: 0x08000000, size_bytes: 2097152}
      - {name: RAM, kind: ram, origin: 0x20000000, size_bytes: 655360}
      - {name: SRAM2, kind: code_ram, origin: 0x10000000, size_bytes: 32768}  # optional
    stack_bytes: 8192                   # stack reserved after .bss
    support: stm32l4                    # boards/support/<support>/
    defines: {EK_STM32_...: 1}          # -D for the board support code
    uart_baud: 115200
    opt: -O2                            # -Os | -O2 | ...
    flash_tools:                        # tried in order; the first on PATH is used
      - {tool: openocd, args: [...], install_hint: ...}
    emulator: {program: qemu-system-arm, machine: mps2-an386, icount_shift: 0}
    memory_system:                      # what the cycle model charges beyond the core's timings
      flash_wait_states: 5              # at clock_hz
      flash_read_bytes: 8               # one flash read (the array's width)
      prefetch: true                    # sequential instruction reads fetched ahead
      icache: {lines: 32, line_bytes: 32}   # the flash accelerator's caches (absent: none)
      dcache: {lines: 8, line_bytes: 32}
      sram_wait_states: 0
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..codegen.core import Target, target_for_cpu
from ..errors import EdgekitError
from ..files import BOARD_SUPPORT, BOARDS

DEFAULT_BOARD = "qemu-mps2-an386"

CPUS = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
FPUS = ("none", "fpv4-sp-d16", "fpv5-sp-d16", "fpv5-d16")
FLOAT_ABIS = ("soft", "softfp", "hard")
OPT_LEVELS = ("-O0", "-Og", "-O1", "-O2", "-O3", "-Os", "-Oz")
MEMORY_KINDS = ("flash", "ram", "code_ram")
#: kinds every board has exactly one region of (code_ram: at most one)
REQUIRED_MEMORY_KINDS = ("flash", "ram")
#: what ek_timer_ticks() can read (boards/support/*)
TIMERS = ("dwt-cyccnt", "systick", "cmsdk-timer0")
#: Cortex-M parts run from a few MHz to about 1 GHz
CLOCK_HZ_RANGE = (1_000_000, 1_000_000_000)
#: the harness and a model's deepest kernel call peak near 500 bytes of stack (measured 252-492)
MIN_STACK_BYTES = 1024
#: the core each QEMU machine emulates (a board's cpu must be its machine's)
QEMU_MACHINE_CPUS = {"mps2-an385": "cortex-m3", "mps2-an386": "cortex-m4", "mps2-an500": "cortex-m7",
                     "mps2-an505": "cortex-m33", "mps2-an521": "cortex-m33", "mps3-an524": "cortex-m33",
                     "mps3-an547": "cortex-m55", "lm3s6965evb": "cortex-m3", "netduinoplus2": "cortex-m4",
                     "microbit": "cortex-m0"}
CHECKSUMS = ("crc32-mpeg2",)  # boot-stage checksums edgekit can compute
FLASH_PLACEHOLDERS = ("elf", "hex", "bin", "uf2")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFINE_VALUE = re.compile(r"^[A-Za-z0-9_.+\-x]*$")


class BoardError(EdgekitError):
    """A board file is missing, malformed, or names a board edgekit does not know."""


@dataclass(frozen=True)
class MemoryRegion:
    name: str  # the linker script's region name
    #: "flash" (code, constants, .data image), "ram" (.data, .bss, stack) or "code_ram": a RAM
    #: the core fetches instructions from without wait states (on its instruction bus), where the
    #: kernels run from when the flash has wait states (``Target.ram_kernels``)
    kind: str
    origin: int  # byte address
    size_bytes: int

    @property
    def end(self) -> int:
        return self.origin + self.size_bytes

    def contains(self, address: int) -> bool:
        return self.origin <= address < self.end


@dataclass(frozen=True)
class FlashTool:
    tool: str  # executable name, e.g. openocd
    args: tuple[str, ...]  # with {elf} {hex} {bin} {uf2} placeholders
    install_hint: str = ""


@dataclass(frozen=True)
class EmulatorSpec:
    program: str  # e.g. qemu-system-arm
    machine: str  # -machine
    icount_shift: int  # -icount shift=N: one instruction = 2^N ns of virtual time
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cache:
    lines: int
    line_bytes: int


@dataclass(frozen=True)
class MemorySystem:
    """What the cycle model (``target/memory_model.py``, the plugin's ``ek_memory.c``) charges
    beyond the core's zero wait-state timings: the flash behind its accelerator, and RAM."""

    flash_wait_states: int  # at the board's clock_hz
    flash_read_bytes: int  # bytes one flash read delivers
    prefetch: bool
    sram_wait_states: int
    icache: Cache | None = None
    dcache: Cache | None = None


@dataclass(frozen=True)
class BootStage:
    """A boot stage the ROM loads before the image (RP2040's boot2): assembled from ``source``,
    linked at ``load_origin``, padded to ``size_bytes`` with a checksum in the last 4 bytes."""

    source: str  # relative to boards/support/
    load_origin: int
    size_bytes: int
    checksum: str
    defines: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    fpu: str
    float_abi: str
    irq_count: int
    clock_hz: int
    timer: str
    timer_hz: int
    memory: tuple[MemoryRegion, ...]
    stack_bytes: int
    support: str
    uart_baud: int
    opt: str
    defines: tuple[tuple[str, str], ...] = ()
    ram_limit_bytes: int | None = None  # emulate a smaller part than the memory map has
    flash_limit_bytes: int | None = None
    flash_tools: tuple[FlashTool, ...] = ()
    emulator: EmulatorSpec | None = None
    boot_stage: BootStage | None = None
    uf2_family_id: int | None = None
    memory_system: MemorySystem | None = None
    notes: str = ""
    path: Path | None = field(default=None, compare=False)

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    def target(self, *, winograd: bool = True, stream: bool = True) -> Target:
        """The code generator's target for this board: its core's kernels, and where its flash has
        wait states, weights staged and (with a code RAM) the kernels run from RAM
        (``codegen.core.target_for_cpu``)."""
        ws = self.memory_system.flash_wait_states if self.memory_system else 0
        return target_for_cpu(self.cpu, winograd=winograd, stream=stream, flash_wait_states=ws,
                              code_ram=self.code_ram_region is not None)

    @property
    def flash_region(self) -> MemoryRegion:
        return next(r for r in self.memory if r.kind == "flash")

    @property
    def ram_region(self) -> MemoryRegion:
        return next(r for r in self.memory if r.kind == "ram")

    @property
    def code_ram_region(self) -> MemoryRegion | None:
        return next((r for r in self.memory if r.kind == "code_ram"), None)

    @property
    def flash_bytes(self) -> int:
        """Flash the firmware may use: the declared limit, else the whole flash region."""
        return self.flash_limit_bytes if self.flash_limit_bytes is not None else self.flash_region.size_bytes

    @property
    def ram_bytes(self) -> int:
        """RAM the firmware may use (.data + .bss + stack): the declared limit, else the region."""
        return self.ram_limit_bytes if self.ram_limit_bytes is not None else self.ram_region.size_bytes

    @property
    def support_dir(self) -> Path:
        return BOARD_SUPPORT / self.support

    @property
    def cpu_flags(self) -> list[str]:
        """Compiler and linker flags for this core (ABI-relevant; used for every object)."""
        flags = [f"-mcpu={self.cpu}", "-mthumb", f"-mfloat-abi={self.float_abi}"]
        if self.fpu != "none":
            flags.insert(2, f"-mfpu={self.fpu}")
        return flags

    @property
    def c_defines(self) -> list[str]:
        """``-D`` values for the board support code and the harness."""
        base = [f"EK_BOARD_CLOCK_HZ={self.clock_hz}u", f"EK_BOARD_TIMER_HZ={self.timer_hz}u",
                f"EK_BOARD_UART_BAUD={self.uart_baud}u", f"EK_BOARD_IRQ_COUNT={self.irq_count}"]
        return base + [f"{k}={v}" for k, v in self.defines]

    def to_json(self) -> dict:
        return {
            "name": self.name, "description": self.description, "cpu": self.cpu, "fpu": self.fpu,
            "clock_hz": self.clock_hz, "timer": self.timer, "timer_hz": self.timer_hz,
            "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes,
            "memory": [{"name": r.name, "kind": r.kind, "origin": r.origin, "size_bytes": r.size_bytes}
                       for r in self.memory],
            "stack_bytes": self.stack_bytes, "emulated": self.emulated,
            "emulator": None if self.emulator is None else {
                "program": self.emulator.program, "machine": self.emulator.machine,
                "icount_shift": self.emulator.icount_shift},
            "flash_tools": [t.tool for t in self.flash_tools],
        }


# ---------------------------------------------------------------------------- validation


class _Fields:
    """Typed access to one mapping of a board file; every problem is a one-line BoardError."""

    def __init__(self, data, where: str, source: str):
        if not isinstance(data, dict):
            raise BoardError(f"{source}: {where or 'the file'} must be a mapping, got {type(data).__name__}")
        self.data, self.where, self.source = data, where, source
        self.used: set[str] = set()

    def _err(self, key: str, msg: str) -> BoardError:
        path = f"{self.where}.{key}" if self.where else key
        return BoardError(f"{self.source}: {path}: {msg}")

    def get(self, key: str, kind, required: bool = True, default=None):
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise BoardError(f"{self.source}: missing key {(self.where + '.') if self.where else ''}{key}")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._err(key, f"expected an integer, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise self._err(key, f"expected a string, got {value!r}")
        if kind is list and not isinstance(value, list):
            raise self._err(key, f"expected a list, got {value!r}")
        if kind is dict and not isinstance(value, dict):
            raise self._err(key, f"expected a mapping, got {value!r}")
        return value

    def positive(self, key: str, required: bool = True, limit: int = 2**32):
        v = self.get(key, int, required)
        if v is not None and not 0 < v <= limit:
            raise self._err(key, f"must be in 1..{limit:,}, got {v:,}")
        return v

    def choice(self, key: str, choices, required: bool = True, default=None):
        v = self.get(key, str, required, default)
        if v is not None and v not in choices:
            raise self._err(key, f"{v!r} is not one of {', '.join(choices)}")
        return v

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            where = f" in {self.where}" if self.where else ""
            raise BoardError(f"{self.source}: unknown key {extra[0]!r}{where} "
                             f"(expected {', '.join(sorted(self.used))})")


def _defines(value, where: str, source: str) -> tuple[tuple[str, str], ...]:
    f = _Fields(value or {}, where, source)
    out = []
    for k, v in f.data.items():
        f.used.add(k)
        if not isinstance(k, str) or not _C_IDENT.match(k):
            raise BoardError(f"{source}: {where}: {k!r} is not a C identifier")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise BoardError(f"{source}: {where}.{k}: expected an integer or a plain token, got {v!r}")
        text = str(v) if isinstance(v, int) else v  # plain decimal: valid in C and in .S files
        if not _DEFINE_VALUE.match(text):
            raise BoardError(f"{source}: {where}.{k}: {v!r} is not a plain C token")
        out.append((k, text))
    return tuple(out)


def _memory(value, source: str) -> tuple[MemoryRegion, ...]:
    if not isinstance(value, list) or not value:
        raise BoardError(f"{source}: memory must be a non-empty list of regions")
    regions = []
    for i, item in enumerate(value):
        f = _Fields(item, f"memory[{i}]", source)
        name = f.get("name", str)
        if not _C_IDENT.match(name):
            raise BoardError(f"{source}: memory[{i}].name: {name!r} is not a valid region name")
        kind = f.choice("kind", MEMORY_KINDS)
        origin = f.get("origin", int)
        size = f.positive("size_bytes")
        f.done()
        if origin < 0 or origin + size > 2**32:
            raise BoardError(f"{source}: memory[{i}] ({name}) lies outside the 32-bit address space")
        regions.append(MemoryRegion(name, kind, origin, size))
    for kind in MEMORY_KINDS:
        n = sum(r.kind == kind for r in regions)
        if kind in REQUIRED_MEMORY_KINDS and n != 1:
            raise BoardError(f"{source}: memory needs exactly one region of kind {kind}, found {n}")
        if n > 1:
            raise BoardError(f"{source}: memory has {n} regions of kind {kind}, at most one")
    names = [r.name for r in regions]
    if len(set(names)) != len(names):
        raise BoardError(f"{source}: memory region names repeat: {', '.join(names)}")
    ordered = sorted(regions, key=lambda r: r.origin)
    for a, b in zip(ordered, ordered[1:]):
        if b.origin < a.end:
            raise BoardError(f"{source}: memory regions {a.name} and {b.name} overlap")
    return tuple(regions)


def _cache(value, where: str, source: str) -> Cache | None:
    if value is None:
        return None
    f = _Fields(value, where, source)
    lines = f.positive("lines", limit=1024)
    line_bytes = f.positive("line_bytes", limit=4096)
    f.done()
    return Cache(lines, line_bytes)


def _memory_system(value, source: str) -> MemorySystem | None:
    if value is None:
        return None
    f = _Fields(value, "memory_system", source)
    ws = f.get("flash_wait_states", int)
    read_bytes = f.positive("flash_read_bytes", limit=64)
    prefetch = f.get("prefetch", bool)
    if not isinstance(prefetch, bool):
        raise BoardError(f"{source}: memory_system.prefetch: expected true or false")
    sram_ws = f.get("sram_wait_states", int)
    icache = _cache(f.get("icache", dict, required=False), "memory_system.icache", source)
    dcache = _cache(f.get("dcache", dict, required=False), "memory_system.dcache", source)
    f.done()
    if not 0 <= ws <= 15 or not 0 <= sram_ws <= 15:
        raise BoardError(f"{source}: memory_system: wait states must be in 0..15")
    if read_bytes & (read_bytes - 1):
        raise BoardError(f"{source}: memory_system.flash_read_bytes must be a power of two, got {read_bytes}")
    for name, c in (("icache", icache), ("dcache", dcache)):
        if c is not None and (c.line_bytes % read_bytes or c.line_bytes // read_bytes > 32):
            raise BoardError(f"{source}: memory_system.{name}.line_bytes must be 1..32 flash reads "
                             f"of {read_bytes} bytes, got {c.line_bytes}")
    return MemorySystem(ws, read_bytes, prefetch, sram_ws, icache, dcache)


def parse_board(data, source: str = "board", path: Path | None = None) -> Board:
    """Check one board file's contents and build the :class:`Board`."""
    f = _Fields(data, "", source)
    name = f.get("name", str)
    if not _NAME.match(name):
        raise BoardError(f"{source}: name {name!r} must be lower-case letters, digits, '-', '.', '_'")
    if path is not None and path.stem != name:
        raise BoardError(f"{source}: name {name!r} does not match the file name {path.name!r}")
    description = f.get("description", str)
    cpu = f.choice("cpu", CPUS)
    fpu = f.choice("fpu", FPUS)
    float_abi = f.choice("float_abi", FLOAT_ABIS)
    if fpu == "none" and float_abi != "soft":
        raise BoardError(f"{source}: float_abi {float_abi} needs an fpu (fpu is none)")
    irq_count = f.positive("irq_count", limit=496)
    clock_hz = f.positive("clock_hz")
    if not CLOCK_HZ_RANGE[0] <= clock_hz <= CLOCK_HZ_RANGE[1]:
        raise BoardError(f"{source}: clock_hz {clock_hz:,} is not a Cortex-M clock "
                         f"({CLOCK_HZ_RANGE[0]:,}..{CLOCK_HZ_RANGE[1]:,})")
    timer = f.choice("timer", TIMERS)
    timer_hz = f.positive("timer_hz")
    if timer_hz > clock_hz or (timer == "dwt-cyccnt" and timer_hz != clock_hz):
        raise BoardError(f"{source}: timer_hz {timer_hz:,} with clock_hz {clock_hz:,}: a timer counts at most "
                         "the core clock, and dwt-cyccnt exactly it")
    if timer == "dwt-cyccnt" and cpu in ("cortex-m0", "cortex-m0plus"):
        raise BoardError(f"{source}: {cpu} has no DWT cycle counter; use systick")
    memory = _memory(f.get("memory", list), source)
    stack_bytes = f.positive("stack_bytes")
    if stack_bytes % 8:
        raise BoardError(f"{source}: stack_bytes must be a multiple of 8, got {stack_bytes}")
    if stack_bytes < MIN_STACK_BYTES:
        raise BoardError(f"{source}: stack_bytes {stack_bytes:,} is too small (at least {MIN_STACK_BYTES:,})")
    support = f.get("support", str)
    if not _NAME.match(support) or not (BOARD_SUPPORT / support).is_dir():
        raise BoardError(f"{source}: support {support!r}: no directory boards/support/{support}/")
    uart_baud = f.positive("uart_baud", limit=20_000_000)
    opt = f.choice("opt", OPT_LEVELS)
    defines = _defines(f.get("defines", dict, required=False), "defines", source)
    ram_limit = f.positive("ram_limit_bytes", required=False)
    flash_limit = f.positive("flash_limit_bytes", required=False)
    flash_region = next(r for r in memory if r.kind == "flash")
    ram_region = next(r for r in memory if r.kind == "ram")
    if ram_limit is not None and ram_limit > ram_region.size_bytes:
        raise BoardError(f"{source}: ram_limit_bytes {ram_limit:,} exceeds the RAM region "
                         f"({ram_region.size_bytes:,} bytes)")
    if flash_limit is not None and flash_limit > flash_region.size_bytes:
        raise BoardError(f"{source}: flash_limit_bytes {flash_limit:,} exceeds the flash region "
                         f"({flash_region.size_bytes:,} bytes)")
    if stack_bytes >= (ram_limit or ram_region.size_bytes):
        raise BoardError(f"{source}: stack_bytes {stack_bytes:,} does not leave any RAM")

    tools = []
    for i, item in enumerate(f.get("flash_tools", list, required=False, default=[])):
        t = _Fields(item, f"flash_tools[{i}]", source)
        tool = t.get("tool", str)
        args = t.get("args", list)
        if not all(isinstance(a, str) for a in args):
            raise BoardError(f"{source}: flash_tools[{i}].args must be strings")
        for a in args:
            for ph in re.findall(r"\{([^}]*)\}", a):
                if ph not in FLASH_PLACEHOLDERS:
                    raise BoardError(f"{source}: flash_tools[{i}].args: unknown placeholder {{{ph}}} "
                                     f"(known: {', '.join('{' + p + '}' for p in FLASH_PLACEHOLDERS)})")
        hint = t.get("install_hint", str, required=False, default="")
        t.done()
        tools.append(FlashTool(tool, tuple(args), hint))

    emulator = None
    emu = f.get("emulator", dict, required=False)
    if emu is not None:
        e = _Fields(emu, "emulator", source)
        program = e.get("program", str)
        machine = e.get("machine", str)
        shift = e.get("icount_shift", int)
        if not 0 <= shift <= 10:
            raise BoardError(f"{source}: emulator.icount_shift must be in 0..10, got {shift}")
        if QEMU_MACHINE_CPUS.get(machine) != cpu:
            emulated = QEMU_MACHINE_CPUS.get(machine)
            raise BoardError(f"{source}: emulator.machine {machine} " + (
                f"emulates a {emulated}, not the board's {cpu}" if emulated else
                f"is not one edgekit knows the core of ({', '.join(sorted(QEMU_MACHINE_CPUS))})"))
        extra = e.get("extra_args", list, required=False, default=[])
        if not all(isinstance(a, str) for a in extra):
            raise BoardError(f"{source}: emulator.extra_args must be strings")
        e.done()
        emulator = EmulatorSpec(program, machine, shift, tuple(extra))
    if emulator is None and not tools:
        raise BoardError(f"{source}: a board needs flash_tools or an emulator")

    boot_stage = None
    bs = f.get("boot_stage", dict, required=False)
    if bs is not None:
        b = _Fields(bs, "boot_stage", source)
        src = b.get("source", str)
        if not (BOARD_SUPPORT / src).is_file():
            raise BoardError(f"{source}: boot_stage.source: no file boards/support/{src}")
        load_origin = b.get("load_origin", int)
        size = b.positive("size_bytes", limit=65536)
        checksum = b.choice("checksum", CHECKSUMS)
        bdefs = _defines(b.get("defines", dict, required=False), "boot_stage.defines", source)
        b.done()
        boot_stage = BootStage(src, load_origin, size, checksum, bdefs)
    uf2 = f.get("uf2_family_id", int, required=False)
    memory_system = _memory_system(f.get("memory_system", dict, required=False), source)
    notes = f.get("notes", str, required=False, default="")
    f.done()
    return Board(name=name, description=description, cpu=cpu, fpu=fpu, float_abi=float_abi,
                 irq_count=irq_count, clock_hz=clock_hz, timer=timer, timer_hz=timer_hz,
                 memory=memory, stack_bytes=stack_bytes, support=support, uart_baud=uart_baud,
                 opt=opt, defines=defines, ram_limit_bytes=ram_limit, flash_limit_bytes=flash_limit,
                 flash_tools=tuple(tools), emulator=emulator, boot_stage=boot_stage,
                 uf2_family_id=uf2, memory_system=memory_system, notes=notes.strip(), path=path)


# ---------------------------------------------------------------------------- loading


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.yaml"))


#: a board file is a page of facts; anything much larger is not one
MAX_BOARD_FILE_BYTES = 64 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a board file needs none, and a few hundred bytes of
    nested aliases expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def load_board_file(path: str | Path) -> Board:
    path = Path(path)
    source = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BoardError(f"{source}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_BOARD_FILE_BYTES:
        raise BoardError(f"{source}: {len(raw):,} bytes; a board file is at most {MAX_BOARD_FILE_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BoardError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise BoardError(f"{source}:{where}: not valid YAML ({problem})") from None
    return parse_board(data, source, path)


def load_board(name_or_path: str | Path) -> Board:
    """A board by name (``boards/<name>.yaml``) or by the path of a board file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        return load_board_file(p)
    path = BOARDS / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(board_names())
        raise BoardError(f"unknown board {str(name_or_path)!r} (known: {known})")
    return load_board_file(path)


def all_boards() -> list[Board]:
    return [load_board_file(BOARDS / f"{n}.yaml") for n in board_names()]


def emulated_twin(board: Board) -> Board:
    """The emulated board with ``board``'s core, its FPU too if one has it (the board itself if
    emulated): where a real board's kernels run when its cycles are estimated without the
    hardware. The int8 kernels a core gets do not depend on its FPU."""
    if board.emulated:
        return board
    same_core = [b for b in all_boards() if b.emulated and b.cpu == board.cpu]
    if not same_core:
        raise BoardError(f"no emulated board has {board.name}'s core ({board.cpu}): "
                         "its cycles cannot be estimated without the hardware")
    return next((b for b in same_core if b.fpu == board.fpu), same_core[0])

"""``edgekit deploy`` and ``edgekit profile``: a model onto a board, run there, checked.

deploy: convert (a Keras model; calibration data required, random data only when asked) ->
plan, generate, build the firmware (edgekit.target.build) -> start QEMU (emulated boards) or flash the
board -> profile on the device (edgekit.harness.profile): latency, RAM, flash, and every output
compared with tflite-micro bit for bit. Progress goes to ``log`` one line per step; the result
has a short summary and a JSON form.

profile_target: the same last step for a firmware already built (``--build DIR``) or built
here from a ``.tflite`` (emulated boards), or for a board already flashed (``--port``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..errors import CalibrationDataError, EdgekitError, ModelFormatError
from ..folders import locked, write_atomic
from ..frontend.convert import convert_model
from ..frontend.keras_model import float_top1
from ..target import cycles, emulator
from ..target.boards import emulated_twin, load_board
from ..target.build import build_firmware, read_build_info
from ..target.flash import flash
from . import Device, open_transport
from .profile import profile

Log = Callable[[str], None]
DEPLOY_JSON = "deploy.json"  # in a build folder: which .tflite it was built from


def _nolog(_msg: str) -> None:
    pass


# ---------------------------------------------------------------------------- connecting


@contextlib.contextmanager
def connect(board, port: str | None, elf: Path | None, log: Log) -> Iterator:
    """A :class:`Device` on ``port``, or on a QEMU started here for an emulated board."""

    if port is None:
        if not board.emulated:
            raise EdgekitError(f"{board.name} is a real board: give its serial port, e.g. --port /dev/ttyACM0")
        if elf is None:
            raise EdgekitError(f"to start {board.name} in QEMU edgekit needs a firmware: give --model or --build")

        with emulator.start(board, elf) as emu:
            log(f"started {board.emulator.program} -M {board.emulator.machine}, serial on {emu.port_url}")
            transport = open_transport(emu.port_url)
            try:
                yield Device(transport, log=log)
            finally:
                transport.close()
    else:
        transport = open_transport(port, baudrate=board.uart_baud)
        try:
            yield Device(transport, log=log)
        finally:
            transport.close()


def flash_facts(sizes) -> dict:
    """The profile report's flash entry from a build's :class:`FirmwareSizes`."""
    return {"total_bytes": sizes.flash_bytes, "weight_bytes": sizes.flash_weights_bytes,
            "code_bytes": sizes.flash_code_bytes, "data_bytes": sizes.flash_data_bytes,
            "limit_bytes": sizes.flash_limit_bytes, "ram_weight_bytes": sizes.ram_weights_bytes,
            "ram_code_bytes": sizes.ram_code_bytes}


def _flash_from_info(info: dict) -> dict | None:
    s = info.get("sizes")
    if not s:
        return None
    return {"total_bytes": s["flash_bytes"], "weight_bytes": s["flash_weights_bytes"],
            "code_bytes": s["flash_code_bytes"], "data_bytes": s["flash_data_bytes"],
            "limit_bytes": s["flash_limit_bytes"], "ram_weight_bytes": s.get("ram_weights_bytes", 0),
            "ram_code_bytes": s.get("ram_code_bytes", 0)}


def _model_of_build(build_dir: Path, info: dict) -> Path:
    rec = build_dir / DEPLOY_JSON
    if rec.is_file():
        try:
            path = Path(json.loads(rec.read_text())["tflite"])
        except (OSError, ValueError, KeyError):
            path = None
        if path is not None and path.is_file():
            return path
    candidates = sorted(build_dir.glob("*.tflite"))
    if len(candidates) == 1:
        return candidates[0]
    raise EdgekitError(f"{build_dir}: no record of the .tflite {info.get('model', 'it')} was built from: "
                       "also give --model M.tflite")


# ---------------------------------------------------------------------------- profile


def profile_target(board_name: str, port: str | None = None, model: Path | None = None,
                   build_dir: Path | None = None, inputs: Path | None = None, samples: int = 10,
                   seed: int = 0, report_path: Path | None = None, deadline_s: float | None = None,
                   labels: Path | None = None, emulate: bool = False, log: Log = _nolog):
    """``edgekit profile``. Returns the :class:`ProfileReport`. ``emulate``: a real board's
    firmware kernels run on the emulated board of its core, and the cycles are estimated with
    the real board's memory system and clock."""

    board, modelled = _run_where(board_name, emulate, port)
    elf, flash, num_ops = None, None, 0
    with contextlib.ExitStack() as stack:
        if build_dir is not None:
            info = read_build_info(build_dir)
            if info.get("board") != board.name:
                raise EdgekitError(f"{build_dir} was built for {info.get('board')}, not {board.name}")
            elf = Path(build_dir) / info["elf"]
            flash = _flash_from_info(info)
            num_ops = int(info.get("num_ops", 0))
            model = model or _model_of_build(Path(build_dir), info)
        elif port is None and board.emulated:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgekit-fw-")))
            log(f"building the firmware for {board.name} ...")
            fw = build_firmware(model, board, tmp)
            elf, flash, num_ops = fw.elf, flash_facts(fw.sizes), len(fw.generated.calls)
        elif port is not None and flash is None:
            log("note: flash size unknown without the build folder (--build DIR)")
        run_board, cycle_file = stack.enter_context(with_cycle_plugin(board, port, elf, num_ops, modelled))
        dev = stack.enter_context(connect(run_board, port, elf, log))
        report = profile(dev, model, board.name, emulated=board.emulated,
                         icount_shift=board.emulator.icount_shift if board.emulator else 0,
                         samples=samples, seed=seed, inputs_file=inputs, report_path=report_path,
                         flash=flash, deadline_s=deadline_s, labels=labels, log=log)
        attach_cycles(report, cycle_file, log)
        return report


def _run_where(board_name: str, emulate: bool, port: str | None):
    """(the board the firmware runs on, the board the cycles are estimated for)."""
    board = load_board(board_name)
    if not emulate:
        return board, board
    if port is not None:
        raise EdgekitError("--emulate runs without the hardware: drop --port")
    return emulated_twin(board), board


@contextlib.contextmanager
def with_cycle_plugin(board, port: str | None, elf: Path | None, num_ops: int, memory_of=None) -> Iterator:
    """(board to start, file the cycle plugin writes): an emulated board whose core has a cycle
    model runs with the QEMU cycle plugin (edgekit.target.cycles), estimating for ``memory_of``'s
    memory system and clock (default: the board's own); otherwise (board, None)."""

    if port is not None or elf is None or not num_ops or not board.emulated or not cycles.has_model(board.cpu):
        yield board, None
        return
    with cycles.instrumented(board, elf, num_ops, memory_of=memory_of) as (plugged, out):
        yield plugged, out


def attach_cycles(report, cycle_file: Path | None, log: Log) -> None:
    """Add the cycle plugin's estimate (median invoke) to the report, if it ran."""
    if cycle_file is None:
        return

    try:
        report.cycles = cycles.read(cycle_file).to_json()
    except cycles.CycleModelError as exc:
        log(f"note: no cycle estimate: {exc}")
        return
    report.write()


# ---------------------------------------------------------------------------- deploy


@dataclass
class DeployResult:
    model: str
    board: str
    out_dir: Path
    tflite: Path
    converted: bool = False
    convert_summary: str = ""
    convert_json: dict | None = None
    build_summary: str = ""
    build_json: dict | None = None
    profile: object = None  # ProfileReport
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.profile is not None and self.profile.passed

    def summary(self) -> str:
        lines = [f"deployed {self.model} to {self.board}: {self.out_dir}"]
        if self.profile is not None:
            lines.append(self.profile.summary(max_ops=5))
            if self.profile.path is not None:
                lines.append(f"full report: {self.profile.path}")
        lines.append("steps: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in self.steps))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"model": self.model, "board": self.board, "out_dir": str(self.out_dir),
                "tflite": str(self.tflite), "converted": self.converted, "passed": self.passed,
                "convert": self.convert_json, "build": self.build_json,
                "profile": self.profile.to_json() if self.profile is not None else None,
                "steps": [{"step": n, "seconds": round(s, 3)} for n, s in self.steps]}


def _is_keras(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in (".keras", ".h5", ".hdf5")


def deploy(model: Path, board_name: str, calib: Path | None = None, synthetic_calib: bool = False,
           samples: int = 10, seed: int = 0, out_dir: Path | None = None, port: str | None = None,
           report_path: Path | None = None, winograd: bool = True, deadline_s: float | None = None,
           options: dict | None = None,
           inputs: Path | None = None, labels: Path | None = None, emulate: bool = False,
           log: Log = _nolog, ram_limit: int | None = None) -> DeployResult:
    """Convert (a Keras model), plan, generate, build, flash or start QEMU, run ``samples`` inputs
    and compare them with tflite-micro; ``winograd=False`` keeps 3x3 convolutions direct;
    ``options``: Target fields the command line sets (``stream``, ``stream_cycles_budget``, ``pull_input``,
    ``ram_weights``).
    ``emulate``: run a real board's kernels on the emulated board of its core, with cycles
    estimated for the real board's memory system and clock. ``ram_limit``: the firmware's RAM must
    fit it (``build_firmware``: a smaller arena is planned where it does not); emulating, the real
    board's RAM is the limit by default."""
    model = Path(model)
    board, modelled = _run_where(board_name, emulate, port)  # a wrong board name fails before any work
    if not model.exists():
        raise ModelFormatError(f"{model}: no such model file or folder")
    keras = _is_keras(model)
    if not keras and model.suffix.lower() != ".tflite":
        raise ModelFormatError(f"{model}: expected .keras, .h5, a SavedModel folder or .tflite")
    if keras and calib is None and not synthetic_calib:
        raise CalibrationDataError(f"{model.name} is a Keras model: give calibration data with --calib DATA "
                                   "(.npy, .npz or a folder of images), or --synthetic-calib to calibrate "
                                   "on random data (accuracy unknown)")
    if not board.emulated and port is None:
        raise EdgekitError(f"{board.name} is a real board: give its serial port, e.g. --port /dev/ttyACM0")
    stem = model.stem if model.is_file() else model.name
    out_dir = Path(out_dir) if out_dir else Path("out") / f"{stem}-{board.name}"
    with locked(out_dir):  # one deploy at a time per folder
        return _deploy_into(out_dir, model, stem, keras, board, calib, synthetic_calib, samples, seed, port,
                            report_path, winograd, deadline_s, inputs, labels, log, modelled,
                            options, ram_limit)


def _deploy_into(out_dir: Path, model: Path, stem: str, keras: bool, board, calib: Path | None,
                 synthetic_calib: bool, samples: int, seed: int, port: str | None, report_path: Path | None,
                 winograd: bool, deadline_s: float | None, inputs: Path | None, labels: Path | None,
                 log: Log, modelled=None, options: dict | None = None,
                 ram_limit: int | None = None) -> DeployResult:
    result = DeployResult(stem, board.name, out_dir, model)
    if ram_limit is None and modelled is not None and modelled is not board:
        ram_limit = modelled.ram_bytes  # the twin has more RAM than the board the firmware is for

    @contextlib.contextmanager
    def step(name: str):
        t0 = time.monotonic()
        yield
        result.steps.append((name, time.monotonic() - t0))

    if keras:
        tflite = out_dir / f"{stem}.tflite"
        cal = "synthetic random data (accuracy unknown)" if synthetic_calib else str(calib)
        log(f"[1/4] convert {model.name} to full int8, calibrated on {cal}")
        with step("convert"):
            rep = convert_model(model, tflite, calib=calib, synthetic=synthetic_calib,
                                log=lambda m: log(f"      {m}"))
        result.converted, result.tflite = True, tflite
        result.convert_summary, result.convert_json = rep.summary(), rep.to_json()
        for line in rep.summary().splitlines():
            log(f"      {line}")
    else:
        if calib is not None or synthetic_calib:
            log("note: the model is already int8 .tflite: calibration options are not used")
        tflite = model
        log(f"[1/4] {model.name}: already .tflite, no conversion")

    log(f"[2/4] plan, generate and build the firmware for {board.name} ({board.description})")
    with step("build"):
        # the real board's target when its kernels run on an emulated twin (--emulate)
        target = dataclasses.replace((modelled or board).target(winograd=winograd), **(options or {}))
        fw = build_firmware(tflite, board, out_dir, target=target, ram_limit=ram_limit)
    write_atomic(out_dir / DEPLOY_JSON, json.dumps({"tflite": str(tflite.resolve()), "board": board.name,
                                                    "source": str(model.resolve())}, indent=2) + "\n")
    result.build_summary, result.build_json = fw.summary(), fw.to_json()
    s = fw.sizes
    log(f"      {len(fw.generated.calls)} operators, arena {s.ram_arena_bytes:,} bytes "
        f"(planner: {fw.generated.plan.algorithm}); flash {s.flash_bytes:,} bytes (weights "
        f"{s.flash_weights_bytes:,}), RAM {s.ram_bytes:,} bytes with a {s.ram_stack_bytes:,}-byte stack"
        + (f" and {s.ram_weights_bytes:,} bytes of weights" if s.ram_weights_bytes else "")
        + (f"; the kernels' {s.ram_code_bytes:,} bytes of code run from RAM (--no-ram-kernels: from flash)"
           if s.ram_code_bytes else ""))
    if fw.generated.limit_note:
        log(f"      {fw.generated.limit_note}")
    if fw.generated.staged_ops:
        log(f"      {len(fw.generated.staged_ops)} operators copy their weights ({fw.generated.staged_bytes:,} bytes "
            "in all) into the arena before they run: flash read once per weight (--stage-weights 0: none)")

    report_path = report_path or out_dir / "profile.json"
    with contextlib.ExitStack() as stack:
        if board.emulated:
            log(f"[3/4] start QEMU ({board.emulator.machine}, -icount shift={board.emulator.icount_shift})")
        else:
            log(f"[3/4] flash {board.name}")
            with step("flash"):
                _flash(fw, log)
        run_board, cycle_file = stack.enter_context(
            with_cycle_plugin(board, port, fw.elf, len(fw.generated.calls), modelled))
        dev = stack.enter_context(connect(run_board, port, fw.elf, lambda m: log(f"      {m}")))
        given = f"the inputs of {inputs.name} and " if inputs is not None else ""
        log(f"[4/4] run {given}{samples} random input(s) on the device, compare with tflite-micro")
        with step("run"):
            try:
                result.profile = profile(dev, tflite, board.name, emulated=board.emulated,
                                         icount_shift=board.emulator.icount_shift if board.emulator else 0,
                                         samples=samples, seed=seed, report_path=report_path,
                                         flash=flash_facts(fw.sizes), deadline_s=deadline_s,
                                         inputs_file=inputs, labels=labels,
                                         float_top1=(lambda xs: float_top1(model, xs)) if keras else None,
                                         log=lambda m: log(f"      {m}"))
            except EdgekitError:
                log(f"      what was measured before the failure: {report_path}")
                raise
            attach_cycles(result.profile, cycle_file, lambda m: log(f"      {m}"))
    return result


def _flash(fw, log: Log) -> None:
    result = flash(fw.out_dir, fw.board)
    log(f"      flashed with {result.tool}")

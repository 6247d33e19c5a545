"""Measure a model on a device and check its outputs against tflite-micro.

``profile(device, model_path, ...)``: handshake (the device's model hash must be the .tflite's),
run seeded random inputs and the user's ``.npy`` inputs, collect latency (whole inference and per
operator), RAM (static .data + .bss, stack high-water mark) and flash (from the build report),
compare every output with the ``tflite-micro`` interpreter on the host bit for bit. The JSON report
is rewritten after every inference, so a failure midway leaves what was gathered.

Time units: on an emulated board (QEMU with ``-icount shift=S``) one instruction takes 2^S ns of
virtual time, so ticks become *instructions*; on a real board ticks become *cycles* and ms at the
board's clock.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import EdgekitError, ModelFormatError, ReferenceUnavailable
from ..folders import write_atomic
from ..frontend import reference
from ..ir import Graph, dequantize_values, parse_tflite
from ..ir.analysis import totals
from ..target.host import load_inputs, random_inputs
from . import protocol as P
from .device import Device

Log = Callable[[str], None]

#: TFLite TensorType codes of the numpy dtypes the harness reports
_DTYPE_CODE = {v: k for k, v in P.DTYPE_CODES.items()}


class ModelMismatch(EdgekitError):
    """The device runs a different model (or different I/O) than the one given."""


# ---------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Timing:
    """How timer ticks become the unit we report."""

    unit: str  # "instructions" (emulated board) or "cycles" (real board)
    per_tick: float  # units per tick
    timer_hz: int
    real_time: bool  # ms at the board clock is meaningful (real boards only)

    def convert(self, ticks: float) -> int:
        """Whole instructions or cycles."""
        return int(round(ticks * self.per_tick))

    def ms(self, ticks: float) -> float | None:
        return ticks * 1000.0 / self.timer_hz if self.real_time else None

    def to_json(self) -> dict:
        return {"unit": self.unit, "units_per_tick": self.per_tick, "timer_hz": self.timer_hz,
                "ms_meaningful": self.real_time}


def timing_for(info: P.HelloReply, emulated: bool, icount_shift: int = 0) -> Timing:
    if emulated:
        # -icount shift=S: every instruction advances virtual time by 2^S ns
        return Timing("instructions", 1e9 / (2 ** icount_shift) / info.timer_hz, info.timer_hz, False)
    return Timing("cycles", info.clock_hz / info.timer_hz, info.timer_hz, True)


# ---------------------------------------------------------------------------- report


@dataclass
class ProfileReport:
    """Everything measured so far; ``write()`` saves it atomically as JSON."""

    model: str
    model_path: str
    model_sha256: str
    board: str
    path: Path | None = None
    status: str = "starting"
    error: str = ""
    device: dict = field(default_factory=dict)
    timing: Timing | None = None
    reference: str = ""
    reference_note: str = ""
    inputs_description: str = ""
    samples: list[dict] = field(default_factory=list)
    op_types: list[str] = field(default_factory=list)
    flash: dict | None = None
    link: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cycles: dict | None = None  # emulated boards: the cycle plugin's estimate (edgekit.target.cycles)
    accuracy: dict | None = None  # with --labels: top-1 on the device, of the reference, of the float model

    # ------------------------------------------------------------------ summaries

    @property
    def passed(self) -> bool:
        return (self.status == "complete" and bool(self.samples) and bool(self.reference)
                and all(s["equal"] for s in self.samples))

    @property
    def equal_count(self) -> int:
        return sum(1 for s in self.samples if s["equal"])

    def latency(self) -> dict | None:
        if not self.samples or self.timing is None:
            return None
        ticks = [s["ticks"] for s in self.samples]
        med = statistics.median(ticks)
        t = self.timing
        out = {"unit": t.unit, "median": t.convert(med), "min": t.convert(min(ticks)),
               "max": t.convert(max(ticks)), "ticks_median": med}
        if t.real_time:
            out["ms_median"] = t.ms(med)
        return out

    def operators(self) -> list[dict]:
        rows = [s["op_ticks"] for s in self.samples if s.get("op_ticks")]
        if not rows or self.timing is None:
            return []
        overhead = statistics.median(s["timer_overhead_ticks"] for s in self.samples)
        total = sum(max(0.0, statistics.median(col) - overhead) for col in zip(*rows)) or 1.0
        ops = []
        for i, col in enumerate(zip(*rows)):
            med = max(0.0, statistics.median(col) - overhead)
            ops.append({"index": i, "type": self.op_types[i] if i < len(self.op_types) else "?",
                        "ticks_median": statistics.median(col), self.timing.unit: self.timing.convert(med),
                        "share": med / total})
        return ops

    def ram(self) -> dict:
        d = self.device
        peak = max((s["stack_peak_bytes"] for s in self.samples), default=None)
        out = {"arena_bytes": d.get("arena_bytes"), "static_ram_bytes": d.get("static_ram_bytes"),
               "stack_peak_bytes": peak, "stack_reserve_bytes": d.get("stack_reserve_bytes")}
        if peak is not None and d.get("static_ram_bytes") is not None:
            out["total_bytes"] = d["static_ram_bytes"] + peak
        return out

    def to_json(self) -> dict:
        return {
            "model": self.model, "model_path": self.model_path, "model_sha256": self.model_sha256,
            "board": self.board, "status": self.status, "error": self.error, "passed": self.passed,
            "reference": self.reference, "reference_note": self.reference_note,
            "inputs": self.inputs_description, "device": self.device,
            "timing": self.timing.to_json() if self.timing else None,
            "latency": self.latency(), "operators": self.operators(), "ram": self.ram(),
            "flash": self.flash, "samples_run": len(self.samples), "samples_equal": self.equal_count,
            "samples": self.samples, "link": self.link, "notes": self.notes,
            "estimated_cycles": self.cycles, "accuracy": self.accuracy,
        }

    def write(self) -> None:
        if self.path is None:
            return
        write_atomic(self.path, json.dumps(self.to_json(), indent=2) + "\n")

    # ------------------------------------------------------------------ text

    def summary(self, max_ops: int | None = None) -> str:
        """Text for a terminal; ``max_ops`` keeps only the slowest operators."""
        lines = [f"{self.model} on {self.board}: {self.inputs_description}"]
        if self.reference_note:
            lines.append(f"  note: {self.reference_note}")
        lat = self.latency()
        if lat:
            u = lat["unit"]
            extra = f", {lat['ms_median']:.3f} ms at {self.device.get('clock_hz', 0) / 1e6:g} MHz" \
                if "ms_median" in lat else ""
            spread = "" if lat["min"] == lat["max"] else f" (min {lat['min']:,.0f}, max {lat['max']:,.0f})"
            lines.append(f"  latency: {lat['median']:,.0f} {u} per inference{extra}{spread}")
        est = self.cycles["total"] if self.cycles else None
        if est:
            lines.append(f"  estimated {self.cycles['core']} cycles: {est['estimated_cycles']:,.0f} per inference "
                         f"({est['estimated_cycles'] / max(est['instructions'], 1):.2f} per instruction; "
                         f"{self.cycles['model']}, {self.cycles.get('memory', 'zero wait states')})"
                         + (f", {est['estimated_ms']:.3f} ms at {self.cycles['clock_hz'] / 1e6:g} MHz"
                            if est.get("estimated_ms") is not None and self.cycles.get("clock_hz") else ""))
        ops = self.operators()
        if ops:
            head = f"  per operator ({self.timing.unit}, timer overhead removed)"
            if max_ops is not None and len(ops) > max_ops:
                head += f", the {max_ops} slowest of {len(ops)}"
                ops = sorted(sorted(ops, key=lambda o: -o["share"])[:max_ops], key=lambda o: o["index"])
            est_ops = self.cycles["operators"] if self.cycles else []
            if est_ops:
                head += "; estimated cycles"
            lines.append(head + ":")
            for o in ops:
                cyc = (f" {est_ops[o['index']]['estimated_cycles']:>14,}"
                       if o["index"] < len(est_ops) else "")
                lines.append(f"    {o['index']:>3} {o['type']:<18} {o[self.timing.unit]:>14,.0f} "
                             f"{100 * o['share']:5.1f}%{cyc}")
        acc = self.accuracy
        if acc:
            fl = "n/a" if acc["float_top1"] is None else f"{100 * acc['float_top1']:.1f} %"
            lines.append(f"  accuracy on {acc['labelled']} labelled inputs (top-1): device "
                         f"{100 * acc['device_top1']:.1f} %, {self.reference} {100 * acc['reference_top1']:.1f} %, "
                         f"float model {fl}")
        ram = self.ram()
        if ram["static_ram_bytes"] is not None:
            peak = ram["stack_peak_bytes"]
            stack = f" + stack peak {peak:,}" if peak is not None else ""
            total = f" = {ram['total_bytes']:,} bytes" if "total_bytes" in ram else ""
            code = (self.flash or {}).get("ram_code_bytes")
            what = f".data + .bss + kernel code {code:,}" if code else ".data + .bss"
            lines.append(f"  RAM: static {ram['static_ram_bytes']:,} ({what}, of which arena "
                         f"{ram['arena_bytes']:,}){stack}{total}")
        if self.flash:
            f = self.flash
            parts = [f"{f['total_bytes']:,} bytes"]
            if f.get("weight_bytes") is not None:
                in_ram = f" ({f['ram_weight_bytes']:,} of them copied to RAM)" if f.get("ram_weight_bytes") else ""
                parts.append(f"weights {f['weight_bytes']:,}{in_ram}, code and the rest "
                             f"{f['total_bytes'] - f['weight_bytes']:,}")
            lines.append("  flash: " + ", ".join(parts))
        for n in self.notes:
            lines.append(f"  note: {n}")
        if self.status != "complete":
            lines.append(f"  stopped after {len(self.samples)} inference(s): {self.error}")
        if self.samples:
            verdict = "PASS" if self.passed else "FAIL"
            lines.append(f"  {verdict}: {self.equal_count}/{len(self.samples)} outputs equal to "
                         f"{self.reference or 'no reference'}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- checks


def check_device_model(info: P.HelloReply, graph: Graph, model_sha256: str, model_name: str) -> None:
    if info.model_sha256 != model_sha256:
        raise ModelMismatch(
            f"the device runs another model (sha256 {info.model_sha256[:12]}...) than {model_name} "
            f"({model_sha256[:12]}...): flash the firmware built from {model_name}, "
            "or give the model it was built from")

    def check(kind, infos, indices):
        if len(infos) != len(indices):
            raise ModelMismatch(f"the device reports {len(infos)} {kind}s, {model_name} has {len(indices)}")
        for k, (ti, idx) in enumerate(zip(infos, indices)):
            t = graph.tensors[idx]
            code = _DTYPE_CODE.get(t.dtype.np_name)
            if ti.shape != tuple(t.shape) or ti.nbytes != t.nbytes or code != ti.dtype_code:
                raise ModelMismatch(f"{kind} {k}: the device reports {ti.dtype} {list(ti.shape)} "
                                    f"({ti.nbytes} bytes), {model_name} has {t.dtype.np_name} {list(t.shape)}")

    check("input", info.inputs, graph.inputs)
    check("output", info.outputs, graph.outputs)
    if info.num_ops != len(graph.ops):
        raise ModelMismatch(f"the device reports {info.num_ops} operators, {model_name} has {len(graph.ops)}")


def reference_outputs(model: bytes, samples: list[list[np.ndarray]], log: Log) -> tuple[list, str, str]:
    """(outputs per sample, reference name, note). TFLM if it runs the model, else LiteRT."""

    try:
        return reference.run_tflm(model, samples), "tflite-micro", ""
    except ReferenceUnavailable as exc:
        tflm_error = str(exc)
    try:
        outputs = reference.run_litert(model, samples)
    except ReferenceUnavailable as exc:
        raise ReferenceUnavailable(f"neither reference could run this model: {tflm_error}; {exc}") from None
    note = (f"tflite-micro could not run this model ({tflm_error}); outputs are compared with LiteRT's "
            "reference kernels instead, which round FULLY_CONNECTED and SOFTMAX differently in places")
    log(f"note: {note}")
    return outputs, "LiteRT reference kernels", note


def _split_outputs(raw: bytes, graph: Graph) -> list[np.ndarray]:
    outs, pos = [], 0
    for idx in graph.outputs:
        t = graph.tensors[idx]
        outs.append(np.frombuffer(raw[pos:pos + t.nbytes], dtype=t.dtype.numpy).reshape(t.shape))
        pos += t.nbytes
    return outs


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> int | float:
    if a.size == 0:
        return 0
    d = np.max(np.abs(a.astype(np.float64) - np.asarray(b).reshape(a.shape).astype(np.float64)))
    return int(d) if np.issubdtype(a.dtype, np.integer) else float(d)


# ---------------------------------------------------------------------------- profile


def load_labels(path: Path, count: int) -> np.ndarray:
    """A class per labelled input: a .npy of integers (N,) or of scores / one-hot rows (N, C)."""
    if count == 0:
        raise EdgekitError("--labels needs --inputs: the labels belong to its samples")
    try:
        y = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is one line
        raise EdgekitError(f"{path}: cannot read as .npy ({type(exc).__name__})") from None
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise EdgekitError(f"{path}: labels must be (N,) classes or (N, C) scores, not {y.shape} {y.dtype}")
    if len(y) != count:
        raise EdgekitError(f"{path}: {len(y)} labels for {count} inputs")
    return y.astype(np.int64)


def accuracy(classes: np.ndarray, device_top1: list[int], expected: list, data: list, graph: Graph,
             float_top1) -> dict:
    """Top-1 accuracy over the labelled (first) samples."""
    n = len(classes)
    ref = np.array([int(np.argmax(e[0])) for e in expected[:n]])
    fl = None
    if float_top1 is not None:
        tensors = [graph.tensors[i] for i in graph.inputs]
        floats = [[dequantize_values(x, t.scale, t.zero_point) for x, t in zip(s, tensors)] for s in data[:n]]
        got = float_top1(floats)
        fl = None if got is None else float(np.mean(np.asarray(got) == classes))
    return {"labelled": n, "device_top1": float(np.mean(np.array(device_top1[:n]) == classes)),
            "reference_top1": float(np.mean(ref == classes)), "float_top1": fl}


def collect_samples(graph: Graph, samples: int, seed: int,
                    inputs_file: Path | None) -> tuple[list, list[str], str]:
    """(samples, a label per sample, a description) -- the user's inputs first, then random ones."""

    data, labels = [], []
    if inputs_file is not None:
        given = load_inputs(graph, Path(inputs_file))
        data += given
        labels += [f"{Path(inputs_file).name}[{k}]" for k in range(len(given))]
    rand = random_inputs(graph, samples, seed)
    data += rand
    labels += [f"random (seed {seed}) #{k}" for k in range(len(rand))]
    parts = []
    if inputs_file is not None:
        parts.append(f"{len(data) - len(rand)} from {Path(inputs_file).name}")
    if rand:
        parts.append(f"{len(rand)} random (seed {seed})")
    desc = f"{len(data)} inputs ({', '.join(parts)})" if parts else "no inputs"
    return data, labels, desc


#: the slowest kernels take about 22 instructions a multiply-accumulate (palettized weights):
#: an inference is allowed this many, plus a fixed two million for everything else
INSTRUCTIONS_PER_MAC_BOUND = 30
#: QEMU with the cycle plugin runs at tens of millions of instructions a second on this kind of
#: machine; a timeout counts on a tenth of the slowest seen
EMULATED_INSTRUCTIONS_PER_S = 5e6


def invoke_timeout_s(graph: Graph, info: P.HelloReply, emulated: bool) -> float:
    """How long one INVOKE may go unanswered before it counts as lost, from the model's size."""
    instructions = INSTRUCTIONS_PER_MAC_BOUND * totals(graph).macs + 2_000_000
    rate = EMULATED_INSTRUCTIONS_PER_S if emulated else info.clock_hz / 4  # >= 1 instruction per 4 cycles
    return 5.0 + instructions / max(rate, 1.0)


def default_deadline_s(invoke_s: float, info: P.HelloReply, runs: int, baud: int = 115_200) -> float:
    """The whole run's deadline when none is given: each inference may take its timeout and
    move its input and output twice over the slowest UART edgekit supports, and then a minute."""
    transfer_s = 2 * 10 * (info.input_bytes + info.output_bytes + 16 * info.num_ops) / baud
    return 60.0 + runs * (invoke_s + transfer_s + 2.0)


def profile(device: Device, model_path: str | Path, board_name: str, emulated: bool, icount_shift: int = 0,
            samples: int = 10, seed: int = 0, inputs_file: str | Path | None = None,
            report_path: str | Path | None = None, flash: dict | None = None,
            deadline_s: float | None = None, labels: str | Path | None = None,
            float_top1: Callable[[list[list[np.ndarray]]], np.ndarray | None] | None = None,
            log: Log = lambda m: None) -> ProfileReport:
    """Run the model's inputs on ``device`` and compare with the reference on the host.

    ``deadline_s`` bounds the inferences on the device, from the first input sent to the last
    answer (default: :func:`default_deadline_s`); a device that stops answering fails within it,
    with what was measured so far kept. ``labels`` (a class per input of ``inputs_file``) adds
    top-1 accuracy on the device, of the reference and, given ``float_top1`` (the float model's
    classes for dequantized inputs), of the float model.

    Raises :class:`ModelMismatch` if the device runs another model. Transport and device errors
    propagate after the report (with everything gathered so far) has been written.
    """
    model_path = Path(model_path)
    try:
        model = model_path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"{model_path}: cannot read ({exc.strerror or exc})") from None
    graph = parse_tflite(model, name=model_path.stem)
    sha = hashlib.sha256(model).hexdigest()
    report = ProfileReport(graph.name, str(model_path), sha, board_name,
                           path=Path(report_path) if report_path else None, flash=flash,
                           op_types=[op.type_name for op in graph.ops])
    report.write()
    try:
        info = device.hello()
        report.device = info.to_json()
        report.timing = timing_for(info, emulated, icount_shift)
        if info.board != board_name:
            report.notes.append(f"the firmware says it was built for board {info.board!r}")
        report.status = "handshake"
        report.write()
        check_device_model(info, graph, sha, model_path.name)
        log(f"device: {info.board}, model {sha[:12]} matches, arena {info.arena_bytes:,} bytes, "
            f"{info.num_ops} operators")

        data, names, report.inputs_description = collect_samples(graph, samples, seed, inputs_file)
        if not data:
            raise EdgekitError("nothing to run: --samples 0 and no --inputs")
        given = len(data) - max(0, samples)  # the inputs file's samples come first, then the random ones
        classes = load_labels(Path(labels), given) if labels is not None else None
        expected, report.reference, report.reference_note = reference_outputs(model, data, log)
        if device.invoke_timeout_s is None:
            device.invoke_timeout_s = invoke_timeout_s(graph, info, emulated)
        # from here on (the handshake has its own bounded retries)
        device.set_deadline(deadline_s or default_deadline_s(device.invoke_timeout_s, info, len(data)))
        report.status = "running"
        report.write()
        device_top1 = []
        for k, (sample, label) in enumerate(zip(data, names)):
            raw_in = b"".join(np.ascontiguousarray(x, dtype=graph.tensors[i].dtype.numpy).tobytes()
                              for i, x in zip(graph.inputs, sample))
            raw_out, done, op_ticks = device.run(raw_in)
            outs = _split_outputs(raw_out, graph)
            device_top1.append(int(np.argmax(outs[0])))
            diffs = [_max_abs_diff(o, e) for o, e in zip(outs, expected[k])]
            report.samples.append({
                "index": k, "input": label, "equal": all(d == 0 for d in diffs), "max_abs_diff": diffs,
                "ticks": done.ticks, report.timing.unit: report.timing.convert(done.ticks),
                "stack_peak_bytes": done.stack_peak_bytes, "timer_overhead_ticks": done.timer_overhead_ticks,
                "op_ticks": op_ticks,
            })
            report.link = device.stats.to_json()
            report.write()
            if (k + 1) % 5 == 0 or k + 1 == len(data):
                log(f"{k + 1}/{len(data)} inferences, {report.equal_count} equal to {report.reference}")
        if classes is not None:
            report.accuracy = accuracy(classes, device_top1, expected, data, graph, float_top1)
        report.status = "complete"
    except EdgekitError as exc:
        report.status, report.error = "failed", str(exc)
        raise
    except BaseException as exc:
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report.link = device.stats.to_json()
        report.write()
    return report

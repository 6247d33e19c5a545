"""Per-operator latency estimate from shapes, calibrated on the emulated board.

Each operator is described by four numbers taken from the graph -- one call, its MACs, its
output elements, its input elements -- and costs

    instructions = per_call + per_mac * MACs + per_output * outputs + per_input * inputs

with one coefficient set per kernel function (``ek_conv2d_dsp_s8``, ``ek_conv2d_pal_s8``,
``ek_softmax_s8`` ...; an unknown function falls back to its operator type, then to
``default``). Latency is ``instructions * cycles_per_instruction / clock_hz``.

The coefficients live in ``edgekit/data/costmodel.json``, one section per core. They are
fitted (non-negative least squares) by :func:`calibrate` from per-operator instruction counts
that ``edgekit profile`` measures on the emulated board (QEMU with -icount counts
instructions exactly); ``cycles_per_instruction`` converts to cycles (1.0 = instruction count,
a lower bound on a Cortex-M4; set it from a cycle-model run or a real board).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen import schedule_for
from ..codegen.core import target_for_cpu
from ..codegen.lower import lower_graph
from ..errors import EdgekitError
from ..files import DATA
from ..harness.deploy import profile_target
from ..ir import Graph, parse_tflite
from ..ir.analysis import op_macs
from ..target.boards import load_board
from ..target.build import build_firmware

DATA_FILE = DATA / "costmodel.json"
TERMS = ("per_call", "per_mac", "per_output", "per_input")


@dataclass(frozen=True)
class OpFeatures:
    index: int
    op_type: str
    function: str  # the kernel the code generator chose ("" for aliases)
    macs: int
    outputs: int
    inputs: int

    def vector(self) -> np.ndarray:
        return np.array([1.0, self.macs, self.outputs, self.inputs], dtype=np.float64)


def features(graph: Graph, calls) -> list[OpFeatures]:
    """The cost features of each lowered operator (``calls`` from ``lower_graph``)."""
    out = []
    for call in calls:
        op = call.op
        ins = sum(t.num_elements for t in graph.op_inputs(op) if t is not None and not t.is_constant)
        outs = sum(t.num_elements for t in graph.op_outputs(op))
        fn = "" if call.alias_input is not None else call.function
        out.append(OpFeatures(op.index, op.type_name, fn, op_macs(graph, op), outs, ins))
    return out


@dataclass
class CostModel:
    core: str
    coefficients: dict[str, dict[str, float]]
    cycles_per_instruction: float = 1.0
    code_bytes: int = 0  # flash beyond the weights of a typical firmware, measured at calibration
    other_ram_bytes: int = 0  # static RAM beyond the arena (harness buffers, I/O)
    source: str = ""
    samples: int = 0
    fit_error: dict[str, float] = field(default_factory=dict)  # median relative error per key

    def coefficients_for(self, f: OpFeatures) -> dict[str, float]:
        for key in (f.function, f.op_type, "default"):
            if key in self.coefficients:
                return self.coefficients[key]
        return {t: 0.0 for t in TERMS}

    def instructions(self, f: OpFeatures) -> float:
        if not f.function:
            return 0.0  # an alias (RESHAPE ...) emits no call
        c = self.coefficients_for(f)
        return float(np.dot([c.get(t, 0.0) for t in TERMS], f.vector()))

    def estimate(self, graph: Graph, calls) -> list[tuple[OpFeatures, float]]:
        return [(f, self.instructions(f)) for f in features(graph, calls)]

    def total_instructions(self, graph: Graph, calls) -> float:
        return sum(i for _, i in self.estimate(graph, calls))

    def latency_ms(self, instructions: float, clock_hz: int) -> float:
        return instructions * self.cycles_per_instruction / clock_hz * 1e3

    def to_json(self) -> dict:
        return {"core": self.core, "cycles_per_instruction": self.cycles_per_instruction,
                "code_bytes": self.code_bytes, "other_ram_bytes": self.other_ram_bytes,
                "source": self.source, "samples": self.samples, "fit_error": self.fit_error,
                "coefficients": self.coefficients}


def load(core: str = "cortex-m4", path: Path | None = None) -> CostModel:
    path = Path(path) if path else DATA_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgekitError(f"{path}: cannot read the cost model ({exc})") from None
    cores = data.get("cores", {})
    if core not in cores:
        raise EdgekitError(f"no cost model for core {core!r} in {path} (has {', '.join(cores) or 'none'})")
    d = cores[core]
    return CostModel(core, d["coefficients"], d.get("cycles_per_instruction", 1.0),
                     d.get("code_bytes", 0), d.get("other_ram_bytes", 0), d.get("source", ""),
                     d.get("samples", 0), d.get("fit_error", {}))


def save(model: CostModel, path: Path | None = None) -> Path:
    path = Path(path) if path else DATA_FILE
    data = json.loads(path.read_text()) if path.exists() else {"version": 1, "cores": {}}
    data["cores"][model.core] = model.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


# ---------------------------------------------------------------------------- fitting


def fit(samples: list[tuple[OpFeatures, float]], min_samples: int = 3) -> tuple[dict, dict]:
    """Non-negative least squares per kernel function (and per operator type, and one
    ``default`` over everything): coefficients and the median relative error of each fit.

    Rows are weighted by 1/measured so small operators count as much as large ones."""
    from scipy.optimize import nnls

    groups: dict[str, list[tuple[OpFeatures, float]]] = {}
    for f, y in samples:
        if not f.function or y <= 0:
            continue
        for key in (f.function, f.op_type, "default"):
            groups.setdefault(key, []).append((f, y))
    coeffs, errors = {}, {}
    for key, rows in sorted(groups.items()):
        if len(rows) < min_samples and key != "default":
            continue
        a = np.stack([f.vector() for f, _ in rows])
        y = np.array([v for _, v in rows], dtype=np.float64)
        w = 1.0 / y
        scale = np.maximum(a.max(axis=0), 1.0)  # columns of very different magnitude
        used = a.max(axis=0) > 0
        sol = np.zeros(4)
        if used.any():
            x, _ = nnls((a[:, used] / scale[used]) * w[:, None], y * w)
            sol[used] = x / scale[used]
        coeffs[key] = {t: float(v) for t, v in zip(TERMS, sol)}
        pred = a @ sol
        errors[key] = float(np.median(np.abs(pred - y) / y))
    return coeffs, errors


def measured_samples(tflite: bytes, report, target=None) -> list[tuple[OpFeatures, float]]:
    """Pair the features of each operator with the instructions a profile measured for it
    (``report``: an ``edgekit profile`` report on an emulated board, operators in the firmware's
    order, which is the generated, possibly reordered, order)."""

    graph = parse_tflite(tflite)
    calls = lower_graph(graph, target)
    graph, calls, _ = schedule_for(graph, calls, target)
    ops = report.operators()
    if len(ops) != len(calls):
        raise EdgekitError(f"profile has {len(ops)} operators, the generated model {len(calls)}")
    unit = report.timing.unit if report.timing else "instructions"
    return [(f, float(o[unit])) for f, o in zip(features(graph, calls), ops)]


def calibrate(models: list[tuple[str, bytes]], board_name: str = "qemu-mps2-an386",
              samples: int = 2, log=print, save_to: Path | None = None) -> CostModel:
    """Profile each ``(name, tflite)`` on the emulated board, fit, save under the board's core."""

    board = load_board(board_name)
    if not board.emulated:
        raise EdgekitError(f"{board.name} is not an emulated board; calibrate on one")
    target = target_for_cpu(board.cpu)
    rows: list[tuple[OpFeatures, float]] = []
    code, other_ram = [], []
    with tempfile.TemporaryDirectory(prefix="edgekit-cost-") as tmp:
        for name, tfl in models:
            path = Path(tmp) / f"{name}.tflite"
            path.write_bytes(tfl)
            fw = build_firmware(path, board, Path(tmp) / name)
            code.append(fw.sizes.flash_beyond_weights_bytes)
            other_ram.append(fw.sizes.ram_other_static_bytes)
            report = profile_target(board.name, model=path, build_dir=Path(tmp) / name, samples=samples)
            if not report.passed:
                raise EdgekitError(f"{name}: the profile run failed or differed from tflite-micro")
            got = measured_samples(tfl, report, target)
            rows += got
            log(f"{name}: {len(got)} operators, {sum(v for _, v in got):,.0f} instructions")
    coeffs, errors = fit(rows)
    model = CostModel(board.cpu, coeffs, 1.0, int(max(code)), int(max(other_ram)),
                      f"fitted on {board.name} from {len(models)} models ({', '.join(n for n, _ in models)})",
                      len(rows), errors)
    if save_to is not False:
        save(model, save_to)
    return model

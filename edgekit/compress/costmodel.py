"""Per-operator latency in estimated cycles, from shapes, fitted on the emulated board.

Each operator is described by numbers taken from the graph (:data:`TERMS`): one call, its MACs,
output and input elements, output channels (the last axis) and output pixels (the others), and
three "block" terms that count the pixels rounded up to a multiple of four -- MACs, outputs and
receptive-field taps (MACs per output channel) -- because the DSP kernels compute output pixels
four at a time (``ek_conv2d_dsp.h``) and a 1x1 map costs them as much as a 2x2 one; the taps
of the windows that cross the image border, which the kernels gather tap by tap (a first
convolution on a small map gathers most of its windows); and the weights (MACs per output pixel),
which the palettized convolution decodes once a call, walking the image once per chunk of decoded
channels (its block-tap term counts every walk). An operator's cost is

    cycles = sum over terms of coefficient[term] * term

with one coefficient set per kernel function the lowering chose (``ek_conv2d_dsp_s8``,
``ek_conv3x3_wino_dsp_s8``, ``ek_depthwise_rows_dsp_s8``, ``ek_conv2d_pal_s8`` ...; an
unknown function falls back to its operator type, then to ``default``). Latency is
``cycles / clock_hz``.

The unit is the QEMU cycle plugin's estimated cycles (``edgekit.target.cycles``) of the board
the model was fitted on: by default the emulated Cortex-M4 ``qemu-mps2-an386`` with its DSP
kernels and zero-wait-state memory. The coefficients live in ``edgekit/data/costmodel.json``,
one section per board, and are fitted (non-negative least squares) by :func:`refit`
(``edgekit fit --refit-cost-model``) from the seeded training networks of
``costnets.TRAINING``, each run on the emulated board with the cycle plugin. The section
records the digest of the kernel sources and of the cycle model it was fitted on
(:func:`sources_digest`); :func:`stale` says what changed since, and a test fails then.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..codegen import schedule_for
from ..codegen.lower import lower_graph
from ..codegen.ops.dsp_conv import pal_walks, sparse_kept
from ..errors import EdgekitError
from ..files import DATA, KERNELS, QEMU_PLUGIN
from ..harness.deploy import profile_target
from ..ir import Graph, parse_tflite
from ..ir.analysis import op_macs
from ..target.boards import Board, emulated_twin, load_board
from ..target.build import build_firmware
from . import costnets
from .data import digits

DATA_FILE = DATA / "costmodel.json"
VERSION = 4
DEFAULT_BOARD = "qemu-mps2-an386"
BLOCK = 4  # output pixels per block in the block terms
TERMS = ("per_call", "per_mac", "per_output", "per_input", "per_channel", "per_pixel",
         "per_block_mac", "per_block_output", "per_block_tap", "per_edge_tap", "per_weight")
REFIT_COMMAND = "edgekit fit --refit-cost-model"

Log = Callable[[str], None]


@dataclass(frozen=True)
class OpFeatures:
    index: int
    op_type: str
    function: str  # the kernel the code generator chose ("" for aliases)
    macs: int
    outputs: int
    inputs: int
    channels: int = 1  # of the first output, its last axis
    pixels: int = 1  # outputs per channel
    kept: float = 1.0  # the fraction of the MACs computed (the block-sparse convolution skips the rest)
    edge_taps: int = 0  # a window's taps x the output pixels whose window is gathered (crosses the border)
    walks: int = 1  # passes over the output, each building every column (the palettized conv's chunks)

    def vector(self) -> np.ndarray:
        blocks = -(-self.pixels // BLOCK) * BLOCK
        per_pixel = blocks / max(self.pixels, 1)
        macs = self.macs * self.kept  # the receptive field's taps are gathered whole either way
        return np.array([1.0, macs, self.outputs, self.inputs, self.channels, self.pixels,
                         macs * per_pixel, self.channels * blocks,
                         self.macs / max(self.channels, 1) * per_pixel * self.walks, self.edge_taps * self.walks,
                         self.macs / max(self.pixels, 1)], dtype=np.float64)


def edge_taps(params) -> int:
    """For a window operator (parameters with the input and output sizes, filter, stride, dilation
    and padding; ``filter_c`` or one group's ``input_c`` taps per position): a window's taps times
    the output pixels whose window crosses the image border, which the kernels gather (pad) tap by
    tap; a grouped window wider than a pixel is always gathered (ek_conv2d_dsp.h). 0 otherwise."""
    need = ("input_h", "input_w", "output_h", "output_w", "filter_h", "filter_w", "stride_h", "stride_w",
            "pad_top", "pad_left")
    if not all(hasattr(params, n) for n in need):
        return 0
    dil_h, dil_w = getattr(params, "dilation_h", 1), getattr(params, "dilation_w", 1)
    c = getattr(params, "filter_c", None) or getattr(params, "input_c", 1)
    taps = params.filter_h * params.filter_w * c
    if getattr(params, "groups", 1) > 1 and params.filter_w > 1:
        return taps * params.output_h * params.output_w
    oy = np.arange(params.output_h) * params.stride_h - params.pad_top
    ox = np.arange(params.output_w) * params.stride_w - params.pad_left
    rows_in = (oy >= 0) & (oy + (params.filter_h - 1) * dil_h < params.input_h)
    cols_in = (ox >= 0) & (ox + (params.filter_w - 1) * dil_w < params.input_w)
    inside = int(rows_in.sum()) * int(cols_in.sum())
    return taps * (params.output_h * params.output_w - inside)


def features(graph: Graph, calls) -> list[OpFeatures]:
    """The cost features of each lowered operator (``calls`` from ``lower_graph``)."""
    out = []
    for call in calls:
        op = call.op
        ins = sum(t.num_elements for t in graph.op_inputs(op) if t is not None and not t.is_constant)
        outputs = list(graph.op_outputs(op))
        outs = sum(t.num_elements for t in outputs)
        first = outputs[0]
        channels = max(int(first.shape[-1]), 1) if len(first.shape) else 1
        fn = "" if call.alias_input is not None else call.function
        kept = sparse_kept(call.params) if fn == "ek_conv2d_sparse_dsp_s8" else 1.0
        walks = pal_walks(call.params) if fn == "ek_conv2d_pal_dsp_s8" else 1
        params = call.params.conv if fn.startswith("ek_conv2d_pal_dsp") else call.params
        out.append(OpFeatures(op.index, op.type_name, fn, op_macs(graph, op), outs, ins, channels,
                              max(first.num_elements // channels, 1), kept, edge_taps(params), walks))
    return out


def lowered(tflite: bytes, board: Board):
    """(graph, calls) as ``edgekit generate`` makes them for ``board``'s core, in run order."""
    target = board.target()
    graph = parse_tflite(tflite)
    graph, calls, _ = schedule_for(graph, lower_graph(graph, target), target)
    return graph, calls


# ---------------------------------------------------------------------------- sources


#: files the fitted builds do not run: the band wrappers of streamed segments (the cost model is of
#: whole-tensor builds, measured with ``stream=False``; streaming adds at most its cycle budget)
NOT_FITTED = ("ek_stream",)


def _digest(root: Path, patterns: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    files = sorted({p for pat in patterns for p in root.rglob(pat) if not p.name.startswith(NOT_FITTED)})
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def sources_digest() -> dict[str, str]:
    """Digests of what the coefficients depend on: the C kernels and the cycle model."""
    return {"kernels": _digest(KERNELS, ("*.c", "*.h", "*.S")),
            "cycle_model": _digest(QEMU_PLUGIN, ("*.c", "*.h", "*.cycles"))}


# ---------------------------------------------------------------------------- the model


@dataclass
class CostModel:
    board: str  # whose estimated cycles the coefficients predict
    core: str
    coefficients: dict[str, dict[str, float]]
    code_bytes: int = 0  # flash beyond the weights of a typical firmware, measured at calibration
    other_ram_bytes: int = 0  # static RAM beyond the arena (harness buffers, I/O)
    memory: str = "zero wait states"  # the memory system of the fitted estimate
    source: str = ""
    samples: int = 0
    fit_error: dict[str, float] = field(default_factory=dict)  # median relative error per key
    sources: dict[str, str] = field(default_factory=dict)  # sources_digest() at fitting time
    networks: dict[str, dict] = field(default_factory=dict)  # per training network: measured, predicted

    def coefficients_for(self, f: OpFeatures) -> dict[str, float]:
        for key in (f.function, f.op_type, "default"):
            if key in self.coefficients:
                return self.coefficients[key]
        return {t: 0.0 for t in TERMS}

    def cycles(self, f: OpFeatures) -> float:
        if not f.function:
            return 0.0  # an alias (RESHAPE ...) emits no call
        c = self.coefficients_for(f)
        return float(np.dot([c.get(t, 0.0) for t in TERMS], f.vector()))

    def estimate(self, graph: Graph, calls) -> list[tuple[OpFeatures, float]]:
        return [(f, self.cycles(f)) for f in features(graph, calls)]

    def total_cycles(self, graph: Graph, calls) -> float:
        return sum(c for _, c in self.estimate(graph, calls))

    def predict(self, tflite: bytes, board: Board) -> float:
        """Estimated cycles of one inference of ``tflite`` on ``board``."""
        return self.total_cycles(*lowered(tflite, board))

    @staticmethod
    def latency_ms(cycles: float, clock_hz: int) -> float:
        return cycles / clock_hz * 1e3

    def to_json(self) -> dict:
        return {"board": self.board, "core": self.core, "unit": "estimated cycles", "memory": self.memory,
                "code_bytes": self.code_bytes, "other_ram_bytes": self.other_ram_bytes,
                "source": self.source, "samples": self.samples, "fit_error": self.fit_error,
                "sources": self.sources, "networks": self.networks, "coefficients": self.coefficients}


def stale(model: CostModel) -> list[str]:
    """What changed since ``model`` was fitted (empty: nothing)."""
    now = sources_digest()
    return [k for k in sorted(now) if model.sources.get(k) != now[k]]


def load(board: Board | str = DEFAULT_BOARD, path: Path | None = None) -> CostModel:
    """The cost model fitted on ``board``, else, for a board with the default board's core, the
    default board's (zero wait states: a board with slower memory then takes longer than
    predicted; ``fit`` measures before it accepts)."""
    board = load_board(board) if isinstance(board, str) else board
    path = Path(path) if path else DATA_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgekitError(f"{path}: cannot read the cost model ({exc})") from None
    if data.get("version") != VERSION:
        raise EdgekitError(f"{path}: cost model version {data.get('version')}, edgekit reads {VERSION}; "
                           f"run {REFIT_COMMAND}")
    boards = data.get("boards", {})
    d = boards.get(board.name)
    if d is None and board.cpu == load_board(DEFAULT_BOARD).cpu:
        d = boards.get(DEFAULT_BOARD)
    if d is None:
        raise EdgekitError(f"no cost model for {board.name}'s core {board.cpu} in {path} "
                           f"(fitted on {', '.join(boards) or 'none'}; run {REFIT_COMMAND} --board B)")
    return CostModel(d["board"], d["core"], d["coefficients"], d.get("code_bytes", 0), d.get("other_ram_bytes", 0),
                     d.get("memory", ""), d.get("source", ""), d.get("samples", 0), d.get("fit_error", {}),
                     d.get("sources", {}), d.get("networks", {}))


def save(model: CostModel, path: Path | None = None) -> Path:
    path = Path(path) if path else DATA_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    if data.get("version") != VERSION:
        data = {"version": VERSION, "boards": {}}
    data["boards"][model.board] = model.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


# ---------------------------------------------------------------------------- fitting


def fit(samples: list[tuple[OpFeatures, float]], min_samples: int = 3) -> tuple[dict, dict]:
    """Non-negative least squares per kernel function (and per operator type, and one
    ``default`` over everything): coefficients and the median relative error of each fit.

    Rows are weighted by 1/sqrt(measured): small operators are not drowned by large ones, nor
    do they outweigh them in a whole network's total."""
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
        w = 1.0 / np.sqrt(y)
        scale = np.maximum(a.max(axis=0), 1.0)  # columns of very different magnitude
        used = a.max(axis=0) > 0
        sol = np.zeros(len(TERMS))
        if used.any():
            x, _ = nnls((a[:, used] / scale[used]) * w[:, None], y * w)
            sol[used] = x / scale[used]
        coeffs[key] = {t: float(v) for t, v in zip(TERMS, sol)}
        pred = a @ sol
        errors[key] = float(np.median(np.abs(pred - y) / y))
    return coeffs, errors


@dataclass(frozen=True)
class Measured:
    """One inference of a network on the emulated board, as the cycle plugin estimated it."""

    cycles: int
    instructions: int
    operators: tuple[int, ...]  # estimated cycles per operator, in run order
    clock_hz: int
    memory: str
    passed: bool  # outputs equal to the reference
    code_bytes: int = 0
    other_ram_bytes: int = 0

    @property
    def ms(self) -> float:
        return self.cycles / self.clock_hz * 1e3


def measure(tflite: bytes | Path, board: Board | str, work: Path | None = None) -> Measured:
    """Build ``tflite`` for ``board``, run it on the emulated board of its core with the cycle
    plugin (a real board's memory system and clock modelled), and read the estimate."""
    board = load_board(board) if isinstance(board, str) else board
    with tempfile.TemporaryDirectory(prefix="edgekit-cost-") as tmp:
        work = Path(work or tmp)
        path = Path(tflite) if isinstance(tflite, Path) else work / "model.tflite"
        if not isinstance(tflite, Path):
            path.write_bytes(tflite)
        fw = build_firmware(path, emulated_twin(board), work / "build",  # per operator: whole tensors
                            target=board.target(stream=False))
        report = profile_target(board.name, model=path, build_dir=work / "build", samples=1, emulate=not board.emulated)
    if report.cycles is None:
        raise EdgekitError(f"{board.name}: no cycle estimate (the emulated run failed: {report.error or report.status})")
    total, ops = report.cycles["total"], report.cycles["operators"]
    return Measured(int(total["estimated_cycles"]), int(total["instructions"]),
                    tuple(int(o["estimated_cycles"]) for o in ops), report.cycles.get("clock_hz") or board.clock_hz,
                    report.cycles.get("memory", ""), report.passed, fw.sizes.flash_beyond_weights_bytes,
                    fw.sizes.ram_other_static_bytes)


def samples_of(tflite: bytes, board: Board, got: Measured) -> list[tuple[OpFeatures, float]]:
    """Each operator's features paired with its measured cycles."""
    feats = features(*lowered(tflite, board))
    if len(feats) != len(got.operators):
        raise EdgekitError(f"the run has {len(got.operators)} operators, the generated model {len(feats)}")
    return [(f, float(c)) for f, c in zip(feats, got.operators)]


def calibrate(models: list[tuple[str, bytes]], board_name: str = DEFAULT_BOARD, log: Log = print,
              save_to: Path | None | bool = None) -> CostModel:
    """Run each ``(name, tflite)`` on the emulated board, fit, save under the board's name."""
    board = load_board(board_name)
    rows: list[tuple[OpFeatures, float]] = []
    per_net: dict[str, tuple[list, Measured]] = {}
    code, other_ram, memory = [], [], ""
    for name, tfl in models:
        got = measure(tfl, board)
        if not got.passed:
            raise EdgekitError(f"{name}: the run on {board.name} differed from the reference")
        net = samples_of(tfl, board, got)
        per_net[name] = (net, got)
        rows += net
        code.append(got.code_bytes)
        other_ram.append(got.other_ram_bytes)
        memory = got.memory
        log(f"{name}: {len(net)} operators, {got.cycles:,} estimated cycles ({got.instructions:,} instructions)")
    coeffs, errors = fit(rows)
    model = CostModel(board.name, board.cpu, coeffs, int(max(code)), int(max(other_ram)), memory,
                      f"fitted on {board.name} from {len(models)} networks", len(rows), errors, sources_digest())
    for name, (net, got) in per_net.items():
        pred = sum(model.cycles(f) for f, _ in net)
        model.networks[name] = {"measured_cycles": got.cycles, "predicted_cycles": round(pred),
                                "error": round(pred / got.cycles - 1, 4)}
    if save_to is not False:
        save(model, save_to)
    return model


def refit(board_name: str = DEFAULT_BOARD, log: Log = print, save_to: Path | None | bool = None) -> CostModel:
    """Build the training networks (``costnets.TRAINING``), run them on the emulated board, fit
    and save: ``edgekit fit --refit-cost-model``."""
    data = digits()
    models = []
    for spec in costnets.TRAINING:
        log(f"building {spec.name} ...")
        models.append((spec.name, costnets.build(spec, data)))
    return calibrate(models, board_name, log=log, save_to=save_to)

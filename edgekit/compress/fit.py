"""``edgekit fit``: the most accurate zoo network that fits a board.

1. Screen: every candidate (family x width x resolution x depth x weight precision x block
   sparsity) is built untrained (its BatchNormalization statistics set on the data; int4
   candidates' Conv2D kernels put on the 4-bit grid and stored INT4, ``int4``; block-sparse ones'
   Conv2D kernels with that fraction of their 16x2 blocks zeroed, ``prune.block_mask``, which the
   DSP block-sparse convolution skips), converted to int8, lowered and planned for
   the board's core exactly as ``edgekit generate`` would. Flash = weights as deployed + the
   firmware's code (from the cost model's calibration builds); RAM = planned arena + other
   static RAM + the board's stack reserve; latency = the per-operator cost model's estimated
   cycles (``costmodel``) at the board's clock. Candidates over the board's flash or RAM, or
   over ``latency_ms``, are dropped.
2. Train: the feasible candidates, largest first (by MACs), up to ``max_trials``, each for a
   few epochs with a fixed seed (int4 candidates: the last half of them 4-bit QAT; block-sparse
   ones: the last half of them block pruning to their sparsity, ``prune.block_prune``); int8
   accuracy on the test split in the tflite-micro interpreter (which the generated code equals
   bit for bit).
3. Measure: the trained candidates, most accurate first (ties: the faster predicted), are
   built for the board and run on the emulated board of its core with the cycle plugin (the
   board's memory system and clock). The first whose outputs equal the reference and whose
   measured latency is within ``latency_ms`` wins; the others measured are rejected, with
   predicted and measured cycles kept for each (``latency_error_max``: the largest
   |predicted / measured - 1|). The winner is saved as ``.keras`` and int8 ``.tflite``, its
   firmware built for the board, and a JSON report with every candidate's row written next
   to it.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import EdgekitError
from ..target.boards import load_board
from ..target.build import build_firmware
from . import costmodel, int4, measure, prune, zoo

Log = Callable[[str], None]


@dataclass
class Candidate:
    family: str
    width: float
    resolution: int
    depth: float
    weight_bits: int = 8  # 4: Conv2D kernels int4 (QAT), the rest int8
    block_sparsity: float = 0.0  # the fraction of each block-prunable Conv2D kernel's 16x2 blocks zeroed
    # screening
    macs: int = 0
    params: int = 0
    weight_bytes: int = 0
    flash_bytes: int = 0
    arena_bytes: int = 0
    ram_bytes: int = 0
    predicted_cycles: float = 0.0
    latency_ms: float = 0.0  # predicted, at the board's clock
    fits: bool = False
    why_not: str = ""
    # training
    trained: bool = False
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    train_s: float = 0.0
    # measured on the emulated board (trained, int8)
    measured_cycles: int | None = None
    measured_ms: float | None = None
    measured_memory: str = ""

    @property
    def latency_error(self) -> float | None:
        """predicted / measured - 1 (estimated cycles), once measured."""
        if not self.measured_cycles:
            return None
        return self.predicted_cycles / self.measured_cycles - 1

    @property
    def label(self) -> str:
        return f"{self.family} w{self.width:g} r{self.resolution} d{self.depth:g}" + \
            (f" int{self.weight_bits}" if self.weight_bits != 8 else "") + \
            (f" blocks{self.block_sparsity * 100:g}" if self.block_sparsity else "")

    def build(self, channels: int, num_classes: int, seed: int = 0):
        return zoo.build(self.family, resolution=self.resolution, channels=channels,
                         num_classes=num_classes, width=self.width, depth=self.depth, seed=seed)

    def to_json(self) -> dict:
        return {**self.__dict__, "latency_error": self.latency_error}


@dataclass
class FitResult:
    board: str
    latency_limit_ms: float | None
    candidates: list[Candidate]
    winner: Candidate | None
    keras_path: Path | None = None
    tflite_path: Path | None = None
    firmware_sizes: dict | None = None
    cost_model: str = ""  # what the predictions are (the cost model's board and memory)
    notes: list[str] = field(default_factory=list)

    @property
    def measured(self) -> list[Candidate]:
        return [c for c in self.candidates if c.measured_cycles]

    @property
    def latency_error_max(self) -> float | None:
        """The largest |predicted / measured - 1| of estimated cycles over the candidates measured."""
        errs = [abs(c.latency_error) for c in self.measured]
        return max(errs) if errs else None

    def table(self) -> str:
        head = (f"{'candidate':<34} {'MACs':>10} {'flash':>9} {'RAM':>8} {'pred ms':>8} {'meas ms':>8} "
                f"{'fits':<5} {'float':>6} {'int8':>6}")
        lines = [head, "-" * len(head)]
        for c in sorted(self.candidates, key=lambda c: (not c.trained, -(c.int8_accuracy or 0), c.latency_ms)):
            acc = lambda v: f"{v * 100:5.1f}%" if v is not None else "    - "  # noqa: E731
            mark = " <- winner" if c is self.winner else ""
            fits = "yes" if c.fits else "no"
            meas = f"{c.measured_ms:>8.2f}" if c.measured_ms is not None else f"{'-':>8}"
            lines.append(f"{c.label:<34} {c.macs:>10,} {c.flash_bytes:>9,} {c.ram_bytes:>8,} "
                         f"{c.latency_ms:>8.2f} {meas} {fits:<5} {acc(c.float_accuracy)} {acc(c.int8_accuracy)}"
                         f"{mark}{'' if c.fits else '  (' + c.why_not + ')'}")
        return "\n".join(lines)

    def latency_lines(self) -> list[str]:
        """Predicted against measured estimated cycles, for every candidate measured."""
        out = []
        for c in self.measured:
            out.append(f"{c.label}: predicted {c.predicted_cycles:,.0f} cycles ({c.latency_ms:.2f} ms), "
                       f"measured {c.measured_cycles:,} ({c.measured_ms:.2f} ms), {c.latency_error:+.1%}")
        if self.measured:
            out.append(f"largest latency error {self.latency_error_max:.1%} ({self.cost_model})")
        return out

    def to_json(self) -> dict:
        return {"board": self.board, "latency_limit_ms": self.latency_limit_ms,
                "winner": self.winner.to_json() if self.winner else None,
                "keras": str(self.keras_path) if self.keras_path else None,
                "tflite": str(self.tflite_path) if self.tflite_path else None,
                "firmware_sizes": self.firmware_sizes, "cost_model": self.cost_model,
                "fit_latency_error_max": self.latency_error_max, "notes": self.notes,
                "candidates": [c.to_json() for c in self.candidates]}


def grid(families=None, widths=None, resolutions=(16, 32), depths=None, weight_bits=(8,),
         block_sparsities=(0.0,)) -> list[Candidate]:
    """The search space; a family's own width/depth grids unless given; ``weight_bits``: 8 and/or
    4 (Conv2D kernels int4); ``block_sparsities``: fractions of the Conv2D kernels' 16x2 blocks
    zeroed (0: dense), for int8 candidates (the block-sparse kernel takes int8 weights)."""
    families = families or ["mobilenet_v1", "mobilenet_v2", "ds_cnn"]
    if any(b not in (4, 8) for b in weight_bits):
        raise EdgekitError(f"weight precision {', '.join(map(str, weight_bits))}: fit searches 8 and 4 bits")
    if any(not 0.0 <= s < 1.0 for s in block_sparsities):
        raise EdgekitError(f"block sparsity {', '.join(map(str, block_sparsities))}: each must be in [0, 1)")
    out = []
    for fam in families:
        if fam not in zoo.FAMILIES:
            raise EdgekitError(f"no zoo network {fam!r}; choose from {', '.join(zoo.FAMILIES)}")
        f = zoo.FAMILIES[fam]
        for w, r, d, b, s in itertools.product(widths or f.widths, resolutions, depths or f.depths, weight_bits,
                                               block_sparsities):
            if b == 8 or not s:
                out.append(Candidate(fam, float(w), int(r), float(d), int(b), float(s)))
    return out


def screen(c: Candidate, data, board, cost, target, latency_ms: float | None, seed: int = 0) -> Candidate:
    ds = data.resized(c.resolution)
    model = c.build(ds.input_shape[-1], data.num_classes, seed)
    measure.refresh_batchnorm(model, ds.x_train, passes=5)
    if c.weight_bits == 4:  # kernels on the 4-bit grid, no training: what the deployed sizes need
        model, _ = int4.int4_finetune(model, ds, epochs=0, seed=seed)
    if c.block_sparsity:  # the blocks zeroed by magnitude: what the deployed sizes and kernels need
        for layer in prune.block_prunable_layers(model):
            w = layer.kernel.numpy()
            layer.kernel.assign(w * prune.block_mask(w, c.block_sparsity))
    tfl = deployable(c, model, ds, calib_samples=16)
    stats = measure.deploy_stats(tfl, c.family, target)
    c.macs, c.params = stats.macs, int(model.count_params())
    c.weight_bytes, c.arena_bytes = stats.weight_bytes, stats.arena_bytes
    c.flash_bytes = stats.weight_bytes + cost.code_bytes
    c.ram_bytes = stats.arena_bytes + cost.other_ram_bytes + board.stack_bytes
    c.predicted_cycles = cost.predict(tfl, board)
    c.latency_ms = cost.latency_ms(c.predicted_cycles, board.clock_hz)
    why = []
    if c.flash_bytes > board.flash_bytes:
        why.append(f"flash {c.flash_bytes:,} > {board.flash_bytes:,}")
    if c.ram_bytes > board.ram_bytes:
        why.append(f"RAM {c.ram_bytes:,} > {board.ram_bytes:,}")
    if latency_ms is not None and c.latency_ms > latency_ms:
        why.append(f"predicted {c.latency_ms:.2f} ms > {latency_ms:g} ms")
    c.fits, c.why_not = not why, "; ".join(why)
    return c


def deployable(c: Candidate, model, ds, calib_samples: int = 100) -> bytes:
    """The int8 TFLite model of ``c`` as it is deployed: Conv2D kernels stored INT4 for int4."""
    tfl = measure.to_int8(model, ds, calib_samples=calib_samples)
    return int4.int4_weights(tfl)[0] if c.weight_bits == 4 else tfl


def measure_on_board(c: Candidate, tfl: bytes, board, cost, latency_ms: float | None, log: Log) -> bool:
    """Run the trained ``c`` on the emulated board; True if it is accepted."""
    c.predicted_cycles = cost.predict(tfl, board)  # the trained network, as deployed
    c.latency_ms = cost.latency_ms(c.predicted_cycles, board.clock_hz)
    got = costmodel.measure(tfl, board)
    c.measured_cycles, c.measured_ms, c.measured_memory = got.cycles, got.ms, got.memory
    log(f"[measure] {c.label}: predicted {c.predicted_cycles:,.0f} cycles ({c.latency_ms:.2f} ms), "
        f"measured {got.cycles:,} ({got.ms:.2f} ms, {got.memory}), {c.latency_error:+.1%}")
    why = []
    if not got.passed:
        why.append(f"outputs on {board.name} differ from the reference")
    if latency_ms is not None and got.ms > latency_ms:
        why.append(f"measured {got.ms:.2f} ms > {latency_ms:g} ms")
    if why:
        c.fits, c.why_not = False, "; ".join(why)
        log(f"[measure] {c.label} rejected: {c.why_not}")
    return not why


def search(board_name: str, data, latency_ms: float | None = None, candidates: list[Candidate] | None = None,
           epochs: int = 4, max_trials: int = 4, seed: int = 0, out_dir: Path | None = None,
           build_winner: bool = True, log: Log = print, cost: costmodel.CostModel | None = None) -> FitResult:
    """Screen, train, measure, pick and save; see the module docstring. ``cost``: the cost
    model (default: the one shipped for the board)."""

    board = load_board(board_name)
    target = board.target()
    cost = cost or costmodel.load(board)
    candidates = candidates if candidates is not None else grid()
    log(f"board {board.name}: flash {board.flash_bytes:,} B, RAM {board.ram_bytes:,} B, "
        f"{board.clock_hz / 1e6:g} MHz; {len(candidates)} candidates"
        + (f", latency <= {latency_ms:g} ms" if latency_ms is not None else ""))
    result = FitResult(board.name, latency_ms, candidates, None,
                       cost_model=f"cost model of {cost.board}'s estimated cycles, {cost.memory}")
    changed = costmodel.stale(cost)
    if changed:
        note = (f"the cost model was fitted on other {' and '.join(changed)} sources: "
                f"predictions may be off (run {costmodel.REFIT_COMMAND})")
        result.notes.append(note)
        log(f"note: {note}")
    for i, c in enumerate(candidates, 1):
        screen(c, data, board, cost, target, latency_ms, seed)
        log(f"[screen {i}/{len(candidates)}] {c.label}: {c.macs:,} MACs, flash {c.flash_bytes:,}, "
            f"RAM {c.ram_bytes:,}, ~{c.latency_ms:.2f} ms -> {'fits' if c.fits else 'no: ' + c.why_not}")
    feasible = sorted((c for c in candidates if c.fits), key=lambda c: -c.macs)
    if not feasible:
        result.notes.append("no candidate fits the board's flash, RAM and latency")
        log("no candidate fits")
        return result
    trials = feasible[:max_trials]
    if len(feasible) > max_trials:
        result.notes.append(f"{len(feasible)} candidates fit; trained the {max_trials} largest (--max-trials)")
    trained = []
    for i, c in enumerate(trials, 1):
        t = time.time()
        ds = data.resized(c.resolution)
        model = c.build(ds.input_shape[-1], data.num_classes, seed)
        # the same epochs in all as a dense int8 candidate: the last half QAT or block pruning
        late = epochs // 2 if c.weight_bits == 4 else max(1, epochs // 2) if c.block_sparsity else 0
        if epochs > late:
            measure.train(model, ds, epochs=epochs - late, batch_size=64, seed=seed)
        if c.weight_bits == 4:  # with no epoch left for QAT, the kernels are only put on the grid
            model, _ = int4.int4_finetune(model, ds, epochs=late, seed=seed)
        if c.block_sparsity:
            model, _ = prune.block_prune(model, ds, c.block_sparsity, epochs=late, seed=seed)
        tfl = deployable(c, model, ds)
        c.float_accuracy = measure.float_accuracy(model, ds.x_test, ds.y_test)
        c.int8_accuracy = measure.int8_accuracy(tfl, ds.x_test, ds.y_test)
        c.trained, c.train_s = True, time.time() - t
        log(f"[train {i}/{len(trials)}] {c.label}: float {c.float_accuracy * 100:.1f}%, "
            f"int8 {c.int8_accuracy * 100:.1f}% ({c.train_s:.0f} s)")
        trained.append((c, model, tfl))
    trained.sort(key=lambda t: (-t[0].int8_accuracy, t[0].latency_ms))
    best = next(((c, model, tfl) for c, model, tfl in trained
                 if measure_on_board(c, tfl, board, cost, latency_ms, log)), None)
    for line in result.latency_lines():
        log(line)
    if best is None:
        result.notes.append(f"no trained candidate met the budgets when measured on {board.name}")
        log("no candidate fits when measured")
        if out_dir is not None:
            _write_report(result, Path(out_dir))
        return result
    winner, model, tfl = best
    result.winner = winner
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = winner.label.replace(" ", "_")
        result.keras_path = out_dir / f"{stem}.keras"
        result.tflite_path = out_dir / f"{stem}_int8.tflite"
        model.save(result.keras_path)
        result.tflite_path.write_bytes(tfl)
        if build_winner:
            try:
                fw = build_firmware(result.tflite_path, board, out_dir / "firmware")
                result.firmware_sizes = fw.sizes.to_json()
                log(f"winner firmware for {board.name}: flash {fw.sizes.flash_bytes:,} B, "
                    f"RAM {fw.sizes.ram_bytes:,} B (built in {out_dir / 'firmware'})")
            except EdgekitError as exc:
                result.notes.append(f"firmware build of the winner failed: {exc}")
                log(f"note: firmware build of the winner failed: {exc}")
        _write_report(result, out_dir)
    return result


def _write_report(result: FitResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "fit_report.json").write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")

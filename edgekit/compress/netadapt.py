"""Latency-driven structured pruning, NetAdapt-style (Yang et al., ECCV 2018): shrink a network
step by step to a cycle budget, each step removing channels from the one channel group that keeps
the most accuracy, with the cycles predicted by the board's cost model (``costmodel``, estimated
cycles of the board's kernels) rather than counted in MACs.

Each step lowers the budget by an equal share of what is left to remove. Every prunable channel
group (``prune.channel_plan``) proposes the fewest channels (a multiple of ``divisor``) whose
removal alone brings the model under the step's budget: a probe removing half the group gives the
group's cycles per channel, the proposal is then checked against the cost model and grown until it
fits. Each proposal is scored by its accuracy on a validation split held out of the training data
(never the test split), after a short fine-tune; the best one is kept and fine-tuned for
``fine_tune_epochs``. The per-step table of proposals is the per-layer sensitivity analysis: how
much accuracy each group costs for the same cycles. After the last step the model is fine-tuned
for ``final_epochs`` on the whole training split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..errors import EdgekitError
from .data import Dataset, split
from .measure import float_accuracy, to_int8, train
from .prune import channel_plan, group_name, keep_channels

Log = Callable[[str], None]
Cost = Callable[[object], float]  # a Keras model -> estimated cycles of one inference


def cost_model_cycles(data: Dataset, board, calib_samples: int = 16) -> Cost:
    """Cycles of a Keras model as the board's cost model predicts them for its int8 conversion."""
    from . import costmodel
    from ..target.boards import load_board

    board = load_board(board) if isinstance(board, str) else board
    model = costmodel.load(board)
    return lambda keras_model: model.predict(to_int8(keras_model, data, calib_samples=calib_samples), board)


@dataclass
class Proposal:
    group: str
    channels: int  # the group's channels before the step
    removed: int
    cycles: float
    val_accuracy: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Step:
    budget_cycles: float
    chosen: Proposal
    proposals: list[Proposal] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"budget_cycles": self.budget_cycles, "chosen": self.chosen.to_json(),
                "proposals": [p.to_json() for p in self.proposals]}


@dataclass
class NetAdaptReport:
    target: float  # the cycle budget as a fraction of the input model's cycles
    cycles_before: float
    cycles_after: float
    params_before: int
    params_after: int
    epochs: int  # training epochs spent in all (short fine-tunes counted by their share of an epoch)
    steps: list[Step] = field(default_factory=list)

    @property
    def removed_channels(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.chosen.group] = out.get(s.chosen.group, 0) + s.chosen.removed
        return out

    def to_json(self) -> dict:
        return {"method": "netadapt", "target": self.target, "cycles_before": self.cycles_before,
                "cycles_after": self.cycles_after, "params_before": self.params_before,
                "params_after": self.params_after, "epochs": self.epochs,
                "removed_channels": self.removed_channels, "steps": [s.to_json() for s in self.steps]}


def _subset(data: Dataset, idx: np.ndarray) -> Dataset:
    return replace(data, x_train=data.x_train[idx], y_train=data.y_train[idx])


def latency_prune(model, data: Dataset, target: float, cost: Cost, steps: int = 4, fine_tune_epochs: int = 1,
                  final_epochs: int = 4, probe_fraction: float = 0.25, divisor: int = 4,
                  val_fraction: float = 0.2, lr: float = 1e-3, seed: int = 0, log: Log | None = None):
    """A new model whose predicted cycles are at most ``target`` times ``model``'s, pruned in
    ``steps`` NetAdapt steps (module docstring). ``probe_fraction``: the share of an epoch each
    proposal is fine-tuned before it is scored. Returns the model and a :class:`NetAdaptReport`."""
    if not 0.0 < target < 1.0:
        raise EdgekitError(f"cycle target {target} must be a fraction in (0, 1)")
    if steps < 1:
        raise EdgekitError(f"steps {steps} must be at least 1")
    log = log or (lambda _msg: None)
    x_tr, y_tr, x_val, y_val = split(data.x_train, data.y_train, val_fraction, seed)
    fit_data = replace(data, x_train=x_tr, y_train=y_tr)
    n_probe = max(1, int(len(x_tr) * probe_fraction))
    probe_data = _subset(fit_data, np.random.default_rng(seed).permutation(len(x_tr))[:n_probe])

    before = cost(model)
    goal = before * target
    current, cycles = model, before
    slopes: dict[str, float] = {}  # cycles per channel of each group, as last measured
    report = NetAdaptReport(target, before, before, int(model.count_params()), 0, 0)
    for i in range(steps):
        budget = cycles - (cycles - goal) / (steps - i)
        plan = channel_plan(current)
        proposals = []
        for root in plan.prunable():
            found = _propose(current, plan, root, cycles, budget, cost, divisor, slopes)
            if found is None:
                continue
            removed, pruned, pruned_cycles = found
            train(pruned, probe_data, epochs=1, lr=lr, seed=seed)
            acc = float_accuracy(pruned, x_val, y_val)
            proposals.append((Proposal(group_name(plan, root), plan.spaces.size[root], removed, pruned_cycles, acc),
                              pruned))
            log(f"  step {i + 1}: {group_name(plan, root)} -{removed} of {plan.spaces.size[root]} channels: "
                f"{pruned_cycles:,.0f} cycles, validation {acc * 100:.1f}%")
        if not proposals:
            raise EdgekitError(f"no channel group can be pruned to {budget:,.0f} cycles "
                               f"(step {i + 1} of {steps}; the model is at {cycles:,.0f})")
        best, current = max(proposals, key=lambda p: (p[0].val_accuracy, -p[0].cycles))
        cycles = best.cycles
        report.steps.append(Step(budget, best, [p for p, _ in proposals]))
        log(f"step {i + 1}/{steps}: budget {budget:,.0f} cycles; {best.group} -{best.removed} channels -> "
            f"{cycles:,.0f} cycles ({cycles / before:.2f}x), validation {best.val_accuracy * 100:.1f}%")
        train(current, fit_data, epochs=fine_tune_epochs, lr=lr, seed=seed)
    train(current, data, epochs=final_epochs, lr=lr, seed=seed)
    report.cycles_after = cost(current)
    report.params_after = int(current.count_params())
    report.epochs = steps * fine_tune_epochs + final_epochs + math.ceil(
        sum(len(s.proposals) for s in report.steps) * probe_fraction)
    return current, report


def _propose(model, plan, root: int, cycles: float, budget: float, cost: Cost, divisor: int,
             slopes: dict[str, float]):
    """The fewest channels of group ``root`` (a multiple of ``divisor``, leaving at least
    ``divisor``) whose removal brings ``model`` to ``budget`` cycles: (removed, model, cycles), or
    None when the group cannot give that much. ``slopes`` keeps each group's cycles per channel
    from step to step (a probe removing half the group measures it the first time)."""
    c = plan.spaces.size[root]
    name = group_name(plan, root)
    most = (c - divisor) // divisor * divisor
    if most < divisor:
        return None
    tried: dict[int, tuple] = {}

    def at(k: int):
        if k not in tried:
            m, _ = keep_channels(model, {root: c - k}, plan)
            tried[k] = (m, cost(m))
            slopes[name] = (cycles - tried[k][1]) / k
        return tried[k]

    if name not in slopes:
        at(min(most, max(divisor, (c // 2) // divisor * divisor)))
    per_channel = slopes[name]
    if per_channel <= 0 or per_channel * most < (cycles - budget) * 0.8:
        return None
    k = min(most, max(divisor, math.ceil((cycles - budget) / per_channel / divisor) * divisor))
    for _ in range(4):  # the cost is close to linear in a group's channels: one or two corrections
        m, cyc = at(k)
        if cyc <= budget:
            while k - divisor >= divisor and len(tried) < 4 and at(k - divisor)[1] <= budget:
                k -= divisor
            m, cyc = at(k)
            return k, m, cyc
        if k == most:
            return None
        per_channel = slopes[name]
        k = min(most, k + divisor * max(1, math.ceil((cyc - budget) / per_channel / divisor)))
    return None

"""Pruning for Keras 3 models, written with plain Keras APIs (tensorflow-model-optimization
does not support Keras 3).

* :func:`magnitude_prune` -- unstructured: the smallest-magnitude weights of every Conv2D and
  Dense kernel are zeroed following a polynomial schedule from ``initial_sparsity`` to
  ``sparsity`` while the model fine-tunes; a callback recomputes the masks every
  ``frequency`` steps and re-applies them after every step. The model keeps its shape; the
  zeros become a flash saving because the code generator stores such kernels sparse
  (a nonzero bitmap plus the nonzero values, ``edgekit.codegen.ops.palette``).
* :func:`block_prune` -- the same in blocks of 16 taps x 2 output channels of Conv2D kernels, the
  blocks the DSP block-sparse convolution (``ek_conv2d_sparse_dsp_s8``) skips: flash and cycles
  fall with the blocks removed on a Cortex-M4, where unstructured zeros are multiplied anyway.
* :func:`structured_prune` -- removes whole output channels for real: the result is a new,
  smaller dense model with fewer MACs. Channels are grouped by what must stay consistent
  (a convolution's filters with the BatchNormalization and depthwise channels that follow,
  and every tensor joined by a residual ``Add``); each group keeps its channels with the
  largest L1 filter norm.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgekitError, UnsupportedModelError
from .graph import output_names, wiring
from .measure import train

# ---------------------------------------------------------------------------- magnitude pruning


def prunable_layers(model, include_depthwise: bool = False, min_weights: int = 0) -> list:
    """Layers whose kernel magnitude pruning touches: Conv2D and Dense (and DepthwiseConv2D
    if asked: their 3x3 filters are small and sensitive, so by default they are left dense)."""
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.Dense)
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            if include_depthwise:
                out.append(layer)
            continue
        if isinstance(layer, kinds) and int(np.prod(layer.kernel.shape)) >= max(min_weights, 1):
            out.append(layer)
    return out


@dataclass(frozen=True)
class PolynomialSchedule:
    """Sparsity s(t) = s_f + (s_i - s_f) * (1 - (t - begin) / (end - begin))**power, updated
    every ``frequency`` steps between ``begin_step`` and ``end_step`` (then held at s_f)."""

    final_sparsity: float
    end_step: int
    initial_sparsity: float = 0.0
    begin_step: int = 0
    power: float = 3.0
    frequency: int = 10

    def sparsity(self, step: int) -> float:
        if step >= self.end_step:
            return self.final_sparsity
        if step <= self.begin_step:
            return self.initial_sparsity
        frac = (step - self.begin_step) / max(1, self.end_step - self.begin_step)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1 - frac) ** self.power

    def updates_at(self, step: int) -> bool:
        return step == self.end_step or (self.begin_step <= step < self.end_step
                                         and (step - self.begin_step) % self.frequency == 0)


def magnitude_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep the ``1 - sparsity`` fraction of weights with the largest magnitude."""
    n_zero = int(round(sparsity * w.size))
    mask = np.ones(w.size, dtype=w.dtype)
    if n_zero > 0:
        order = np.argsort(np.abs(w).reshape(-1), kind="stable")
        mask[order[:n_zero]] = 0
    return mask.reshape(w.shape)


#: a block of block pruning: 16 consecutive taps of a Conv2D kernel, in (ky, kx, c) order, of a pair of
#: output channels (2q, 2q + 1) -- one iteration of ek_conv2d_sparse_dsp_s8's loop, which skips it
BLOCK_TAPS, BLOCK_CHANNELS = 16, 2


def block_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep the ``1 - sparsity`` fraction of a Conv2D kernel's (kh, kw, c_in, c_out) blocks of
    BLOCK_TAPS x BLOCK_CHANNELS weights with the largest L1 norm (a last partial block counts
    as a block)."""
    k, n = int(np.prod(w.shape[:-1])), w.shape[-1]
    kb, nb = -(-k // BLOCK_TAPS), -(-n // BLOCK_CHANNELS)
    padded = np.zeros((kb * BLOCK_TAPS, nb * BLOCK_CHANNELS), np.float64)
    padded[:k, :n] = np.abs(w.reshape(k, n))
    norms = padded.reshape(kb, BLOCK_TAPS, nb, BLOCK_CHANNELS).sum(axis=(1, 3))
    keep = magnitude_mask(norms, sparsity)
    mask = np.repeat(np.repeat(keep, BLOCK_TAPS, axis=0), BLOCK_CHANNELS, axis=1)[:k, :n]
    return mask.reshape(w.shape).astype(w.dtype)


def block_prunable_layers(model, min_weights: int = 64) -> list:
    """Conv2D layers (not depthwise, not grouped) whose filter rows (kw x c_in taps) are whole words:
    their column in ek_conv2d_sparse_dsp_s8 is the kernel's (ky, kx, c) order, so the blocks
    :func:`block_mask` zeroes are the kernel's blocks."""
    import keras

    return [l for l in model.layers
            if type(l) is keras.layers.Conv2D and l.groups == 1 and l.kernel.shape[1] * l.kernel.shape[2] % 4 == 0
            and int(np.prod(l.kernel.shape)) >= max(min_weights, 1)]


def magnitude_pruning_callback(layers, schedule: PolynomialSchedule, mask=magnitude_mask,
                               scale: dict[str, float] | None = None):
    """The MagnitudePruning Keras callback for ``layers`` (``mask(kernel, sparsity)`` chooses what is
    kept: single weights, or :func:`block_mask`'s blocks; ``scale``: per layer name, its sparsity as a
    multiple of the schedule's, default 1): Keras is imported here, not when edgekit.compress is (a
    command that never trains starts without TensorFlow)."""
    import keras

    class MagnitudePruning(keras.callbacks.Callback):
        """Keras callback: masks updated on the schedule, applied after every training step."""

        def __init__(self, layers, schedule: PolynomialSchedule):
            super().__init__()
            self.layers_ = list(layers)
            self.schedule = schedule
            self.step = 0
            self.masks = {id(l): np.ones(l.kernel.shape, dtype="float32") for l in self.layers_}

        def _update_masks(self):
            s = self.schedule.sparsity(self.step)
            for l in self.layers_:
                self.masks[id(l)] = mask(np.asarray(l.kernel.numpy()), s * (scale or {}).get(l.name, 1.0))

        def apply(self):
            for l in self.layers_:
                l.kernel.assign(l.kernel.numpy() * self.masks[id(l)])

        def on_train_batch_begin(self, batch, logs=None):
            if self.schedule.updates_at(self.step):
                self._update_masks()
                self.apply()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            self.apply()

        def on_train_end(self, logs=None):
            if self.step < self.schedule.end_step:  # training stopped early: reach the target anyway
                self.step = self.schedule.end_step
                self._update_masks()
            self.apply()

    return MagnitudePruning(layers, schedule)


def sparsity_of(model, layers=None) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights, per layer."""
    layers = layers if layers is not None else prunable_layers(model)
    return {l.name: float(np.mean(l.kernel.numpy() == 0)) for l in layers}


@dataclass
class PruneReport:
    method: str
    target: float
    per_layer: dict[str, float] = field(default_factory=dict)
    macs_before: int = 0
    macs_after: int = 0
    params_before: int = 0
    params_after: int = 0
    removed_channels: dict[str, int] = field(default_factory=dict)
    block_targets: dict[str, float] = field(default_factory=dict)  # block pruning: each layer's sparsity

    @property
    def overall_sparsity(self) -> float:
        return float(np.mean(list(self.per_layer.values()))) if self.per_layer else 0.0

    def to_json(self) -> dict:
        return {"method": self.method, "target": self.target, "per_layer": self.per_layer,
                "macs_before": self.macs_before, "macs_after": self.macs_after,
                "params_before": self.params_before, "params_after": self.params_after,
                "removed_channels": self.removed_channels, "block_targets": self.block_targets}


def magnitude_prune(model, data, sparsity: float, epochs: int = 3, lr: float = 1e-3,
                    batch_size: int = 32, seed: int = 0, include_depthwise: bool = False,
                    min_weights: int = 64, pruning_fraction: float = 0.7, frequency: int = 10,
                    verbose: int = 0):
    """Prune ``model`` in place to ``sparsity`` per prunable layer while fine-tuning on ``data``.

    The schedule ramps sparsity over the first ``pruning_fraction`` of the training steps and
    holds it for the rest, so the last steps recover accuracy at the final sparsity.
    """

    if not 0.0 <= sparsity < 1.0:
        raise EdgekitError(f"sparsity {sparsity} must be in [0, 1)")
    layers = prunable_layers(model, include_depthwise, min_weights)
    steps = epochs * int(np.ceil(len(data.x_train) / batch_size))
    schedule = PolynomialSchedule(sparsity, end_step=max(1, int(steps * pruning_fraction)),
                                  frequency=frequency)
    cb = magnitude_pruning_callback(layers, schedule)
    train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, callbacks=[cb],
          verbose=verbose)
    return model, PruneReport("magnitude", sparsity, sparsity_of(model, layers))


#: the block sparsities a layer may be given by :func:`allocate_blocks`
BLOCK_LEVELS = (0.25, 0.5, 0.625, 0.75, 0.875)


@dataclass(frozen=True)
class BlockSensitivity:
    layer: str
    macs: int  # the layer's multiply-accumulates (what its blocks cost, in proportion)
    drops: dict[float, float]  # block sparsity -> validation accuracy lost, that layer alone, no fine-tuning


def layer_macs(layer) -> int:
    """A Conv2D layer's multiply-accumulates per inference."""
    return int(np.prod(layer.kernel.shape)) * int(np.prod(layer.output.shape[1:3]))


def block_sensitivity(model, data, layers=None, levels=BLOCK_LEVELS, val_fraction: float = 0.2,
                      seed: int = 0) -> list[BlockSensitivity]:
    """Per block-prunable layer: the validation accuracy lost when only that layer's blocks are
    zeroed (:func:`block_mask`) at each of ``levels``, without fine-tuning, on a split held out
    of the training data."""
    from .data import split
    from .measure import float_accuracy

    _, _, x_val, y_val = split(data.x_train, data.y_train, val_fraction, seed)
    base = float_accuracy(model, x_val, y_val)
    out = []
    for layer in layers if layers is not None else block_prunable_layers(model):
        ws = layer.get_weights()
        drops = {}
        for level in levels:
            layer.set_weights([ws[0] * block_mask(ws[0], level)] + ws[1:])
            drops[level] = base - float_accuracy(model, x_val, y_val)
        layer.set_weights(ws)
        out.append(BlockSensitivity(layer.name, layer_macs(layer), drops))
    return out


def allocate_blocks(sens: list[BlockSensitivity], sparsity: float) -> dict[str, float]:
    """Per-layer block sparsities whose MAC-weighted mean reaches ``sparsity`` (the MACs a uniform
    ``sparsity`` would skip): greedily, the step to a layer's next level that skips the most MACs
    per point of measured accuracy lost (a measured gain counts as no loss)."""
    total = sum(s.macs for s in sens)
    chosen = {s.layer: 0.0 for s in sens}
    skipped = 0.0
    while skipped < sparsity * total - 1e-9:
        best = None
        for s in sens:
            now = chosen[s.layer]
            nxt = next((v for v in sorted(s.drops) if v > now), None)
            if nxt is None:
                continue
            cost = max(s.drops[nxt] - (s.drops[now] if now else 0.0), 0.0) + 1e-3  # per layer, in accuracy
            gain = (nxt - now) * s.macs
            if best is None or gain / cost > best[0]:
                best = (gain / cost, s, nxt)
        if best is None:
            break
        _, s, nxt = best
        skipped += (nxt - chosen[s.layer]) * s.macs
        chosen[s.layer] = nxt
    return chosen


def block_prune(model, data, sparsity: float, epochs: int = 3, lr: float = 1e-3, batch_size: int = 32,
                seed: int = 0, pruning_fraction: float = 0.7, frequency: int = 10, verbose: int = 0,
                by_sensitivity: bool = False):
    """:func:`magnitude_prune` in blocks (:func:`block_mask`) of the Conv2D layers
    :func:`block_prunable_layers` names: the model keeps its shape, and on a DSP core
    ek_conv2d_sparse_dsp_s8 neither stores nor computes the blocks that are zero, so flash and
    cycles fall with them (Dense and depthwise layers stay dense). ``by_sensitivity``: each layer
    its own sparsity (:func:`block_sensitivity`, :func:`allocate_blocks`), as many MACs skipped
    as ``sparsity`` everywhere would skip; else every layer ``sparsity``."""
    if not 0.0 <= sparsity < 1.0:
        raise EdgekitError(f"sparsity {sparsity} must be in [0, 1)")
    layers = block_prunable_layers(model)
    if not layers:
        raise UnsupportedModelError("no Conv2D layer to prune in blocks (ungrouped, filter rows of whole words, "
                                    "at least 64 weights)")
    scale, targets = None, {l.name: sparsity for l in layers}
    if by_sensitivity and sparsity > 0:
        targets = allocate_blocks(block_sensitivity(model, data, layers, seed=seed), sparsity)
        scale = {name: t / sparsity for name, t in targets.items()}
    steps = epochs * int(np.ceil(len(data.x_train) / batch_size))
    schedule = PolynomialSchedule(sparsity, end_step=max(1, int(steps * pruning_fraction)), frequency=frequency)
    cb = magnitude_pruning_callback(layers, schedule, mask=block_mask, scale=scale)
    train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, callbacks=[cb], verbose=verbose)
    method = f"blocks of {BLOCK_TAPS}x{BLOCK_CHANNELS}" + (", per layer by sensitivity" if scale else "")
    return model, PruneReport(method, sparsity, sparsity_of(model, layers), block_targets=targets)


# ---------------------------------------------------------------------------- structured pruning

_PASS = {"BatchNormalization", "ReLU", "Activation", "Dropout", "AveragePooling2D", "MaxPooling2D",
         "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Softmax", "LeakyReLU",
         "ELU", "PReLU", "SpatialDropout2D", "Identity"}
_MERGE = {"Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average"}


class _Spaces:
    """Union-find over channel spaces (one per produced channel dimension)."""

    def __init__(self):
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.fixed: set[int] = set()
        self.n = 0

    def new(self, channels: int, fixed: bool = False) -> int:
        s = self.n
        self.n += 1
        self.parent[s] = s
        self.size[s] = channels
        if fixed:
            self.fixed.add(s)
        return s

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a != b:
            if self.size[a] != self.size[b]:
                raise UnsupportedModelError("residual join of tensors with different channel counts")
            self.parent[b] = a
            if b in self.fixed:
                self.fixed.add(a)
        return a

    def fix(self, s: int) -> None:
        self.fixed.add(self.find(s))

    def is_fixed(self, s: int) -> bool:
        return self.find(s) in self.fixed


@dataclass
class ChannelPlan:
    """Channel spaces of a model: ``out_space`` / ``in_space`` per layer name, and the
    convolution/Dense layers producing each space (whose filters rank its channels)."""

    spaces: _Spaces
    out_space: dict[str, int]
    in_space: dict[str, int]
    producers: dict[int, list[str]]

    def prunable(self) -> list[int]:
        roots = {self.spaces.find(s) for s in self.out_space.values()}
        return sorted(r for r in roots if r not in self.spaces.fixed and self.producers.get(r))


def channel_plan(model) -> ChannelPlan:
    nodes = wiring(model)
    sp = _Spaces()
    out_space: dict[str, int] = {}
    in_space: dict[str, int] = {}
    producers: dict[int, list[str]] = defaultdict(list)

    def channels(shape) -> int:
        return int(shape[-1]) if shape and shape[-1] is not None else 0

    for n in nodes:
        k = n.kind
        ins = [out_space[i] for i in n.inputs]
        if k == "InputLayer":
            out_space[n.name] = sp.new(channels(n.output_shape), fixed=True)
            continue
        if ins:
            in_space[n.name] = ins[0]
        if k in ("Conv2D", "Dense") and getattr(n.op, "groups", 1) == 1:
            s = sp.new(channels(n.output_shape))
            producers[s].append(n.name)
            out_space[n.name] = s
            if k == "Dense" and len(n.input_shapes[0]) != 2:
                sp.fix(ins[0])
                sp.fix(s)
        elif k == "DepthwiseConv2D" and n.op.depth_multiplier == 1:
            out_space[n.name] = ins[0]
        elif k in _PASS:
            out_space[n.name] = ins[0]
        elif k in ("Flatten", "Reshape") and all(d == 1 for d in n.input_shapes[0][1:-1]) \
                and len(n.output_shape) == 2 and n.output_shape[-1] == n.input_shapes[0][-1]:
            out_space[n.name] = ins[0]  # a 1x1xC map flattened keeps its channel order
        elif k in _MERGE:
            s = ins[0]
            for other in ins[1:]:
                s = sp.union(s, other)
            out_space[n.name] = s
        else:  # concatenation, shuffles, slices, anything unknown: leave its channels alone
            for s in ins:
                sp.fix(s)
            out_space[n.name] = sp.new(channels(n.output_shape), fixed=True)
    for name in output_names(model):
        sp.fix(out_space[name])
    merged: dict[int, list[str]] = defaultdict(list)
    for s, names in producers.items():
        merged[sp.find(s)] += names
    return ChannelPlan(sp, out_space, in_space, merged)


def _filter_norms(layer) -> np.ndarray:
    """L1 norm of each output channel's filter, divided by the layer's mean (so layers of a
    residual group weigh alike)."""
    k = layer.kernel.numpy()
    norms = np.abs(k.reshape(-1, k.shape[-1])).sum(axis=0)
    return norms / max(float(norms.mean()), 1e-12)


def structured_prune(model, ratio: float, data=None, fine_tune_epochs: int = 0, lr: float = 1e-3,
                     seed: int = 0, divisor: int = 1, verbose: int = 0, rounds: int = 1):
    """A new model with ``ratio`` of the channels of every prunable channel group removed.

    ``divisor``: keep a multiple of this many channels per group (at least one multiple).
    With ``data`` and ``fine_tune_epochs`` the pruned model is fine-tuned. ``rounds`` > 1:
    iterative pruning, each round removing the same fraction of what is left (together ``ratio``)
    and fine-tuning for its share of ``fine_tune_epochs`` before the next one chooses.
    """
    if not 0.0 <= ratio < 1.0:
        raise EdgekitError(f"ratio {ratio} must be in [0, 1)")
    if rounds > 1:
        return _structured_rounds(model, ratio, data, fine_tune_epochs, lr, seed, divisor, verbose, rounds)
    plan = channel_plan(model)
    counts = {root: min(plan.spaces.size[root],
                      max(divisor, int(round(plan.spaces.size[root] * (1 - ratio) / divisor)) * divisor))
              for root in plan.prunable()}
    new, report = keep_channels(model, counts, plan)
    report.target = ratio
    if data is not None and fine_tune_epochs:
        train(new, data, epochs=fine_tune_epochs, lr=lr, seed=seed, verbose=verbose)
    return new, report


def _structured_rounds(model, ratio, data, fine_tune_epochs, lr, seed, divisor, verbose, rounds):
    if data is None or fine_tune_epochs < rounds:
        raise EdgekitError(f"iterative pruning fine-tunes after each of its {rounds} rounds: it needs data and at "
                           f"least {rounds} epochs")
    step = 1 - (1 - ratio) ** (1 / rounds)
    removed: dict[str, int] = {}
    current, first = model, None
    for r in range(rounds):
        epochs = fine_tune_epochs // rounds + (1 if r < fine_tune_epochs % rounds else 0)
        current, rep = structured_prune(current, step, data, epochs, lr, seed + r, divisor, verbose)
        first = first or rep
        for name, n in rep.removed_channels.items():
            removed[name] = removed.get(name, 0) + n
    return current, dataclasses.replace(rep, target=ratio, params_before=first.params_before,
                                        removed_channels=removed)


def group_name(plan: ChannelPlan, root: int) -> str:
    """A channel group by its first producing layer (and how many others share its channels)."""
    names = plan.producers[root]
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} joined)"


def keep_channels(model, counts: dict[int, int], plan: ChannelPlan | None = None):
    """A new model keeping ``counts[root]`` channels of each channel group ``root`` of ``plan``
    (groups not named, or asked to keep all, are untouched): in each group the channels with the
    largest L1 filter norm summed over the group's producing layers."""
    import keras

    plan = plan or channel_plan(model)
    keep: dict[int, np.ndarray] = {}
    removed: dict[str, int] = {}
    for root, n_keep in counts.items():
        c = plan.spaces.size[root]
        if not 0 < n_keep <= c:
            raise EdgekitError(f"channel group {group_name(plan, root)}: cannot keep {n_keep} of {c} channels")
        if n_keep == c:
            continue
        score = sum(_filter_norms(model.get_layer(n)) for n in plan.producers[root])
        keep[root] = np.sort(np.argsort(-score, kind="stable")[:n_keep])
        removed[group_name(plan, root)] = c - n_keep

    def kept(space: int | None, n: int) -> np.ndarray:
        if space is None:
            return np.arange(n)
        return keep.get(plan.spaces.find(space), np.arange(n))

    def clone(layer):
        cfg = layer.get_config()
        s = plan.out_space.get(layer.name)
        if s is not None and plan.spaces.find(s) in keep:
            if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D):
                cfg["filters"] = int(len(keep[plan.spaces.find(s)]))
            elif isinstance(layer, keras.layers.Dense):
                cfg["units"] = int(len(keep[plan.spaces.find(s)]))
        return layer.__class__.from_config(cfg)

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new_layer = new.get_layer(layer.name)
        s_in = plan.in_space.get(layer.name)
        s_out = plan.out_space.get(layer.name)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            k = kept(s_in, ws[0].shape[2])
            ws = [ws[0][:, :, k]] + [w[k] for w in ws[1:]]
        elif isinstance(layer, keras.layers.Conv2D):
            ki, ko = kept(s_in, ws[0].shape[2]), kept(s_out, ws[0].shape[3])
            ws = [ws[0][:, :, ki][..., ko]] + [w[ko] for w in ws[1:]]
        elif isinstance(layer, keras.layers.Dense):
            ki, ko = kept(s_in, ws[0].shape[0]), kept(s_out, ws[0].shape[1])
            ws = [ws[0][ki][:, ko]] + [w[ko] for w in ws[1:]]
        elif isinstance(layer, keras.layers.BatchNormalization):
            k = kept(s_in, ws[0].shape[0])
            ws = [w[k] for w in ws]
        new_layer.set_weights(ws)
    report = PruneReport("structured", 0.0, removed_channels=removed,
                         params_before=int(model.count_params()), params_after=int(new.count_params()))
    return new, report

"""Weight sharing: every Conv2D / Dense kernel clustered to K values with k-means (numpy).

After clustering, a short fine-tuning moves the shared values (the centroids) while each
weight keeps its cluster: after every training step each weight is replaced by the mean of
its cluster, which is gradient descent on the centroids with the gradients of their members
averaged. The model leaves with exactly <= K distinct float values per kernel.

On the way to the board, int8 quantization maps each float value to one int8 value, so a
kernel quantized per tensor keeps <= K distinct int8 values; quantized per channel (the
default) it keeps <= K per output channel (a channel's scale divides all of them alike), but up
to K x channels over the tensor. The code generator then stores the kernel as packed
``log2(K)``-bit indices plus one K-entry table per tensor or per channel
(``edgekit.codegen.ops.palette``) and decodes it in the kernels, bit-exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgekitError
from ..ir import OpKind, parse_tflite
from .measure import train
from .prune import prunable_layers


def kmeans_1d(values: np.ndarray, k: int, iters: int = 50, init: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means on scalars: (centroids sorted ascending, label of each value).

    ``init='linear'``: centroids spread evenly between min and max (keeps the rare large
    weights represented, which matter most); ``'quantile'``: at the value quantiles.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    uniq = np.unique(v)
    if len(uniq) <= k:
        return uniq.copy(), np.searchsorted(uniq, v)
    if init == "linear":
        c = np.linspace(v.min(), v.max(), k)
    else:
        c = np.quantile(v, (np.arange(k) + 0.5) / k)
    order = np.sort(v)
    for _ in range(iters):
        c = np.sort(c)
        edges = (c[1:] + c[:-1]) / 2
        lab = np.searchsorted(edges, order)
        sums = np.bincount(lab, weights=order, minlength=k)
        counts = np.bincount(lab, minlength=k)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        if np.allclose(new, c):
            c = new
            break
        c = new
    c = np.sort(c)
    lab = np.searchsorted((c[1:] + c[:-1]) / 2, v)
    # drop empty clusters so labels index only used values
    used = np.unique(lab)
    remap = np.full(len(c), -1)
    remap[used] = np.arange(len(used))
    return c[used], remap[lab]


def _label_groups(w: np.ndarray, k: int, per_channel: bool):
    """Labels that are unique over the whole tensor (cluster ids of channel j offset by j*k)."""
    if not per_channel:
        c, lab = kmeans_1d(w, k)
        return c[lab].reshape(w.shape), lab.reshape(w.shape)
    flat = w.reshape(-1, w.shape[-1])
    out = np.empty_like(flat)
    labels = np.empty(flat.shape, dtype=np.int64)
    for j in range(flat.shape[1]):
        c, lab = kmeans_1d(flat[:, j], k)
        out[:, j] = c[lab]
        labels[:, j] = lab + j * k
    return out.reshape(w.shape), labels.reshape(w.shape)


def cluster_snap_callback(layers, labels: dict[str, np.ndarray]):
    """The ClusterSnap Keras callback: Keras is imported here, not when edgekit.compress is (a command
    that never trains starts without TensorFlow)."""
    import keras

    class ClusterSnap(keras.callbacks.Callback):
        """Keras callback: after every step, each weight becomes the mean of its cluster."""

        def __init__(self, layers, labels: dict[str, np.ndarray]):
            super().__init__()
            self.layers_ = list(layers)
            self.labels = labels

        def snap(self):
            for l in self.layers_:
                lab = self.labels[l.name].reshape(-1)
                w = l.kernel.numpy().reshape(-1).astype(np.float64)
                sums = np.bincount(lab, weights=w)
                counts = np.bincount(lab)
                means = sums / np.maximum(counts, 1)
                l.kernel.assign(means[lab].reshape(l.kernel.shape).astype("float32"))

        def on_train_batch_end(self, batch, logs=None):
            self.snap()

        def on_train_end(self, logs=None):
            self.snap()

    return ClusterSnap(layers, labels)


@dataclass
class ClusterReport:
    clusters: int
    per_channel: bool
    distinct: dict[str, int] = field(default_factory=dict)  # distinct float values per kernel
    low_clusters: int | None = None  # the fewer values of the layers in ``low_layers``
    low_layers: list[str] = field(default_factory=list)
    sensitivity: list[dict] = field(default_factory=list)  # per layer: weights, accuracy lost at low_clusters

    def to_json(self) -> dict:
        return {"clusters": self.clusters, "per_channel": self.per_channel, "distinct": self.distinct,
                "low_clusters": self.low_clusters, "low_layers": self.low_layers, "sensitivity": self.sensitivity}


def distinct_values(model, layers=None) -> dict[str, int]:
    layers = layers if layers is not None else prunable_layers(model)
    return {l.name: int(len(np.unique(l.kernel.numpy()))) for l in layers}


def index_bits(clusters: int) -> int:
    """The bits of a palette index for ``clusters`` values (the kernels decode 1, 2 or 4)."""
    return next(b for b in (1, 2, 4, 8) if clusters <= 1 << b)


def cluster_sensitivity(model, data, layers, clusters: int, per_channel: bool = False, val_fraction: float = 0.2,
                        seed: int = 0) -> list[dict]:
    """Per layer: the validation accuracy lost when only that layer's kernel is clustered to
    ``clusters`` values (no fine-tuning), on a split held out of the training data."""
    from .data import split
    from .measure import float_accuracy

    _, _, x_val, y_val = split(data.x_train, data.y_train, val_fraction, seed)
    base = float_accuracy(model, x_val, y_val)
    out = []
    for l in layers:
        w = l.kernel.numpy()
        l.kernel.assign(_label_groups(w, clusters, per_channel)[0].astype("float32"))
        out.append({"layer": l.name, "weights": int(w.size),
                    "accuracy_drop": float(base - float_accuracy(model, x_val, y_val))})
        l.kernel.assign(w)
    return out


def choose_low(sens: list[dict], clusters: int, low_clusters: int, save_bytes: int) -> list[str]:
    """Mixed palette widths under a flash budget: the layers that lose least accuracy per byte
    their narrower indices save (ties: the larger first) until ``save_bytes`` are saved."""
    per_weight = (index_bits(clusters) - index_bits(low_clusters)) / 8
    chosen, saved = [], 0.0
    for s in sorted(sens, key=lambda s: (max(s["accuracy_drop"], 0.0) / (s["weights"] * per_weight), -s["weights"])):
        if saved >= save_bytes:
            break
        chosen.append(s["layer"])
        saved += s["weights"] * per_weight
    return chosen


def cluster_weights(model, clusters: int = 16, data=None, epochs: int = 2, lr: float = 5e-4,
                    batch_size: int = 32, seed: int = 0, per_channel: bool = False,
                    include_depthwise: bool = False, min_weights: int = 64, verbose: int = 0,
                    low_clusters: int | None = None, save_bytes: int | None = None):
    """Cluster every Conv2D/Dense kernel of ``model`` (in place) to ``clusters`` values, then
    fine-tune the shared values on ``data`` for ``epochs`` (0: no fine-tuning).

    ``per_channel``: k-means per output channel (K values per channel instead of per kernel;
    the palette tables are per channel after per-channel int8 quantization anyway, so this
    costs no flash and usually keeps more accuracy). ``low_clusters`` with ``save_bytes``: the
    layers least sensitive to ``low_clusters`` values (each measured alone on a validation split,
    :func:`cluster_sensitivity`) that save ``save_bytes`` of index bytes take that many, the rest
    ``clusters`` (:func:`choose_low`).
    """
    for k in (clusters, low_clusters or clusters):
        if not 2 <= k <= 256:
            raise EdgekitError(f"clusters {k} must be in 2..256")
    if (low_clusters is None) != (save_bytes is None):
        raise EdgekitError("--low-clusters and --save-bytes go together: the narrower palettes for the least "
                           "sensitive layers that save that many bytes")
    if low_clusters is not None and index_bits(low_clusters) >= index_bits(clusters):
        raise EdgekitError(f"--low-clusters {low_clusters} saves nothing over --clusters {clusters}: "
                           "its indices must be narrower")
    if low_clusters is not None and data is None:
        raise EdgekitError("mixed palette widths need data: each layer's sensitivity is measured on it")
    layers = prunable_layers(model, include_depthwise, min_weights)
    sens, low = [], []
    if low_clusters is not None:
        sens = cluster_sensitivity(model, data, layers, low_clusters, per_channel, seed=seed)
        low = choose_low(sens, clusters, low_clusters, save_bytes)
    labels = {}
    for l in layers:
        w = l.kernel.numpy()
        snapped, lab = _label_groups(w, low_clusters if l.name in low else clusters, per_channel)
        l.kernel.assign(snapped.astype("float32"))
        labels[l.name] = lab
    if data is not None and epochs:
        cb = cluster_snap_callback(layers, labels)
        train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, callbacks=[cb],
              verbose=verbose)
    return model, ClusterReport(clusters, per_channel, distinct_values(model, layers), low_clusters, low, sens)


def int8_distinct_values(tflite: bytes) -> dict[str, tuple[int, int]]:
    """For each CONV_2D / FULLY_CONNECTED weight tensor of an int8 model: (distinct values over
    the tensor, most distinct values in one output channel)."""

    g = parse_tflite(tflite)
    out = {}
    for op in g.ops:
        if op.kind in (OpKind.CONV_2D, OpKind.FULLY_CONNECTED, OpKind.DEPTHWISE_CONV_2D):
            w = g.tensors[op.inputs[1]]
            if w.data is None:
                continue
            rows = w.data.reshape(w.shape[0], -1) if op.kind != OpKind.DEPTHWISE_CONV_2D \
                else w.data.reshape(-1, w.shape[-1]).T
            out[f"{op.index}:{op.type_name}:{w.name}"] = (
                int(len(np.unique(w.data))), int(max(len(np.unique(r)) for r in rows)))
    return out

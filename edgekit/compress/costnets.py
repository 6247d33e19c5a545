"""The networks the latency cost model is fitted on, and the held-out ones it is checked on.

Both are seeded lists of specs; :func:`build` makes each an int8 ``.tflite`` (untrained, its
BatchNormalization statistics set on scikit-learn's digits, which ship with the package). The
training set spans the zoo families ``edgekit fit`` searches, at several widths, resolutions
and depths, plus networks that make the lowering choose the kernels the zoo does not reach
untrained: palettized weights (clustered to 4 or 16 values: the DSP palettized convolution),
sparse ones (pruned to 95 %), block-sparse ones (half or most of the Conv2D kernels' 16x2 blocks
zero: the DSP block-sparse convolution), int4 ones (Conv2D kernels on the 4-bit grid, stored INT4:
the DSP int4 convolution), Winograd (3x3 stride-1 convolutions on 16x16 and larger maps), max
pooling. The held-out set has other
seeds, widths and resolutions than any training network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cluster, measure, prune, zoo
from .data import Dataset, digits


@dataclass(frozen=True)
class NetSpec:
    family: str  # a zoo family, or "plain_cnn" (3x3 convolutions, max pooling, a dense head)
    width: float
    resolution: int
    depth: float = 1.0
    seed: int = 0
    # "", "clusterN" (palettized, N values), "prune95" (sparse), "blocksNN" (NN % of blocks zero), "int4"
    compress: str = ""

    @property
    def name(self) -> str:
        extra = f"_{self.compress}" if self.compress else ""
        return f"{self.family}_w{self.width:g}_r{self.resolution}_d{self.depth:g}_s{self.seed}{extra}"


TRAINING = (
    NetSpec("mobilenet_v1", 0.25, 16, 0.5),
    NetSpec("mobilenet_v1", 0.5, 32, 0.5),
    NetSpec("mobilenet_v1", 0.125, 32, 1.0),
    NetSpec("mobilenet_v2", 0.35, 24, 0.34),
    NetSpec("mobilenet_v2", 0.25, 32, 0.67),
    NetSpec("mobilenet_v2", 0.125, 16, 1.0),
    NetSpec("shufflenet_v2", 0.25, 32, 0.25),
    NetSpec("efficientnet_lite", 0.25, 16, 0.34),
    NetSpec("ds_cnn", 0.5, 16, 1.0),
    NetSpec("ds_cnn", 0.25, 32, 0.5),
    NetSpec("ds_cnn", 1.0, 24, 0.5),
    NetSpec("plain_cnn", 0.5, 16),
    NetSpec("plain_cnn", 1.0, 32),
    NetSpec("mobilenet_v1", 0.5, 16, 0.5, compress="cluster4"),
    NetSpec("mobilenet_v2", 0.5, 16, 0.34, compress="cluster4"),
    NetSpec("mobilenet_v2", 0.35, 32, 0.34, compress="cluster16"),
    NetSpec("mobilenet_v1", 0.5, 16, 0.5, compress="prune95"),
    NetSpec("mobilenet_v2", 0.5, 16, 0.5, compress="blocks50"),
    NetSpec("mobilenet_v1", 0.5, 24, 0.5, compress="blocks80"),
    NetSpec("mobilenet_v2", 0.35, 24, 0.5, compress="int4"),
)

HELD_OUT = (
    NetSpec("mobilenet_v1", 0.35, 24, 1.0, seed=7),
    NetSpec("mobilenet_v2", 0.5, 24, 0.5, seed=7),
    NetSpec("ds_cnn", 0.75, 20, 1.0, seed=7),
)


def plain_cnn(resolution: int, channels: int, num_classes: int, width: float):
    """3x3 stride-1 convolutions (Winograd's shape on maps of 16x16 and more) with max pooling."""
    import keras

    c = max(4, round(16 * width))
    x = inp = keras.Input((resolution, resolution, channels))
    x = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(2 * c, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(num_classes)(x)
    return keras.Model(inp, keras.layers.Softmax()(x))


def build(spec: NetSpec, data: Dataset | None = None) -> bytes:
    """The int8 ``.tflite`` of ``spec``."""
    data = data or digits()
    ds = data.resized(spec.resolution)
    if spec.family == "plain_cnn":
        measure.seed_everything(spec.seed)
        model = plain_cnn(spec.resolution, ds.input_shape[-1], data.num_classes, spec.width)
    else:
        model = zoo.build(spec.family, resolution=spec.resolution, channels=ds.input_shape[-1],
                          num_classes=data.num_classes, width=spec.width, depth=spec.depth, seed=spec.seed)
    measure.refresh_batchnorm(model, ds.x_train, passes=5)
    if spec.compress == "int4":  # BatchNorm folded, so that the kernels stay on the grid through conversion
        from .int4 import int4_layers, int4_weights
        from .qat import fold_batchnorm

        model = fold_batchnorm(model)
        for name in int4_layers(model):
            layer = model.get_layer(name)
            w = layer.kernel.numpy()
            step = np.maximum(np.abs(w.reshape(-1, w.shape[-1])).max(axis=0), 1e-12) / 7
            layer.kernel.assign(np.clip(np.round(w / step), -7, 7) * step)
        return int4_weights(measure.to_int8(model, ds, calib_samples=16))[0]
    if spec.compress.startswith("blocks"):
        for layer in prune.block_prunable_layers(model):
            w = layer.kernel.numpy()
            layer.kernel.assign(w * prune.block_mask(w, int(spec.compress[len("blocks"):]) / 100))
    elif spec.compress.startswith("cluster"):
        cluster.cluster_weights(model, int(spec.compress[len("cluster"):]), epochs=0)
    elif spec.compress == "prune95":
        for layer in prune.prunable_layers(model):
            w = layer.kernel.numpy()
            layer.kernel.assign(w * prune.magnitude_mask(w, 0.95))
    elif spec.compress:
        raise ValueError(f"unknown compression {spec.compress!r}")
    return measure.to_int8(model, ds, calib_samples=16)

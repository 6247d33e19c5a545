"""Which ``keras.applications`` models could a microcontroller hold, built small?

Every model constructor in ``keras.applications`` (found by walking the module, not listed by
hand) is built as a user would build the smallest one of its kind: ``weights=None`` (seeded random
weights, nothing downloaded), ``include_top=True``, ``classes=10``, the smallest square RGB input
it accepts (32x32, or the minimum its error message names), and the narrowest width its
documentation names where it takes one (``NARROWEST``); a constructor with a ``minimalistic``
switch is built both ways. The catalogue counts each one's parameters and the bytes its
convolution and dense kernels take at one int8 byte each: a model whose kernels alone pass
``LIMIT_BYTES`` cannot fit, and is not converted. ``benchmarks/coverage.py`` takes the others
through convert, inspect and validate. Usage (the catalogue alone):

    python benchmarks/keras_apps.py
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: the int8 weight budget: 1 MiB
LIMIT_BYTES = 1 << 20

#: the smallest width multiplier each family documents (MobileNetV3: the widths it has weights for)
NARROWEST = {"MobileNet": 0.25, "MobileNetV2": 0.35, "MobileNetV3Small": 0.75, "MobileNetV3Large": 0.75}

#: the input sides tried first; a constructor that refuses 32 names its minimum ("at least 75x75")
FIRST_SIDE = 32


@dataclass(frozen=True)
class App:
    name: str  # the table's first column: constructor and the arguments that differ from its defaults
    constructor: str
    kwargs: dict = field(hash=False)
    side: int
    params: int
    kernel_bytes: int  # convolution and dense kernels, one int8 byte per weight

    @property
    def fits(self) -> bool:
        return self.kernel_bytes <= LIMIT_BYTES

    def build(self):
        """The model, seeded, its batch-normalization statistics set from ``calibration(side)``."""
        import keras

        keras.utils.set_random_seed(0)
        model = getattr(keras.applications, self.constructor)(**self.kwargs)
        settle_batch_norm(model, calibration(self.side))
        return model


def calibration(side: int, n: int = 64):
    """The samples benchmarks/coverage.py calibrates with (seed 0, standard normal)."""
    import numpy as np

    return np.random.default_rng(0).standard_normal((n, side, side, 3)).astype(np.float32)


def settle_batch_norm(model, x) -> None:
    """Each BatchNormalization's moving mean and variance made those of its input on ``x``, as
    training would leave them. A network with fresh weights and the initial statistics (mean 0,
    variance 1) shrinks its signal layer by layer (MobileNet 0.25: the logits reach 1e-17), and
    its int8 form is degenerate (a SOFTMAX whose input scale underflows TFLite's arithmetic); a
    trained one does not. One forward pass in training mode with momentum 0: every layer sees
    its input normalized by the batch, as it will by the settled statistics at inference."""
    import keras

    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    kept = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(x, training=True)
    for bn, m in zip(bns, kept):
        bn.momentum = m


def constructors() -> dict[str, object]:
    """name -> function, for every model constructor keras.applications exports."""
    import keras

    out = {}
    for name, fn in sorted(vars(keras.applications).items()):
        if inspect.isfunction(fn):
            ps = inspect.signature(fn).parameters
            if {"weights", "include_top", "classes", "input_shape"} <= set(ps):
                out[name] = fn
    return out


def _variants(name: str, fn) -> list[tuple[str, dict]]:
    ps = inspect.signature(fn).parameters
    base = {"weights": None, "include_top": True, "classes": 10}
    label = []
    if "alpha" in ps:
        base["alpha"] = NARROWEST.get(name, ps["alpha"].default)
        label.append(f"alpha={base['alpha']}")
    if "minimalistic" in ps:
        return [(f"{name}({', '.join([*label, 'minimalistic'][:len(label) + m])})", {**base, "minimalistic": m})
                for m in (False, True)]
    return [(f"{name}({', '.join(label)})" if label else name, base)]


def _kernel_bytes(model) -> int:
    """Weights of rank 2 and above (convolution, depthwise and dense kernels): one int8 byte each."""
    return sum(int(w.numpy().size) for w in model.weights if len(w.shape) >= 2)


def catalogue(only: list[str] | None = None) -> list[App]:
    """Every constructor's smallest build, measured; ``only``: names (table column or constructor)."""
    import keras

    apps = []
    for cname, fn in constructors().items():
        for name, kw in _variants(cname, fn):
            if only and name not in only and cname not in only:
                continue
            side, model = FIRST_SIDE, None
            while model is None:
                try:
                    keras.utils.set_random_seed(0)
                    model = fn(input_shape=(side, side, 3), **kw)
                except ValueError as exc:
                    m = re.search(r"at least (\d+)x(\d+)", str(exc))
                    if not m or int(m.group(1)) <= side:
                        raise
                    side = int(m.group(1))
            kw = {**kw, "input_shape": (side, side, 3)}
            apps.append(App(name, cname, kw, side, model.count_params(), _kernel_bytes(model)))
            del model
            keras.backend.clear_session()
    return apps


def main() -> int:
    for a in catalogue(sys.argv[1:] or None):
        print(f"{a.name:44} {a.side:>3}x{a.side:<3} {a.params:>12,} params {a.kernel_bytes:>12,} kernel bytes"
              f"  {'fits' if a.fits else 'too large'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

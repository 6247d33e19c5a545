"""From a trained Keras model to what a board gets, and the numbers that judge it.

``to_int8`` converts at batch 1 (static shapes: no SHAPE/PACK operators around reshapes);
``int8_accuracy`` runs the int8 model in the ``tflite-micro`` interpreter, which edgekit's
generated code equals bit for bit; ``deploy_stats`` lowers and plans the model exactly as
``edgekit generate`` does and reports weight flash as deployed (palettized/sparse tensors
counted packed), the dense int8 weight bytes, the planned arena and the MACs.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import generate, plan_for, schedule_for
from ..codegen.core import HOST
from ..codegen.lower import lower_graph
from ..frontend import reference
from ..frontend.quantize import dynamic_range_tflite, int8_tflite
from ..ir import parse_tflite
from ..ir.analysis import totals
from ..target.host import build_host_runner, compare, random_inputs, run_host
from .data import Dataset


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def compile_for_training(model, lr: float = 3e-3, loss="sparse_categorical_crossentropy",
                         metrics=("accuracy",), loss_weights=None):
    """Adam, no XLA, optimizer variables built up front.

    Building the optimizer before the first step matters on a CPU: otherwise its variables
    are created inside the first traced step, which is then traced a second time (tens of
    seconds for a 50-layer network); XLA compilation costs more than it saves in a short run.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=list(metrics),
                  loss_weights=loss_weights, jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    return model


def train(model, data: Dataset, epochs: int = 5, lr: float = 3e-3, batch_size: int = 32,
          seed: int = 0, callbacks=(), verbose: int = 0, recompile: bool = True):
    """Short supervised training on ``data`` (sparse labels, Adam), seeded."""
    seed_everything(seed)
    if recompile:
        compile_for_training(model, lr)
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
              callbacks=list(callbacks), verbose=verbose)
    return model


def float_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    p = model.predict(x, batch_size=128, verbose=0)
    return float(np.mean(np.argmax(p, axis=-1) == y))


def batch1_function(model):
    """The model as a ``tf.function`` taking one sample (what the converter should see)."""
    import tensorflow as tf

    shape = (1, *model.inputs[0].shape[1:])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def serve(x):
        return model(x, training=False)

    return serve


def to_int8(model, data: Dataset, per_tensor: bool = False, calib_samples: int = 100) -> bytes:
    """Full-integer post-training quantization (int8 in and out), calibrated on training data."""

    return int8_tflite(batch1_function(model), data.calibration(calib_samples), per_tensor=per_tensor)


def to_dynamic_range(model) -> bytes:
    """Dynamic-range quantization: int8 weights, float activations. edgekit does not generate
    code for it (its kernels are integer-only); it is for comparison on the desktop."""

    return dynamic_range_tflite(batch1_function(model))


def quantize_inputs(tflite: bytes, x: np.ndarray) -> list[list[np.ndarray]]:
    g = parse_tflite(tflite)
    t = g.tensors[g.inputs[0]]
    if t.dtype.np_name == "float32":
        return [[x[i:i + 1].astype(np.float32)] for i in range(len(x))]
    q = np.clip(np.round(x / t.scale) + t.zero_point, -128, 127).astype(np.int8)
    return [[q[i:i + 1].reshape(t.shape)] for i in range(len(x))]


def int8_outputs(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Raw outputs of the ``tflite-micro`` interpreter for each sample of ``x``."""

    outs = reference.run_tflm(tflite, quantize_inputs(tflite, x))
    return np.stack([o[0].reshape(-1) for o in outs])


def int8_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(int8_outputs(tflite, x), axis=-1) == y))


@dataclass(frozen=True)
class DeployStats:
    weight_bytes: int  # constant data in flash as deployed (packed weights counted packed)
    dense_weight_bytes: int  # the same with every weight tensor stored dense int8
    arena_bytes: int
    macs: int
    packed_tensors: int  # weight tensors stored palettized or sparse
    ops: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _weight_bytes(calls) -> int:
    arrays = {}
    for c in calls:
        for a in c.arrays:
            arrays.setdefault(a.name, a)
    return sum(a.nbytes for a in arrays.values())


def deploy_stats(tflite: bytes, name: str = "model", target=None) -> DeployStats:
    """Lower, reorder and plan exactly as ``edgekit generate`` does (for ``target``, default
    the host), without writing files."""

    graph = parse_tflite(tflite, name=name)
    target = target or HOST
    calls = lower_graph(graph, target)
    dense = lower_graph(graph, dataclasses.replace(target, weight_packing=False))
    g2, calls2, schedule = schedule_for(graph, calls, target)
    plan = plan_for(g2, calls2, schedule=schedule)
    packed = sum(1 for c in calls if c.function.endswith("_pal_s8"))
    return DeployStats(_weight_bytes(calls), _weight_bytes(dense), plan.arena_bytes,
                       totals(graph).macs, packed, len(graph.ops))


def validate_bit_exact(tflite: bytes, samples: int = 5, seed: int = 0, x: np.ndarray | None = None,
                       sanitize: bool = False):
    """Generate C, compile it on the host, compare with tflite-micro; returns the
    :class:`~edgekit.target.host.ValidationReport` (``.passed`` is bit-exactness)."""

    graph = parse_tflite(tflite, name="model")
    data = random_inputs(graph, samples, seed)
    if x is not None:
        data = quantize_inputs(tflite, x) + data
    with tempfile.TemporaryDirectory(prefix="edgekit-compress-") as tmp:
        gen = generate(graph, Path(tmp) / "model")
        exe = build_host_runner(gen, Path(tmp), sanitize=sanitize)
        ours = run_host(exe, gen.inputs, gen.outputs, data)
    return compare(gen, tflite, data, ours)


def copy_model(model):
    """An independent copy of a functional model, weights included."""
    import keras

    new = keras.models.clone_model(model)
    new.set_weights(model.get_weights())
    return new


def refresh_batchnorm(model, x: np.ndarray, passes: int = 20, batch_size: int = 64) -> None:
    """Run ``passes`` forward passes in training mode so the BatchNormalization moving
    statistics describe ``x`` (an untrained network then converts with sensible ranges)."""
    for i in range(passes):
        j = (i * batch_size) % max(1, len(x) - batch_size + 1)
        model(x[j:j + batch_size], training=True)

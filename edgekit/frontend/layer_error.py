"""Per-layer quantization error: how far each int8 tensor is from the float model's.

The float Keras model is converted to a float ``.tflite`` the same way ``convert`` exports it;
the converter names a tensor the same in the float and the int8 model, so each operator output of
the int8 model finds its float twin by name. Both run in LiteRT (every tensor kept) on the same
inputs, in a child process; for each int8 tensor, the SQNR of its dequantized values against the
float ones, over all samples: 10 log10(sum f^2 / sum (f - dequant(q))^2) dB.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from ..children import ChildDied, ChildFailed, run_isolated
from ..errors import EdgekitError
from ..ir import quantize_values
from . import quantize
from .keras_model import load_model, model_format
from .tf_quiet import quiet


def layer_sqnr(keras_path: Path, int8_model: bytes, samples: list[list[np.ndarray]]) -> dict[str, float]:
    """{tensor name: SQNR in dB} for every int8 activation with a float twin; ``samples``: float
    inputs, one list of arrays (batch 1, in the int8 model's input order) per sample."""
    keras_path = Path(keras_path)
    fmt = model_format(keras_path)
    loaded = load_model(keras_path, fmt)
    with tempfile.TemporaryDirectory(prefix="edgekit-sqnr-") as tmp:
        with quiet():
            loaded.export(str(Path(tmp) / "saved"), {i.name: i.shape for i in loaded.inputs})
        try:
            fbuf = run_isolated(_float_tflite, str(Path(tmp) / "saved"))
            return run_isolated(_compare, fbuf, int8_model, samples)
        except (ChildFailed, ChildDied) as exc:
            raise EdgekitError(f"{keras_path}: per-layer error not measured: {exc}") from None


def _float_tflite(saved: str) -> bytes:
    with quiet():
        return quantize.float_tflite(saved)


def _compare(float_model: bytes, int8_model: bytes, samples: list[list[np.ndarray]]) -> dict[str, float]:
    with quiet():
        from ai_edge_litert.interpreter import Interpreter

        f = Interpreter(model_content=float_model, experimental_preserve_all_tensors=True)
        q = Interpreter(model_content=int8_model, experimental_preserve_all_tensors=True)
        f.allocate_tensors()
        q.allocate_tensors()
    f_by_name = {d["name"]: d for d in f.get_tensor_details()}
    q_inputs = q.get_input_details()
    f_inputs = f.get_input_details()
    # the operator outputs of the int8 model: what a layer computes
    outputs = {i for op in q._get_ops_details() for i in op["outputs"]}
    twins = []
    for d in q.get_tensor_details():
        twin = f_by_name.get(d["name"])
        scale, zero = d["quantization"]
        if (d["index"] in outputs and twin is not None and twin["dtype"] == np.float32 and scale
                and np.dtype(d["dtype"]).kind == "i" and tuple(twin["shape"]) == tuple(d["shape"])):
            twins.append((d["name"], d["index"], twin["index"], scale, zero))
    signal = {n: 0.0 for n, *_ in twins}
    noise = {n: 0.0 for n, *_ in twins}
    for sample in samples:
        for det, x in zip(f_inputs, sample):
            f.set_tensor(det["index"], x.astype(np.float32).reshape(det["shape"]))
        for det, x in zip(q_inputs, sample):
            scale, zero = det["quantization"]
            q.set_tensor(det["index"], quantize_values(x, scale, zero, det["dtype"]).reshape(det["shape"]))
        with quiet():
            f.invoke()
            q.invoke()
        for name, qi, fi, scale, zero in twins:
            ref = f.get_tensor(fi).astype(np.float64)
            deq = (q.get_tensor(qi).astype(np.float64) - zero) * scale
            signal[name] += float(np.sum(ref * ref))
            noise[name] += float(np.sum((ref - deq) ** 2))
    return {n: (math.inf if noise[n] == 0 else 10 * math.log10(max(signal[n], 1e-30) / noise[n])) for n in signal}

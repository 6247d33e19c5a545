"""The quantized model measured against the float one on held-out samples: top-1 agreement
for classifier outputs (those computed by SOFTMAX), SQNR in dB for every output. Both models
run in LiteRT (the quantized one in tflite-micro where LiteRT cannot load it: a 16x8 LSTM);
inputs and outputs are matched by signature name, never by position."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir import parse_tflite
from . import reference


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as the converted model declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None  # None: float tensor
    zero_point: int | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "scale": self.scale, "zero_point": self.zero_point}

    def describe(self) -> str:
        shape = "x".join(map(str, self.shape))
        q = f" scale {self.scale:.6g} zero point {self.zero_point}" if self.scale is not None else ""
        return f"{self.name} {shape} {self.dtype}{q}"


@dataclass(frozen=True)
class OutputAgreement:
    """One output of the quantized model compared with the float model on held-out samples."""

    tensor: TensorInfo
    classifier: bool  # computed by SOFTMAX: top-1 agreement is meaningful
    top1_agreement: float | None  # fraction of samples with the same argmax; classifiers only
    sqnr_db: float | None  # 10 log10(sum f^2 / sum (f - q)^2); None: undefined (see below)
    max_abs_error: float
    exact: bool  # the dequantized outputs equal the float ones (infinite SQNR)

    def to_json(self) -> dict:
        return {**self.tensor.to_json(), "classifier": self.classifier,
                "top1_agreement": self.top1_agreement, "sqnr_db": self.sqnr_db,
                "max_abs_error": self.max_abs_error, "exact": self.exact}


class Runner:
    """One LiteRT interpreter behind the model's signature: float data in, float data out."""

    def __init__(self, buf: bytes):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # LiteRT's builtin kernels without the XNNPACK delegate: deterministic, and quiet
        self.interp = Interpreter(model_content=buf, num_threads=1,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.runner = self.interp.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()

    def __call__(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {}
        for name, d in self.inputs.items():
            x = sample[name]
            scale, zp = d["quantization"]
            if np.issubdtype(d["dtype"], np.integer) and scale:
                info = np.iinfo(d["dtype"])
                x = np.clip(np.round(x / scale) + zp, info.min, info.max)
            feed[name] = x.astype(d["dtype"])
        res = self.runner(**feed)
        out = {}
        for name, d in self.outputs.items():
            y = res[name]
            scale, zp = d["quantization"]
            if np.issubdtype(y.dtype, np.integer) and scale:
                y = (y.astype(np.float64) - zp) * scale
            out[name] = np.asarray(y, dtype=np.float64)
        return out

    def tensor_info(self) -> tuple[list[TensorInfo], list[TensorInfo]]:
        def info(name, d):
            scale, zp = d["quantization"]
            quantized = np.issubdtype(d["dtype"], np.integer) and scale
            return TensorInfo(name, tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name,
                              float(scale) if quantized else None, int(zp) if quantized else None)

        # in the model's own order of inputs and outputs: the order of the generated C API's
        # arguments (the signature's order is by name)
        def ordered(signature, details):
            position = {int(d["index"]): k for k, d in enumerate(details)}
            return [info(n, d) for n, d in sorted(signature.items(), key=lambda nd: position[int(nd[1]["index"])])]

        return (ordered(self.inputs, self.interp.get_input_details()),
                ordered(self.outputs, self.interp.get_output_details()))


def _softmax_outputs(buf: bytes, runner: Runner) -> set[str]:
    """Names of the outputs computed by SOFTMAX (through reshapes and (de)quantization)."""
    graph = parse_tflite(buf)
    producer = {t: op for op in graph.ops for t in op.outputs}
    found = set()
    for name, d in runner.outputs.items():
        op = producer.get(int(d["index"]))
        while op is not None and op.type_name in ("RESHAPE", "SQUEEZE", "QUANTIZE", "DEQUANTIZE"):
            op = producer.get(op.inputs[0])
        if op is not None and op.type_name == "SOFTMAX" and len(d["shape"]) >= 2 and d["shape"][-1] >= 2:
            found.add(name)
    return found


class TflmRunner:
    """The quantized model in tflite-micro, for a model LiteRT cannot load (its 16x8
    UNIDIRECTIONAL_SEQUENCE_LSTM is version 5, which LiteRT's kernels do not register). One
    interpreter runs the samples in order, as LiteRT's runner does (an LSTM's state carried)."""

    def __init__(self, buf: bytes):
        self.buf = buf
        self.graph = parse_tflite(buf)
        names = dict(self.graph.io_names)
        self.ins = [(names.get(i, self.graph.tensors[i].name), self.graph.tensors[i]) for i in self.graph.inputs]
        self.outs = [(names.get(i, self.graph.tensors[i].name), self.graph.tensors[i]) for i in self.graph.outputs]
        self.outputs = {n: t for n, t in self.outs}

    def run(self, samples: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        feeds = []
        for sample in samples:
            feed = []
            for name, t in self.ins:
                x = sample[name]
                if t.quant is not None:
                    info = np.iinfo(t.dtype.numpy)
                    x = np.clip(np.round(x / t.scale) + t.zero_point, info.min, info.max)
                feed.append(x.astype(t.dtype.numpy))
            feeds.append(feed)
        results = []
        for ys in reference.run_tflm(self.buf, feeds):
            results.append({name: (y.astype(np.float64) - t.zero_point) * t.scale if t.quant is not None
                            else np.asarray(y, np.float64) for (name, t), y in zip(self.outs, ys)})
        return results

    def tensor_info(self) -> tuple[list[TensorInfo], list[TensorInfo]]:
        def info(name, t):
            q = t.quant is not None
            return TensorInfo(name, t.shape, np.dtype(t.dtype.numpy).name,
                              float(t.scale) if q else None, int(t.zero_point) if q else None)

        return [info(n, t) for n, t in self.ins], [info(n, t) for n, t in self.outs]


def measure_agreement(qbuf: bytes, fbuf: bytes | None,
               held: dict[str, np.ndarray]) -> tuple[list[TensorInfo], list[OutputAgreement]]:
    try:
        quant: Runner | TflmRunner = Runner(qbuf)
    except ValueError:  # LiteRT has no kernel for one of its operators (a 16x8 LSTM)
        quant = TflmRunner(qbuf)
    in_info, out_info = quant.tensor_info()
    n = len(next(iter(held.values()))) if held else 0
    if n == 0 or fbuf is None:
        return in_info, [OutputAgreement(t, False, None, None, 0.0, False) for t in out_info]
    ref = Runner(fbuf)
    if set(ref.outputs) != set(quant.outputs):
        raise AssertionError("float and quantized models have different signature outputs")
    classifiers = _softmax_outputs(fbuf, ref)
    fl: dict[str, list] = {k: [] for k in quant.outputs}
    qu: dict[str, list] = {k: [] for k in quant.outputs}
    samples = [{k: v[i:i + 1] for k, v in held.items()} for i in range(n)]
    for sample in samples:
        for k, y in ref(sample).items():
            fl[k].append(y)
    for result in (quant.run(samples) if isinstance(quant, TflmRunner) else map(quant, samples)):
        for k, y in result.items():
            qu[k].append(y)
    results = []
    for t in out_info:
        f, q = np.stack(fl[t.name]), np.stack(qu[t.name])
        noise = float(np.sum((f - q) ** 2))
        signal = float(np.sum(f ** 2))
        exact = noise == 0.0
        sqnr = None if exact or signal == 0.0 else 10.0 * math.log10(signal / noise)
        top1 = None
        if t.name in classifiers:
            fa = f.reshape(n, -1, f.shape[-1]).argmax(-1)
            qa = q.reshape(n, -1, q.shape[-1]).argmax(-1)
            top1 = float(np.mean(fa == qa))
        results.append(OutputAgreement(t, t.name in classifiers, top1, sqnr,
                                       float(np.max(np.abs(f - q))) if f.size else 0.0, exact))
    return in_info, results

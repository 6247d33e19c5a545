"""Mixed int8 / 16x8 models: chosen operators of a full-int8 model run on int16 activations.

The converter quantizes a whole model one way; an operator whose int8 output loses the most
(a first layer on raw audio, a layer ahead of a narrow softmax) can instead run in the 16x8
scheme (int16 activations, int8 weights, int64 bias) with QUANTIZE operators (TFLite's
requantization, int8 <-> int16) around it. Both models come from the same SavedModel and
calibration, so their operators pair up by output tensor name; :func:`splice_16x8` takes each
chosen operator from the 16x8 model (its weights, bias and options, its int16 input and output
quantization) into the int8 model, requantizing only where an int8 tensor meets an int16 one
(a run of chosen operators stays int16 between them). The model's inputs and outputs stay int8.

Which operators: what loses precision is an int8 tensor between two operators, and it becomes
int16 only when its producer and every reader run 16x8 (one chosen alone is requantized back to
int8 on its way out, and gains little). :func:`choose_16x8` is a greedy search over those
tensors: at each step it measures, for every tensor not yet int16, the SQNR of the model's
outputs against the float model (LiteRT, on the samples given: the calibration ones, the
held-out ones stay for the agreement report) with that tensor's operators added to the chosen
set, keeps the best, and stops when no tensor gains or the next would exceed the operator
budget. Candidates are the operator kinds both tflite-micro and edgekit's kernels run in 16x8
(:data:`KINDS`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

#: operator kinds an int8 model may run in 16x8 (int16 kernels in edgekit and in tflite-micro)
KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD")


@dataclass(frozen=True)
class Step:
    """One step of :func:`choose_16x8`: an int8 tensor made int16, the operators that took for
    it (indices in the int8 model, kinds), and the outputs' SQNR against float after it (dB)."""

    tensor: str
    ops: tuple[int, ...]
    kinds: tuple[str, ...]
    sqnr_db: float
    gain_db: float  # over the step before
    layers: tuple[str, ...] = ()  # the Keras layers of ``ops``, where known

    def to_json(self) -> dict:
        return {"tensor": self.tensor, "operators": list(self.ops), "kinds": list(self.kinds),
                "layers": list(self.layers), "sqnr_db": round(self.sqnr_db, 3), "gain_db": round(self.gain_db, 3)}

    def describe(self) -> str:
        ops = ", ".join(f"op {i} {k}" + (f" {layer}" if layer else "")
                        for i, k, layer in zip(self.ops, self.kinds, self.layers or ("",) * len(self.ops)))
        return f"{ops}: {self.gain_db:+.2f} dB (outputs {self.sqnr_db:.1f} dB)"


def _load(model: bytes):
    from tensorflow.lite.python import schema_py_generated as schema

    return schema, schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))


def _kind_names(schema) -> dict[int, str]:
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _code(c) -> int:
    return max(c.builtinCode, c.deprecatedBuiltinCode)


def candidates(int8_model: bytes, int16_model: bytes) -> list[tuple[int, str, str]]:
    """(index in the int8 model, kind, output name) of each operator that can run 16x8: a kind
    in KINDS with one output, whose twin (same output name, same kind) in the 16x8 model reads
    and writes int16."""
    schema, m8 = _load(int8_model)
    _, m16 = _load(int16_model)
    names = _kind_names(schema)
    g8, g16 = m8.subgraphs[0], m16.subgraphs[0]
    twins = {g16.tensors[o.outputs[0]].name: o for o in g16.operators if len(o.outputs) == 1}
    I16 = schema.TensorType.INT16
    out = []
    for k, op in enumerate(g8.operators):
        kind = names.get(_code(m8.operatorCodes[op.opcodeIndex]), "")
        if kind not in KINDS or len(op.outputs) != 1:
            continue
        name = g8.tensors[op.outputs[0]].name
        twin = twins.get(name)
        if twin is None or names.get(_code(m16.operatorCodes[twin.opcodeIndex])) != kind:
            continue
        if g16.tensors[twin.outputs[0]].type != I16 or g16.tensors[twin.inputs[0]].type != I16:
            continue
        out.append((k, kind, name.decode() if isinstance(name, bytes) else name))
    return out


def splice_16x8(int8_model: bytes, int16_model: bytes, chosen: set[str]) -> bytes:
    """``int8_model`` with the operators whose output tensor is named in ``chosen`` taken from
    ``int16_model`` (16x8), with QUANTIZE operators where int8 and int16 tensors meet. Raises
    ValueError for a name that is not a candidate (see :func:`candidates`)."""
    known = {name for _, _, name in candidates(int8_model, int16_model)}
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise ValueError(f"not an operator that can run 16x8: {unknown[0]!r}")
    return _splice(int8_model, int16_model, chosen) if chosen else int8_model


def _splice(int8_model: bytes, int16_model: bytes, chosen: set[str]) -> bytes:
    """:func:`splice_16x8` on names already known to be candidates."""
    import flatbuffers

    schema, m8 = _load(int8_model)
    _, m16 = _load(int16_model)
    g8, g16 = m8.subgraphs[0], m16.subgraphs[0]
    twins = {g16.tensors[o.outputs[0]].name: o for o in g16.operators if len(o.outputs) == 1}
    want = {n.encode() for n in chosen}

    def opcode(builtin: int, version: int) -> int:
        for k, c in enumerate(m8.operatorCodes):
            if _code(c) == builtin and c.version == version:
                return k
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), version
        m8.operatorCodes.append(c)
        return len(m8.operatorCodes) - 1

    def add_tensor(t16, suffix: bytes) -> int:
        t = copy.deepcopy(t16)
        t.name = (t16.name or b"") + suffix
        if t16.buffer and m16.buffers[t16.buffer].data is not None:  # a constant: its data along
            buf = schema.BufferT()
            buf.data = np.array(m16.buffers[t16.buffer].data, np.uint8)
            m8.buffers.append(buf)
            t.buffer = len(m8.buffers) - 1
        else:
            t.buffer = 0
        g8.tensors.append(t)
        return len(g8.tensors) - 1

    q16 = [c for c in m16.operatorCodes if _code(c) == schema.BuiltinOperator.QUANTIZE]
    quantize = opcode(schema.BuiltinOperator.QUANTIZE, max([2] + [c.version for c in q16]))

    def requantize(src: int, dst: int):
        op = schema.OperatorT()
        op.opcodeIndex = quantize
        op.inputs, op.outputs = np.array([src], np.int32), np.array([dst], np.int32)
        op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.QuantizeOptions, schema.QuantizeOptionsT()
        return op

    readers: dict[int, list] = {}
    for o in g8.operators:
        for i in o.inputs:
            readers.setdefault(int(i), []).append(o)
    is_chosen = {id(o) for o in g8.operators if len(o.outputs) == 1 and g8.tensors[o.outputs[0]].name in want}
    outputs = {int(t) for t in g8.outputs}
    wide: dict[int, int] = {}  # int8 activation -> its int16 twin in the new model
    ops = []
    for op in g8.operators:
        if id(op) not in is_chosen:
            ops.append(op)
            continue
        twin = twins[g8.tensors[op.outputs[0]].name]
        new = copy.deepcopy(twin)
        inputs = []
        for i8, i16 in zip(op.inputs, twin.inputs):
            i8, i16 = int(i8), int(i16)
            if i16 < 0:
                inputs.append(-1)
            elif g16.tensors[i16].buffer and m16.buffers[g16.tensors[i16].buffer].data is not None:
                inputs.append(add_tensor(g16.tensors[i16], b""))  # weights, bias: the 16x8 model's
            else:
                if i8 not in wide:
                    wide[i8] = add_tensor(g16.tensors[i16], b"/int16")
                    ops.append(requantize(i8, wide[i8]))
                inputs.append(wide[i8])
        o8 = int(op.outputs[0])
        o16 = add_tensor(g16.tensors[int(twin.outputs[0])], b"/int16")
        wide[o8] = o16
        new.inputs, new.outputs = np.array(inputs, np.int32), np.array([o16], np.int32)
        c16 = m16.operatorCodes[twin.opcodeIndex]
        new.opcodeIndex = opcode(_code(c16), c16.version)
        ops.append(new)
        if o8 in outputs or any(id(r) not in is_chosen for r in readers.get(o8, [])):
            ops.append(requantize(o16, o8))
    g8.operators = ops
    b = flatbuffers.Builder(len(int8_model) + len(int16_model) + 1024)
    b.Finish(m8.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return 200.0
    return 10.0 * np.log10(max(signal, 1e-30) / noise)


def _run(model: bytes, samples: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Every output of ``model`` (dequantized, in LiteRT's builtin kernels) on float samples
    keyed by signature input name, concatenated in name order; a model without a signature (a
    converted ``tf.function``) takes each sample's arrays in its input order."""
    from .agreement import Runner

    try:
        run = Runner(model)
    except ValueError:  # no signature
        return np.concatenate([y.ravel() for s in samples for y in _positional(model, list(s.values()))])
    return np.concatenate([y.ravel() for s in samples for _, y in sorted(run(s).items())])


def _positional(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, num_threads=1,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), xs):
        scale, zp = d["quantization"]
        if np.issubdtype(d["dtype"], np.integer) and scale:
            info = np.iinfo(d["dtype"])
            x = np.clip(np.round(x / scale) + zp, info.min, info.max)
        it.set_tensor(d["index"], x.astype(d["dtype"]).reshape(d["shape"]))
    it.invoke()
    out = []
    for d in it.get_output_details():
        y = it.get_tensor(d["index"]).astype(np.float64)
        scale, zp = d["quantization"]
        if np.issubdtype(d["dtype"], np.integer) and scale:
            y = (y - zp) * scale
        out.append(y)
    return out


def wideable(int8_model: bytes, int16_model: bytes) -> dict[int, tuple[str, tuple[int, ...]]]:
    """The int8 activations that can become int16: tensor index -> (name, the candidate
    operators that must run 16x8 for it: its producer and every reader). Not the model's inputs
    and outputs (those stay int8)."""
    schema, m8 = _load(int8_model)
    g8 = m8.subgraphs[0]
    cands = {k for k, _, _ in candidates(int8_model, int16_model)}
    edges = {int(t) for t in (*g8.inputs, *g8.outputs)}
    out = {}
    for k, op in enumerate(g8.operators):
        if k not in cands:
            continue
        t = int(op.outputs[0])
        readers = [j for j, r in enumerate(g8.operators) if t in {int(i) for i in r.inputs}]
        if t in edges or not readers or not set(readers) <= cands:
            continue
        name = g8.tensors[t].name
        out[t] = (name.decode() if isinstance(name, bytes) else name, tuple(sorted({k, *readers})))
    return out


def choose_16x8(int8_model: bytes, int16_model: bytes, float_model: bytes, samples: list[dict[str, np.ndarray]],
                max_ops: int) -> tuple[float, list[Step]]:
    """The int8 model's SQNR (dB, its outputs against the float model's) on ``samples`` (float
    inputs of batch 1 keyed by signature input name), and the greedy steps (module text) that
    make at most ``max_ops`` operators 16x8, each gaining."""
    cands = candidates(int8_model, int16_model)
    names = {k: name for k, _, name in cands}
    kinds = {k: kind for k, kind, _ in cands}
    ref = _run(float_model, samples)
    base = now = _sqnr(ref, _run(int8_model, samples))
    chosen: set[int] = set()
    steps: list[Step] = []
    open_ = wideable(int8_model, int16_model)
    while True:
        best = None
        for t, (tname, ops) in sorted(open_.items()):
            trial = chosen | set(ops)
            if len(trial) > max_ops or trial == chosen:
                continue
            got = _sqnr(ref, _run(_splice(int8_model, int16_model, {names[k] for k in trial}), samples))
            if best is None or got > best[0]:
                best = (got, t, tname, tuple(sorted(set(ops) - chosen)))
        if best is None or best[0] <= now:
            return base, steps
        got, t, tname, added = best
        steps.append(Step(tname, added, tuple(kinds[k] for k in added), got, got - now))
        chosen |= set(added)
        now = got
        del open_[t]
        open_ = {u: v for u, v in open_.items() if not set(v[1]) <= chosen}


def chosen_names(int8_model: bytes, int16_model: bytes, steps: list[Step]) -> set[str]:
    """The output names (for :func:`splice_16x8`) of the operators ``steps`` chose."""
    names = {k: name for k, _, name in candidates(int8_model, int16_model)}
    return {names[k] for s in steps for k in s.ops}


__all__ = ["KINDS", "Step", "candidates", "choose_16x8", "chosen_names", "splice_16x8", "wideable"]

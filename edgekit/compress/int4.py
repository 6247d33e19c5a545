"""Int4 weights: half the flash of int8 for the layers that can take it.

:func:`int4_finetune` fine-tunes a model with its chosen layers' kernels fake-quantized to 4 bits
(symmetric, [-7, 7] times a per-channel scale; the other layers int8: ``qat``) and returns the
kernels on that grid. Its ordinary int8 conversion then holds, per output channel, only the 15
int8 values round(k * 127 / 7), k in -7..7: :func:`int4_weights` rewrites such CONV_2D and
FULLY_CONNECTED weights as TFLite INT4 tensors (two per byte, low nibble first) with the
scale 127/7 times larger and the bias re-expressed at the new scale (input scale times weight
scale, as TFLite requires), which is the model the tflite-micro interpreter then runs as the
reference. The layers chosen by default are every Conv2D with at least ``min_weights`` weights:
depthwise filters stay int8 (small, and sensitive), and so do Dense kernels, which the converter
quantizes per channel while tflite-micro takes int4 FULLY_CONNECTED weights only per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .qat import quantization_aware_finetune

LEVELS = 7  # int4 symmetric narrow range: -7..7
SCALE_UP = 127 / LEVELS  # the int8 conversion's step over the int4 step


def int4_layers(model, min_weights: int = 256) -> list[str]:
    """Conv2D layers (not depthwise) with at least ``min_weights`` weights."""
    import keras

    return [l.name for l in model.layers
            if isinstance(l, keras.layers.Conv2D) and not isinstance(l, keras.layers.DepthwiseConv2D)
            and int(np.prod(l.kernel.shape)) >= min_weights]


@dataclass
class Int4Report:
    layers: list[str] = field(default_factory=list)
    epochs: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def int4_finetune(model, data, epochs: int = 3, lr: float = 5e-4, min_weights: int = 256, seed: int = 0,
                  layers: list[str] | None = None, save_bytes: int | None = None):
    """Quantization-aware fine-tuning with 4-bit kernels in ``layers`` (default: every layer of
    :func:`int4_layers`, or with ``save_bytes`` the least sensitive of them that save that much
    weight flash, :func:`choose_layers`): a BatchNorm-folded Keras model whose int8 conversion
    :func:`int4_weights` can store as int4."""
    from .qat import fold_batchnorm

    names = layers
    if names is None:
        folded = fold_batchnorm(model)
        candidates = int4_layers(folded, min_weights)
        names = candidates if save_bytes is None else choose_layers(
            sensitivity(folded, data, candidates, seed=seed), save_bytes)
    folded, _ = quantization_aware_finetune(model, data, epochs=epochs, lr=lr, per_channel=True, seed=seed,
                                            weight_bits={n: 4 for n in names})
    return folded, Int4Report(list(names), epochs)


@dataclass
class LayerSensitivity:
    layer: str
    weights: int  # kernel elements: int8 bytes, twice the int4 bytes
    accuracy_drop: float  # validation accuracy lost with this layer alone on the 4-bit grid

    def to_json(self) -> dict:
        return dict(self.__dict__)


def sensitivity(model, data, layers: list[str] | None = None, val_fraction: float = 0.2,
                seed: int = 0) -> list[LayerSensitivity]:
    """Per layer of a BatchNorm-folded ``model``: the validation accuracy lost when only that
    layer's kernel is rounded to 4 bits per channel (no fine-tuning), on a split held out of the
    training data."""
    from .data import split
    from .measure import float_accuracy

    _, _, x_val, y_val = split(data.x_train, data.y_train, val_fraction, seed)
    base = float_accuracy(model, x_val, y_val)
    out = []
    for name in layers if layers is not None else int4_layers(model):
        layer = model.get_layer(name)
        ws = layer.get_weights()
        k = ws[0]
        top = np.abs(k.reshape(-1, k.shape[-1])).max(axis=0)
        step = np.maximum(top, 1e-12) / LEVELS
        layer.set_weights([np.clip(np.round(k / step), -LEVELS, LEVELS) * step] + ws[1:])
        out.append(LayerSensitivity(name, int(k.size), base - float_accuracy(model, x_val, y_val)))
        layer.set_weights(ws)
    return out


def choose_layers(sens: list[LayerSensitivity], save_bytes: int) -> list[str]:
    """Mixed precision under a flash budget: the least sensitive layers per byte saved (ties:
    the larger first) until int4 saves ``save_bytes`` of weight flash (each layer saves half
    its kernel bytes)."""
    chosen, saved = [], 0
    for s in sorted(sens, key=lambda s: (max(s.accuracy_drop, 0.0) / (s.weights / 2), -s.weights)):
        if saved >= save_bytes:
            break
        chosen.append(s.layer)
        saved += s.weights // 2
    return chosen


def _on_grid(q: np.ndarray) -> np.ndarray | None:
    """The int4 values k of int8 weights q (per output channel, axis 0) when every q is
    round(k * 127 / 7) for its channel's k, else None."""
    k = np.round(q.astype(np.float64) / SCALE_UP)
    if np.abs(k).max(initial=0) > LEVELS or not np.array_equal(np.round(k * SCALE_UP), q):
        return None
    return k.astype(np.int8)


def _pack_nibbles(k: np.ndarray) -> np.ndarray:
    flat = (k.reshape(-1).astype(np.int16) & 0xF).astype(np.uint8)
    if flat.size % 2:
        flat = np.append(flat, np.uint8(0))
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def int4_weights(model: bytes) -> tuple[bytes, list[int]]:
    """``model`` with every CONV_2D / FULLY_CONNECTED int8 weight tensor whose values lie on
    the 4-bit grid (module docstring) stored as INT4 (FULLY_CONNECTED only with one scale: the
    only int4 form tflite-micro runs); returns the model and the indices of the operators changed."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    kinds = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.FULLY_CONNECTED}
    T = schema.TensorType
    changed = []
    readers: dict[int, int] = {}
    for sg in m.subgraphs:
        for t in sg.tensors:
            readers[t.buffer] = readers.get(t.buffer, 0) + 1
    g = m.subgraphs[0]
    for index, op in enumerate(g.operators):
        if codes[op.opcodeIndex] not in kinds or len(op.inputs) < 2:
            continue
        x, w = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
        if w.type != T.INT8 or not w.buffer or m.buffers[w.buffer].data is None or w.quantization is None:
            continue
        if codes[op.opcodeIndex] == schema.BuiltinOperator.FULLY_CONNECTED and len(w.quantization.scale) > 1:
            continue
        q = np.frombuffer(bytes(m.buffers[w.buffer].data), np.int8).reshape(w.shape)
        k = _on_grid(q)
        if k is None:
            continue
        w_scale = np.asarray(w.quantization.scale, np.float64) * SCALE_UP
        bias = g.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if bias is not None:
            if bias.type != T.INT32 or m.buffers[bias.buffer].data is None:
                continue
            b = np.frombuffer(bytes(m.buffers[bias.buffer].data), np.int32).astype(np.float64)
            b_new = np.round(b / SCALE_UP).astype(np.int32)
            bias.quantization.scale = [float(s) for s in np.float64(x.quantization.scale[0]) * w_scale]
            bias.buffer = _store(m, schema, readers, bias.buffer, b_new.view(np.uint8))
        w.quantization.scale = [float(s) for s in w_scale]
        w.type = T.INT4
        w.buffer = _store(m, schema, readers, w.buffer, _pack_nibbles(k))
        changed.append(index)
    if not changed:
        return model, []
    b = flatbuffers.Builder(len(model) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), changed


def _store(m, schema, readers: dict[int, int], index: int, data: np.ndarray) -> int:
    """``data`` in buffer ``index`` when only one tensor reads it, else in a new buffer."""
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if readers.get(index) == 1:
        m.buffers[index].data = data
        return index
    buf = schema.BufferT()
    buf.data = data
    m.buffers.append(buf)
    return len(m.buffers) - 1

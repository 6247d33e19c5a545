"""Quantization-aware fine-tuning for Keras 3 (fake quantization written with ``keras.ops``).

``quantization_aware_finetune`` folds every BatchNormalization into the convolution or Dense
before it (as the TFLite converter will), swaps Conv2D / DepthwiseConv2D / Dense for
subclasses that train through int8-quantized weights (symmetric, narrow range [-127, 127],
per output channel or per tensor like the converter), and quantizes activations at the
tensors the int8 model will store (after each fused activation, each residual Add, each
linear convolution output) with ranges tracked by moving averages. Gradients pass straight
through the rounding. After fine-tuning, the trained float weights are copied into a plain
Keras model of the folded architecture, and that model goes through ordinary full-int8
post-training conversion: the result is a plain int8 model edgekit runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import consumers, rebuild, wiring
from .measure import train

_ACTS = ("ReLU", "Activation", "LeakyReLU")


def fold_batchnorm(model):
    """A new model where each BatchNormalization that directly follows a Conv2D,
    DepthwiseConv2D or Dense (its only consumer) is folded into that layer's kernel and bias."""
    import keras

    nodes = {n.name: n for n in wiring(model)}
    cons = consumers(model)
    fold: dict[str, str] = {}  # conv name -> bn name
    for n in nodes.values():
        if n.kind == "BatchNormalization" and len(n.inputs) == 1:
            src = nodes[n.inputs[0]]
            axis = n.op.axis if isinstance(n.op.axis, int) else n.op.axis[0]
            if src.kind in ("Conv2D", "DepthwiseConv2D", "Dense") and cons.get(src.name) == [n.name] \
                    and axis in (-1, len(n.output_shape) - 1) and getattr(src.op, "groups", 1) == 1:
                fold[src.name] = n.name

    def make(op):
        cfg = op.get_config()
        if op.name in fold:
            cfg["use_bias"] = True
        return op.__class__.from_config(cfg)

    new = rebuild(model, make, skip=set(fold.values()))
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws or layer.name in fold.values():
            continue
        target = new.get_layer(layer.name)
        if layer.name in fold:
            bn = model.get_layer(fold[layer.name])
            gamma, beta, mean, var = _bn_params(bn)
            a = gamma / np.sqrt(var + bn.epsilon)
            k = ws[0]
            b = ws[1] if len(ws) > 1 else np.zeros(a.shape, k.dtype)
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                k = k * a.reshape(k.shape[2], k.shape[3])
            else:
                k = k * a
            ws = [k.astype("float32"), ((b - mean) * a + beta).astype("float32")]
        target.set_weights(ws)
    return new


def _bn_params(bn):
    ws = {w.path.split("/")[-1]: w.numpy() for w in bn.weights}
    n = bn.moving_mean.shape[0]
    gamma = ws.get("gamma", np.ones(n, "float32"))
    beta = ws.get("beta", np.zeros(n, "float32"))
    return gamma, beta, bn.moving_mean.numpy(), bn.moving_variance.numpy()


# ---------------------------------------------------------------------------- fake quantization


def fake_quant_weights(w, per_channel: bool, channel_axes_reduce, bits: int = 8):
    """Symmetric narrow-range fake quantization (int8: [-127, 127]; 4 bits: [-7, 7]) with a
    straight-through gradient."""
    from keras import ops

    top = float(2 ** (bits - 1) - 1)
    if per_channel:
        m = ops.max(ops.abs(w), axis=channel_axes_reduce, keepdims=True)
    else:
        m = ops.max(ops.abs(w))
    scale = ops.maximum(m, 1e-8) / top
    q = ops.clip(ops.round(w / scale), -top, top) * scale
    return w + ops.stop_gradient(q - w)


def _fake_quant_act(x, lo, hi):
    from keras import ops

    lo = ops.minimum(lo, 0.0)
    hi = ops.maximum(hi, lo + 1e-6)
    hi = ops.maximum(hi, 0.0)
    scale = (hi - lo) / 255.0
    zp = ops.round(-128.0 - lo / scale)
    q = ops.clip(ops.round(x / scale) + zp, -128.0, 127.0)
    return x + ops.stop_gradient((q - zp) * scale - x)


class _ActRange:
    """Moving-average (min, max) of a layer's output; fake quantization with that range."""

    momentum = 0.95

    def _build_range(self):
        self.fq_min = self.add_weight(name="fq_min", shape=(), initializer="zeros", trainable=False)
        self.fq_max = self.add_weight(name="fq_max", shape=(), initializer="zeros", trainable=False)
        self.fq_seen = self.add_weight(name="fq_seen", shape=(), initializer="zeros", trainable=False)

    def _quant_out(self, x, training):
        from keras import ops

        if not getattr(self, "fq_output", False):
            return x
        if training:
            bmin, bmax = ops.stop_gradient(ops.min(x)), ops.stop_gradient(ops.max(x))
            first = ops.equal(self.fq_seen, 0.0)
            m = self.momentum
            self.fq_min.assign(ops.where(first, bmin, m * self.fq_min + (1 - m) * bmin))
            self.fq_max.assign(ops.where(first, bmax, m * self.fq_max + (1 - m) * bmax))
            self.fq_seen.assign(1.0)
            return _fake_quant_act(x, bmin, bmax)
        return _fake_quant_act(x, self.fq_min, self.fq_max)


def _qat_classes():
    import keras
    from keras import ops

    class QConv2D(keras.layers.Conv2D, _ActRange):
        def __init__(self, *a, per_channel=True, fq_output=False, weight_bits=8, **kw):
            super().__init__(*a, **kw)
            self.per_channel, self.fq_output, self.weight_bits = per_channel, fq_output, weight_bits

        def build(self, input_shape):
            super().build(input_shape)
            self._build_range()

        def call(self, inputs, training=None):
            k = fake_quant_weights(self.kernel, self.per_channel, (0, 1, 2), self.weight_bits)
            y = self.convolution_op(inputs, k)
            if self.use_bias:
                y = ops.add(y, ops.reshape(self.bias, (1, 1, 1, -1)))
            if self.activation is not None:
                y = self.activation(y)
            return self._quant_out(y, training)

    class QDepthwiseConv2D(keras.layers.DepthwiseConv2D, _ActRange):
        def __init__(self, *a, per_channel=True, fq_output=False, weight_bits=8, **kw):
            super().__init__(*a, **kw)
            self.per_channel, self.fq_output, self.weight_bits = per_channel, fq_output, weight_bits

        def build(self, input_shape):
            super().build(input_shape)
            self._build_range()

        def call(self, inputs, training=None):
            k = fake_quant_weights(self.kernel, self.per_channel, (0, 1), self.weight_bits)
            y = ops.depthwise_conv(inputs, k, strides=self.strides, padding=self.padding,
                                   dilation_rate=self.dilation_rate, data_format=self.data_format)
            if self.use_bias:
                y = ops.add(y, ops.reshape(self.bias, (1, 1, 1, -1)))
            if self.activation is not None:
                y = self.activation(y)
            return self._quant_out(y, training)

    class QDense(keras.layers.Dense, _ActRange):
        def __init__(self, *a, per_channel=True, fq_output=False, weight_bits=8, **kw):
            super().__init__(*a, **kw)
            self.per_channel, self.fq_output, self.weight_bits = per_channel, fq_output, weight_bits

        def build(self, input_shape):
            super().build(input_shape)
            self._build_range()

        def call(self, inputs, training=None):
            y = ops.matmul(inputs, fake_quant_weights(self.kernel, self.per_channel, (0,), self.weight_bits))
            if self.bias is not None:
                y = ops.add(y, self.bias)
            if self.activation is not None:
                y = self.activation(y)
            return self._quant_out(y, training)

    class QOutput(keras.layers.Layer, _ActRange):
        """Wraps an activation or Add: applies it, then fake-quantizes its output."""

        def __init__(self, inner, **kw):
            super().__init__(name=inner.name, **kw)
            self.inner = inner
            self.fq_output = True

        def build(self, input_shape):
            self._build_range()

        def call(self, inputs, training=None):
            return self._quant_out(self.inner(inputs), training)

    return {"Conv2D": QConv2D, "DepthwiseConv2D": QDepthwiseConv2D, "Dense": QDense}, QOutput


def qat_model(model, per_channel: bool = True, weight_bits: dict[str, int] | None = None):
    """The fake-quantized training twin of a BN-folded ``model`` (same layer names); layers
    named in ``weight_bits`` train through weights of that many bits, the others through int8."""
    weight_bits = weight_bits or {}
    weighted, QOutput = _qat_classes()
    cons = consumers(model)
    kinds = {n.name: n.kind for n in wiring(model)}

    def make(op):
        kind = type(op).__name__
        if kind in weighted:
            followed_by_act = all(kinds.get(c) in _ACTS for c in cons.get(op.name, []))
            return weighted[kind].from_config({**op.get_config(), "per_channel": per_channel,
                                                "fq_output": not followed_by_act,
                                                "weight_bits": weight_bits.get(op.name, 8)})
        if kind in _ACTS or kind == "Add":
            return QOutput(op.__class__.from_config(op.get_config()))
        return op.__class__.from_config(op.get_config())

    q = rebuild(model, make)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            target = q.get_layer(layer.name)
            target.set_weights(ws + target.get_weights()[len(ws):])
    return q


@dataclass
class QATReport:
    per_channel: bool
    epochs: int
    folded_batchnorms: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


def quantization_aware_finetune(model, data, epochs: int = 3, lr: float = 5e-4,
                                per_channel: bool = True, batch_size: int = 32, seed: int = 0,
                                verbose: int = 0, weight_bits: dict[str, int] | None = None):
    """Fine-tune ``model`` with simulated int8 quantization; returns a plain Keras model
    (BatchNormalization folded) whose int8 conversion loses less accuracy than plain PTQ.

    Layers named in ``weight_bits`` (of the folded model) train through weights of that many
    bits, and their kernels are returned on that grid (the fake-quantized values themselves):
    their int8 conversion then holds only 2**bits - 1 values per channel, which
    ``int4.int4_weights`` stores as int4."""

    folded = fold_batchnorm(model)
    n_bn = sum(1 for l in model.layers if type(l).__name__ == "BatchNormalization") - \
        sum(1 for l in folded.layers if type(l).__name__ == "BatchNormalization")
    q = qat_model(folded, per_channel, weight_bits)
    train(q, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, verbose=verbose)
    for layer in folded.layers:
        ws = layer.get_weights()
        if ws:
            trained = q.get_layer(layer.name)
            ws = trained.get_weights()[:len(ws)]
            bits = (weight_bits or {}).get(layer.name, 8)
            if bits != 8:
                reduce = {"Dense": (0,), "DepthwiseConv2D": (0, 1)}.get(type(layer).__name__, (0, 1, 2))
                ws[0] = np.asarray(fake_quant_weights(trained.kernel, per_channel, reduce, bits))
            layer.set_weights(ws)
    return folded, QATReport(per_channel, epochs, n_bn)

"""MCU-sized efficient architectures as Keras 3 builders.

Every builder takes the input ``resolution`` (an int for square inputs or ``(height, width)``),
``channels``, ``num_classes``, a ``width`` multiplier (channels) and a ``depth`` multiplier
(blocks per stage), and returns an uncompiled ``keras.Model`` that ends in a softmax. The
layer before the softmax is a ``Dense`` named ``logits`` (distillation reads it).

Only layers edgekit's int8 pipeline runs are used: Conv2D (grouped too), DepthwiseConv2D,
BatchNormalization and ReLU/ReLU6 (folded and fused by the converter), Add, Concatenate,
Reshape + Permute (channel shuffle: RESHAPE, TRANSPOSE), channel slices (STRIDED_SLICE),
MaxPooling2D, AveragePooling2D over the whole map (the global pool), Dense and Softmax.

    >>> from edgekit import zoo
    >>> m = zoo.build("mobilenet_v2", resolution=32, width=0.35)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..errors import EdgekitError

# BatchNormalization momentum: Keras's 0.99 needs thousands of steps before the moving
# statistics used at inference settle; the short trainings of edgekit fit/compress have hundreds.
BN_MOMENTUM = 0.9


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (not below 90% of ``value``)."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def _hw(resolution) -> tuple[int, int]:
    if isinstance(resolution, int):
        return resolution, resolution
    h, w = resolution
    return int(h), int(w)


def _repeats(n: int, depth: float) -> int:
    return max(1, int(math.ceil(n * depth)))


# ---------------------------------------------------------------------------- building blocks


def _conv_bn(x, filters, kernel, strides=1, act=True, groups=1, relu_max=6.0, name=""):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      groups=groups, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    if act:
        x = layers.ReLU(max_value=relu_max, name=f"{name}_relu")(x)
    return x


def _dw_bn(x, kernel=3, strides=1, act=True, relu_max=6.0, name=""):
    from keras import layers

    x = layers.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False,
                               name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dwbn")(x)
    if act:
        x = layers.ReLU(max_value=relu_max, name=f"{name}_dwrelu")(x)
    return x


def _head(x, num_classes, dropout, name="head"):
    """Global average pool over the whole map, dropout, Dense logits, softmax."""
    from keras import layers

    h, w = x.shape[1], x.shape[2]
    x = layers.AveragePooling2D(pool_size=(h, w), name=f"{name}_pool")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Softmax(name="probs")(x)


def _input(resolution, channels):
    import keras

    h, w = _hw(resolution)
    return keras.Input(shape=(h, w, channels), name="input")


# ---------------------------------------------------------------------------- MobileNetV1

# (output channels, stride of the first block, blocks)
_MBV1_STAGES = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 2, 6), (1024, 2, 2)]


def mobilenet_v1(resolution=32, channels=1, num_classes=10, width=0.25, depth=1.0,
                 dropout=0.0, name="mobilenet_v1"):
    """MobileNetV1: a 3x3 stem, then depthwise separable blocks (3x3 depthwise, 1x1 pointwise)."""
    import keras

    inp = _input(resolution, channels)
    x = _conv_bn(inp, make_divisible(32 * width), 3, strides=2, name="stem")
    b = 0
    for c, s, n in _MBV1_STAGES:
        for i in range(_repeats(n, depth)):
            b += 1
            x = _dw_bn(x, 3, strides=s if i == 0 else 1, name=f"b{b}")
            x = _conv_bn(x, make_divisible(c * width), 1, name=f"b{b}_pw")
    return keras.Model(inp, _head(x, num_classes, dropout), name=name)


# ---------------------------------------------------------------------------- MobileNetV2

# (expansion, output channels, blocks, stride of the first block)
_MBV2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]


def _inverted_residual(x, expansion, out_c, stride, kernel=3, name=""):
    from keras import layers

    in_c = x.shape[-1]
    y = x
    if expansion != 1:
        y = _conv_bn(y, make_divisible(in_c * expansion), 1, name=f"{name}_expand")
    y = _dw_bn(y, kernel, strides=stride, name=name)
    y = _conv_bn(y, out_c, 1, act=False, name=f"{name}_project")
    if stride == 1 and in_c == out_c:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v2(resolution=32, channels=1, num_classes=10, width=0.35, depth=1.0,
                 expansion=6, last_channels=1280, dropout=0.0, name="mobilenet_v2"):
    """MobileNetV2: inverted residual blocks (1x1 expand, 3x3 depthwise, linear 1x1 project)
    with a residual Add where shape allows. ``last_channels`` is scaled by ``width`` too (the
    original keeps 1280; on a microcontroller that head alone would not fit)."""
    import keras

    inp = _input(resolution, channels)
    x = _conv_bn(inp, make_divisible(32 * width), 3, strides=2, name="stem")
    b = 0
    for t, c, n, s in _MBV2_STAGES:
        t = 1 if t == 1 else expansion
        for i in range(_repeats(n, depth)):
            b += 1
            x = _inverted_residual(x, t, make_divisible(c * width), s if i == 0 else 1, name=f"b{b}")
    x = _conv_bn(x, make_divisible(last_channels * width), 1, name="last")
    return keras.Model(inp, _head(x, num_classes, dropout), name=name)


# ---------------------------------------------------------------------------- ShuffleNetV2


def channel_shuffle(x, groups: int, name: str):
    """Interleave ``groups`` channel groups: reshape (HW, g, C/g), swap the last two, reshape back."""
    from keras import layers

    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Reshape((h * w, groups, c // groups), name=f"{name}_r1")(x)
    x = layers.Permute((1, 3, 2), name=f"{name}_perm")(x)
    return layers.Reshape((h, w, c), name=f"{name}_r2")(x)


def _shuffle_unit(x, out_c, stride, groups, name):
    from keras import layers

    if stride == 1:
        half = x.shape[-1] // 2
        x1 = x[:, :, :, :half]
        x2 = x[:, :, :, half:]
        b = half
    else:
        x1 = _dw_bn(x, 3, strides=2, act=False, name=f"{name}_l")
        x1 = _conv_bn(x1, out_c // 2, 1, relu_max=None, name=f"{name}_lpw")
        x2 = x
        b = out_c // 2
    y = _conv_bn(x2, b, 1, groups=groups if x2.shape[-1] % groups == 0 and b % groups == 0 else 1,
                 relu_max=None, name=f"{name}_pw1")
    y = _dw_bn(y, 3, strides=stride, act=False, name=name)
    y = _conv_bn(y, b, 1, relu_max=None, name=f"{name}_pw2")
    y = layers.Concatenate(axis=-1, name=f"{name}_cat")([x1, y])
    return channel_shuffle(y, 2, name=f"{name}_shuffle")


# stage output channels at width 1.0, and blocks per stage
_SHUFFLE_STAGES = [(116, 4), (232, 8), (464, 4)]


def shufflenet_v2(resolution=32, channels=1, num_classes=10, width=0.5, depth=1.0, groups=1,
                  last_channels=1024, dropout=0.0, name="shufflenet_v2"):
    """ShuffleNetV2: channel split, a 1x1 / 3x3 depthwise / 1x1 branch, concatenation and a
    channel shuffle. ``groups`` > 1 makes the first 1x1 convolution of each branch a group
    convolution (ShuffleNetV1-style)."""
    import keras
    from keras import layers

    inp = _input(resolution, channels)
    x = _conv_bn(inp, make_divisible(24 * max(width, 0.5), 4), 3, strides=2, relu_max=None,
                 name="stem")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for si, (c, n) in enumerate(_SHUFFLE_STAGES):
        out_c = make_divisible(c * width, 4 * groups)
        for i in range(_repeats(n, depth)):
            x = _shuffle_unit(x, out_c, 2 if i == 0 else 1, groups, name=f"s{si + 1}b{i + 1}")
    x = _conv_bn(x, make_divisible(last_channels * width), 1, relu_max=None, name="last")
    return keras.Model(inp, _head(x, num_classes, dropout), name=name)


# ---------------------------------------------------------------------------- EfficientNet-Lite

# (kernel, stride, expansion, output channels, blocks)
_EFFNET_STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                  (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]

# EfficientNet's compound coefficients: depth alpha, width beta, resolution gamma (alpha*beta^2*gamma^2 ~ 2)
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15


def efficientnet_lite(resolution=32, channels=1, num_classes=10, width=0.25, depth=0.5,
                      last_channels=1280, dropout=0.0, name="efficientnet_lite"):
    """EfficientNet-Lite: MBConv blocks with ReLU6 and no squeeze-excite; the stem and head
    are not scaled by ``width`` in Lite, but here the head is (``last_channels * width``) so
    that it fits a microcontroller."""
    import keras

    inp = _input(resolution, channels)
    x = _conv_bn(inp, 32 if width >= 1 else make_divisible(32 * width), 3, strides=2, name="stem")
    b = 0
    for k, s, e, c, n in _EFFNET_STAGES:
        for i in range(_repeats(n, depth)):
            b += 1
            x = _inverted_residual(x, e, make_divisible(c * width), s if i == 0 else 1,
                                   kernel=k, name=f"b{b}")
    x = _conv_bn(x, make_divisible(last_channels * width), 1, name="last")
    return keras.Model(inp, _head(x, num_classes, dropout), name=name)


def compound(phi: float, resolution=32, width=0.25, depth=0.5, divisor=8) -> dict:
    """EfficientNet compound scaling of a base (resolution, width, depth) by ``phi``:
    depth * alpha^phi, width * beta^phi, resolution * gamma^phi (rounded to ``divisor``)."""
    r = int(round(resolution * GAMMA ** phi / divisor)) * divisor
    return {"resolution": max(divisor, r), "width": width * BETA ** phi,
            "depth": depth * ALPHA ** phi}


def efficientnet_lite_phi(phi=0.0, base_resolution=32, base_width=0.25, base_depth=0.5, **kw):
    cfg = compound(phi, base_resolution, base_width, base_depth)
    return efficientnet_lite(resolution=cfg["resolution"], width=cfg["width"], depth=cfg["depth"], **kw)


# ---------------------------------------------------------------------------- DS-CNN


def ds_cnn(resolution=(49, 10), channels=1, num_classes=12, width=1.0, depth=1.0,
           first_kernel=(10, 4), first_strides=(2, 2), dropout=0.0, name="ds_cnn"):
    """DS-CNN for keyword spotting (Zhang et al., "Hello Edge"): a 10x4 strided convolution over
    the MFCC map, then 4 depthwise separable blocks of 64 channels (``width`` 1.0 is DS-CNN-S),
    global average pool, Dense."""
    import keras

    inp = _input(resolution, channels)
    h, w = _hw(resolution)
    kernel = (min(first_kernel[0], h), min(first_kernel[1], w))
    c = make_divisible(64 * width)
    x = _conv_bn(inp, c, kernel, strides=first_strides, relu_max=None, name="stem")
    for b in range(_repeats(4, depth)):
        x = _dw_bn(x, 3, relu_max=None, name=f"b{b + 1}")
        x = _conv_bn(x, c, 1, relu_max=None, name=f"b{b + 1}_pw")
    return keras.Model(inp, _head(x, num_classes, dropout), name=name)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Family:
    name: str
    builder: Callable
    widths: tuple[float, ...]  # the search grid of ``edgekit fit``
    depths: tuple[float, ...]
    summary: str


FAMILIES: dict[str, Family] = {
    "mobilenet_v1": Family("mobilenet_v1", mobilenet_v1, (0.125, 0.25, 0.5), (0.5, 1.0),
                           "depthwise separable convolutions"),
    "mobilenet_v2": Family("mobilenet_v2", mobilenet_v2, (0.125, 0.25, 0.35, 0.5), (0.34, 0.67, 1.0),
                           "inverted residuals"),
    "shufflenet_v2": Family("shufflenet_v2", shufflenet_v2, (0.25, 0.5, 1.0), (0.25, 0.5, 1.0),
                            "channel split, group convolution, channel shuffle"),
    "efficientnet_lite": Family("efficientnet_lite", efficientnet_lite, (0.125, 0.25, 0.35),
                                (0.34, 0.5, 1.0), "compound-scaled MBConv, ReLU6"),
    "ds_cnn": Family("ds_cnn", ds_cnn, (0.25, 0.5, 1.0), (0.5, 1.0), "keyword spotting DS-CNN"),
}


def names() -> list[str]:
    return list(FAMILIES)


def build(name: str, resolution=32, channels=1, num_classes=10, width=None, depth=1.0, seed=None,
          **kwargs):
    """Build zoo network ``name``; ``width`` defaults to the family's middle grid value."""

    if name not in FAMILIES:
        raise EdgekitError(f"no zoo network {name!r}; choose from {', '.join(FAMILIES)}")
    fam = FAMILIES[name]
    if width is None:
        width = fam.widths[len(fam.widths) // 2]
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    return fam.builder(resolution=resolution, channels=channels, num_classes=num_classes,
                       width=width, depth=depth, **kwargs)

"""CONV_2D conformance: seeded random Keras Conv2D layers, bit-exact with tflite-micro.

The case list comes from a seeded generator that cycles through kernel shapes (square,
rectangular as in keyword spotting), strides (symmetric and not), SAME/VALID padding, dilation,
groups, fused activations, per-tensor vs per-channel weights and odd channel counts. SAME cases
include inputs smaller than the kernel, so most outputs touch the padding.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import numpy as np
import pytest

from opmodels import assert_bit_exact, keras_graph

FUSED = {None: "NONE", "relu": "RELU", "relu6": "RELU6", "n1to1": "RELU_N1_TO_1"}


class Case(NamedTuple):
    hw: tuple[int, int]
    cin: int
    cout: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    padding: str
    dilation: tuple[int, int]
    groups: int
    act: str | None
    per_tensor: bool
    bias: bool
    seed: int

    @property
    def id(self) -> str:
        return (f"{self.hw[0]}x{self.hw[1]}x{self.cin}-k{self.kernel[0]}x{self.kernel[1]}-"
                f"s{self.strides[0]}{self.strides[1]}-{self.padding}-d{self.dilation[0]}{self.dilation[1]}-"
                f"g{self.groups}-o{self.cout}-{self.act or 'none'}-{'pt' if self.per_tensor else 'pc'}"
                f"{'' if self.bias else '-nobias'}")


KERNELS = [(1, 1), (3, 3), (5, 5), (3, 1), (1, 5), (2, 2), (3, 5)]
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1)]
DILATIONS = [(2, 2), (2, 1), (1, 2)]


def generate_cases(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        kernel = KERNELS[i % len(KERNELS)]
        dilation = DILATIONS[i % len(DILATIONS)] if i % 5 == 4 and kernel != (1, 1) else (1, 1)
        # Keras allows dilation only with unit strides
        strides = (1, 1) if dilation != (1, 1) else STRIDES[(i // len(KERNELS)) % len(STRIDES)]
        padding = "same" if i % 2 == 0 else "valid"
        groups = (2, 3)[i % 2] if i % 8 == 3 else 1
        cin = groups * rng.randint(1, 3) if groups > 1 else rng.choice([1, 2, 3, 5, 8])
        cout = groups * rng.randint(1, 3) if groups > 1 else rng.choice([1, 3, 4, 7, 16])
        eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
        if padding == "valid":
            hw = tuple(e + rng.randint(0, 5) for e in eff)
        else:
            hw = tuple(rng.randint(1, 9) for _ in eff)
        cases.append(Case(hw, cin, cout, kernel, strides, padding, dilation, groups,
                          rng.choice(list(FUSED)), rng.random() < 0.35, rng.random() < 0.8,
                          1000 + i))
    return cases


CASES = generate_cases(56, seed=2024) + [
    # keyword spotting's first layer (49x10 MFCC, 10x4 kernel, stride 2), shrunk in time
    Case((25, 10), 1, 16, (10, 4), (2, 2), "same", (1, 1), 1, "relu", False, True, 1),
    # pointwise convolution with wide channels, as in depthwise-separable blocks
    Case((5, 5), 32, 24, (1, 1), (1, 1), "same", (1, 1), 1, "relu", False, True, 2),
    Case((4, 6), 16, 8, (1, 1), (1, 1), "valid", (1, 1), 1, None, True, True, 3),
    # a 3x3 kernel on a 1x1 input: every tap but the centre is padding
    Case((1, 1), 4, 5, (3, 3), (1, 1), "same", (1, 1), 1, None, False, True, 4),
    # odd padding split (the extra row/column goes at the bottom/right), large dilation
    Case((8, 7), 3, 4, (4, 4), (2, 2), "same", (1, 1), 1, None, False, True, 5),
    Case((9, 9), 2, 3, (3, 3), (1, 1), "same", (3, 3), 1, "relu6", False, True, 6),
    # grouped: depthwise-like (filter_c == 1) and wider groups
    Case((6, 6), 4, 8, (3, 3), (1, 1), "same", (1, 1), 4, "relu", False, True, 7),
    Case((5, 7), 8, 4, (3, 3), (2, 1), "same", (1, 1), 2, None, True, True, 8),
]


def build_conv(c: Case):
    import keras

    def build(x):
        act = c.act if c.act in ("relu", "relu6") else None
        y = keras.layers.Conv2D(c.cout, c.kernel, strides=c.strides, padding=c.padding,
                                dilation_rate=c.dilation, groups=c.groups, use_bias=c.bias,
                                activation=act)(x)
        return keras.ops.clip(y, -1.0, 1.0) if c.act == "n1to1" else y

    return keras_graph(build, [(*c.hw, c.cin)], seed=c.seed, per_tensor=c.per_tensor)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conv2d(case: Case, runtime_lib, tmp_path):
    graph = assert_bit_exact(build_conv(case), runtime_lib, tmp_path, expect_ops=["CONV_2D"])
    (op,) = [op for op in graph.ops if op.type_name == "CONV_2D"]
    assert op.options.activation.name == FUSED[case.act], "activation was not fused"
    filt = graph.op_inputs(op)[1]
    assert (len(filt.quant.scale) == 1) == (case.per_tensor or case.cout == 1)
    assert filt.shape[3] * case.groups == case.cin


def test_case_list_covers_the_space():
    kinds = {(c.padding, c.strides, c.dilation != (1, 1), c.groups > 1, c.act, c.per_tensor) for c in CASES}
    assert {c.padding for c in CASES} == {"same", "valid"}
    assert {c.strides for c in CASES} >= set(STRIDES)
    assert {c.kernel for c in CASES} >= set(KERNELS)
    assert {c.act for c in CASES} == set(FUSED)
    assert any(c.dilation != (1, 1) for c in CASES) and any(c.groups > 1 for c in CASES)
    assert any(c.per_tensor for c in CASES) and not all(c.per_tensor for c in CASES)
    assert len(kinds) > 30


def test_batch_two_is_rejected(tmp_path):
    import tensorflow as tf

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite
    from edgekit.frontend.quantize import int8_tflite

    rng = np.random.default_rng(0)
    w = tf.constant(rng.standard_normal((3, 3, 2, 4)).astype(np.float32))
    fn = tf.function(lambda x: tf.nn.conv2d(x, w, 1, "SAME"),
                     input_signature=[tf.TensorSpec((2, 5, 5, 2), tf.float32)])
    calib = [[rng.standard_normal((2, 5, 5, 2)).astype(np.float32)] for _ in range(4)]
    graph = parse_tflite(int8_tflite(fn, calib))
    assert any(op.type_name == "CONV_2D" for op in graph.ops)
    with pytest.raises(UnsupportedModelError, match="batch 2"):
        generate(graph, tmp_path / "model")

"""DEPTHWISE_CONV_2D conformance: seeded random Keras DepthwiseConv2D layers, bit-exact with
tflite-micro.

A seeded generator cycles through kernel shapes (square and rectangular), depth multipliers
1/2/3, strides (symmetric and not), SAME/VALID padding, dilation, fused activations and
per-tensor vs per-channel weights. SAME cases include inputs smaller than the kernel.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import pytest

from opmodels import assert_bit_exact, keras_graph

FUSED = {None: "NONE", "relu": "RELU", "relu6": "RELU6", "n1to1": "RELU_N1_TO_1"}


class Case(NamedTuple):
    hw: tuple[int, int]
    cin: int
    depth_multiplier: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    padding: str
    dilation: tuple[int, int]
    act: str | None
    per_tensor: bool
    bias: bool
    seed: int

    @property
    def id(self) -> str:
        return (f"{self.hw[0]}x{self.hw[1]}x{self.cin}-m{self.depth_multiplier}-"
                f"k{self.kernel[0]}x{self.kernel[1]}-s{self.strides[0]}{self.strides[1]}-{self.padding}-"
                f"d{self.dilation[0]}{self.dilation[1]}-{self.act or 'none'}-"
                f"{'pt' if self.per_tensor else 'pc'}{'' if self.bias else '-nobias'}")


KERNELS = [(3, 3), (5, 5), (3, 1), (1, 5), (1, 1), (2, 2), (3, 5)]
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1)]
DILATIONS = [(2, 2), (2, 1), (1, 2)]


def generate_cases(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        kernel = KERNELS[i % len(KERNELS)]
        dilation = DILATIONS[i % len(DILATIONS)] if i % 5 == 2 and kernel != (1, 1) else (1, 1)
        strides = (1, 1) if dilation != (1, 1) else STRIDES[(i // len(KERNELS)) % len(STRIDES)]
        padding = "same" if i % 2 == 0 else "valid"
        eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
        if padding == "valid":
            hw = tuple(e + rng.randint(0, 5) for e in eff)
        else:
            hw = tuple(rng.randint(1, 9) for _ in eff)
        cases.append(Case(hw, rng.choice([1, 2, 3, 5, 8]), 1 + i % 3, kernel, strides, padding,
                          dilation, rng.choice(list(FUSED)), rng.random() < 0.35,
                          rng.random() < 0.8, 2000 + i))
    return cases


CASES = generate_cases(46, seed=7) + [
    # keyword spotting's depthwise blocks (25x5x64, 3x3, SAME, ReLU), fewer channels
    Case((25, 5), 16, 1, (3, 3), (1, 1), "same", (1, 1), "relu", False, True, 1),
    # MobileNet-style stride-2 block with an odd input (asymmetric SAME padding)
    Case((9, 7), 8, 1, (3, 3), (2, 2), "same", (1, 1), "relu6", False, True, 2),
    # every tap but the centre is padding
    Case((1, 1), 3, 2, (3, 3), (1, 1), "same", (1, 1), None, False, True, 3),
    Case((2, 3), 4, 3, (5, 5), (1, 1), "same", (1, 1), None, True, True, 4),
    Case((9, 9), 2, 2, (3, 3), (1, 1), "same", (3, 3), "relu", False, False, 5),
    Case((8, 8), 6, 1, (4, 4), (2, 2), "same", (1, 1), None, True, True, 6),
]


def build_depthwise(c: Case):
    import keras

    def build(x):
        act = c.act if c.act in ("relu", "relu6") else None
        y = keras.layers.DepthwiseConv2D(c.kernel, strides=c.strides, padding=c.padding,
                                         depth_multiplier=c.depth_multiplier,
                                         dilation_rate=c.dilation, use_bias=c.bias,
                                         activation=act)(x)
        return keras.ops.clip(y, -1.0, 1.0) if c.act == "n1to1" else y

    return keras_graph(build, [(*c.hw, c.cin)], seed=c.seed, per_tensor=c.per_tensor)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_depthwise_conv2d(case: Case, runtime_lib, tmp_path):
    graph = assert_bit_exact(build_depthwise(case), runtime_lib, tmp_path,
                             expect_ops=["DEPTHWISE_CONV_2D"])
    (op,) = [op for op in graph.ops if op.type_name == "DEPTHWISE_CONV_2D"]
    assert op.options.activation.name == FUSED[case.act], "activation was not fused"
    assert op.options.depth_multiplier == case.depth_multiplier
    filt = graph.op_inputs(op)[1]
    assert (len(filt.quant.scale) == 1) == (case.per_tensor or case.cin * case.depth_multiplier == 1)


def test_case_list_covers_the_space():
    assert {c.padding for c in CASES} == {"same", "valid"}
    assert {c.strides for c in CASES} >= set(STRIDES)
    assert {c.kernel for c in CASES} >= set(KERNELS)
    assert {c.depth_multiplier for c in CASES} == {1, 2, 3}
    assert {c.act for c in CASES} == set(FUSED)
    assert any(c.dilation != (1, 1) for c in CASES)
    assert any(c.per_tensor for c in CASES) and not all(c.per_tensor for c in CASES)

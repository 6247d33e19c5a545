"""The DSP kernels of TRANSPOSE_CONV and BATCH_MATMUL (firmware/kernels/dsp/ek_transpose_conv_dsp.c,
ek_batch_matmul_dsp.c) stay bit-exact with tflite-micro:

* on the host, built with the portable C version of every DSP instruction (ek_dsp.h) under ASan +
  UBSan: the portable kernels' conformance cases (test_kernels_transpose_conv, test_kernels_batch_matmul)
  lowered for a DSP target, plus cases aimed at the DSP kernels' own paths: input channels that are
  not a multiple of 4 (the widened pixel's last word), output channels or columns that are not a
  multiple of 4 (padding rows), an odd depth, taps that reach no output pixel, clamps narrower than
  int8, and BATCH_MATMUL's requantization when the folded form is refused (ek_requantize);
* on the emulated Cortex-M4 (QEMU mps2-an386), where SMLAD and SXTB16 are the instructions: a subset.
"""

from __future__ import annotations

import pytest

import test_kernels_batch_matmul as bmm_cases
import test_kernels_transpose_conv as tc_cases
from opmodels import keras_graph
from test_kernels_dsp import assert_bit_exact_on_board, assert_dsp_bit_exact, needs_board


@pytest.mark.parametrize("case", tc_cases.CASES, ids=[f"tc{c[-1]}" for c in tc_cases.CASES])
def test_transpose_conv_cases_host(case, runtime_lib, tmp_path):
    assert_dsp_bit_exact(tc_cases.build_transpose_conv(*case), runtime_lib, tmp_path, "TRANSPOSE_CONV")


# the DSP kernel's own paths
TC_DSP_CASES = [
    (5, 3, 2, "same", "relu6", (5, 6, 5), False, 20),     # 5 input channels: one whole word + 1; clamp
    (7, 2, 2, "valid", None, (4, 3, 3), True, 21),        # 3 input channels: the last word only
    (4, 3, 1, "same", "relu", (6, 6, 1), False, 22),      # 1 input channel
    (9, 4, 2, "same", None, (4, 4, 8), False, 23),        # 9 output channels: a block of 4 + 1 (padding rows)
    (6, 1, 3, "valid", None, (3, 4, 12), False, 24),      # stride 3 > kernel 1: pixels no tap reaches
    (16, 3, 2, "same", "relu", (4, 4, 33), False, 25),    # 33 input channels (8 words + 1)
    (2, (5, 3), (3, 1), "same", None, (3, 5, 4), False, 26),  # uneven strides and kernel
]


@pytest.mark.parametrize("case", TC_DSP_CASES, ids=[f"tc{c[-1]}" for c in TC_DSP_CASES])
def test_transpose_conv_dsp_cases_host(case, runtime_lib, tmp_path):
    assert_dsp_bit_exact(tc_cases.build_transpose_conv(*case), runtime_lib, tmp_path, "TRANSPOSE_CONV")


def test_transpose_conv_outside_the_folded_requantization_keeps_the_portable_kernel(runtime_lib, tmp_path,
                                                                                    monkeypatch):
    from edgekit.codegen.ops import dsp_transpose_conv

    monkeypatch.setattr(dsp_transpose_conv, "requant_table", lambda *a: None)
    gen = assert_dsp_bit_exact(tc_cases.build_transpose_conv(*TC_DSP_CASES[0]), runtime_lib, tmp_path,
                               "TRANSPOSE_CONV", expect_dsp=False)
    assert [c.function for c in gen.calls] == ["ek_transpose_conv_s8"]


@pytest.mark.parametrize("case", bmm_cases.CASES, ids=[f"bmm{c[-1]}" for c in bmm_cases.CASES])
def test_batch_matmul_cases_host(case, runtime_lib, tmp_path):
    assert_dsp_bit_exact(bmm_cases.build_matmul(*case), runtime_lib, tmp_path, "BATCH_MATMUL")


BMM_DSP_CASES = [
    ((5, 3), (3, 1), False, False, 20),             # one column: three padding columns, odd depth
    ((2, 7, 1), (2, 1, 6), False, False, 21),       # depth 1
    ((3, 9, 5), (3, 7, 9), True, True, 22),         # both transposed, odd depth, 7 columns
    ((4, 16, 16), (4, 16, 32), False, False, 23),   # attention-sized heads
    ((2, 3, 6, 11), (3, 11, 2), False, False, 24),  # the right operand broadcast, 2 columns
]


@pytest.mark.parametrize("case", BMM_DSP_CASES, ids=[f"bmm{c[-1]}" for c in BMM_DSP_CASES])
def test_batch_matmul_dsp_cases_host(case, runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(bmm_cases.build_matmul(*case), runtime_lib, tmp_path, "BATCH_MATMUL")
    (call,) = [c for c in gen.calls if c.op.type_name == "BATCH_MATMUL"]
    assert call.params.doubled == 1


@pytest.mark.parametrize("case", [bmm_cases.CASES[3], BMM_DSP_CASES[0], BMM_DSP_CASES[2]],
                         ids=["adj-y", "one-column", "both-adj"])
def test_batch_matmul_portable_requantization_host(case, runtime_lib, tmp_path, monkeypatch):
    """A multiplier the folded form cannot take (as a real multiplier of 0.5 or more): the DSP
    kernel's sums with ek_requantize, as the portable kernel requantizes."""
    from edgekit.codegen.ops import dsp_batch_matmul

    monkeypatch.setattr(dsp_batch_matmul, "requant_table", lambda *a: None)
    gen = assert_dsp_bit_exact(bmm_cases.build_matmul(*case), runtime_lib, tmp_path, "BATCH_MATMUL")
    (call,) = [c for c in gen.calls if c.op.type_name == "BATCH_MATMUL"]
    assert call.params.doubled == 0


def attention_model(seed: int) -> bytes:
    """Two-head self-attention over 12 tokens x 16 features (scores and weighted sum)."""
    import keras

    def build(x):
        def split(t):
            return keras.layers.Permute((2, 1, 3))(keras.layers.Reshape((12, 2, 8))(t))

        q, k, v = (split(keras.layers.Dense(16)(x)) for _ in range(3))
        scores = keras.layers.Softmax()(keras.ops.matmul(q, keras.ops.swapaxes(k, -1, -2)))
        return keras.ops.matmul(scores, v)

    return keras_graph(build, [(12, 16)], seed=seed)


def test_attention_host(runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(attention_model(30), runtime_lib, tmp_path, "BATCH_MATMUL")
    assert [c.function for c in gen.calls].count("ek_batch_matmul_dsp_s8") == 2


# ---------------------------------------------------------------------------- on the emulated board

BOARD_CASES = [
    ("tc-odd-channels-relu6", lambda: tc_cases.build_transpose_conv(*TC_DSP_CASES[0]), "TRANSPOSE_CONV"),
    ("tc-9-out-channels", lambda: tc_cases.build_transpose_conv(*TC_DSP_CASES[3]), "TRANSPOSE_CONV"),
    ("tc-33-in-channels", lambda: tc_cases.build_transpose_conv(*TC_DSP_CASES[5]), "TRANSPOSE_CONV"),
    ("bmm-both-adj", lambda: bmm_cases.build_matmul(*BMM_DSP_CASES[2]), "BATCH_MATMUL"),
    ("bmm-attention", lambda: attention_model(31), "BATCH_MATMUL"),
]


@needs_board
@pytest.mark.parametrize("name,build,op_type", BOARD_CASES, ids=[c[0] for c in BOARD_CASES])
def test_on_emulated_cortex_m4(name, build, op_type, tmp_path):
    assert_bit_exact_on_board(build(), tmp_path, "qemu-mps2-an386", op_type)


@needs_board
def test_batch_matmul_portable_requantization_on_emulated_cortex_m4(tmp_path, monkeypatch):
    from edgekit.codegen.ops import dsp_batch_matmul

    monkeypatch.setattr(dsp_batch_matmul, "requant_table", lambda *a: None)
    assert_bit_exact_on_board(bmm_cases.build_matmul(*BMM_DSP_CASES[2]), tmp_path, "qemu-mps2-an386",
                              "BATCH_MATMUL")

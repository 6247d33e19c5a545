"""Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions on DSP targets (ek_conv3x3_wino_dsp_s8):

* the integer algebra: the transforms the generator and kernel use give exactly 4x the direct
  convolution's sums, on random int8 data (numpy, no C);
* the overlap it declares: a simulation of the kernel's block order never overwrites an input
  byte a later block reads;
* bit-exact with tflite-micro on the host (portable DSP instructions, ASan + UBSan) over padding,
  odd map sizes, channel counts, activations, per-tensor and per-channel quantization; and on the
  emulated Cortex-M4, where the channel loop is assembly;
* the policy: a small map keeps the direct kernel unless asked, and convolutions the kernel does
  not take (stride 2, input channels not a multiple of 8) never get it.
"""

from __future__ import annotations

import dataclasses
import re
from collections import namedtuple

import numpy as np
import pytest

from opmodels import keras_op
from test_kernels_dsp import DSP, assert_bit_exact_on_board, assert_dsp_bit_exact, needs_board

ALWAYS = dataclasses.replace(DSP, winograd_min_pixels=0)  # every convolution Winograd can take
ALWAYS4 = dataclasses.replace(ALWAYS, winograd_block_tiles=4)  # blocks of four tiles (two channels a group)
NEVER = dataclasses.replace(DSP, winograd_min_pixels=None)  # --no-winograd

from edgekit.codegen.ops.winograd import OUTPUT_SUPPORT, transformed_filters, winograd_overlap

WINO = "ek_conv3x3_wino_dsp_s8"
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.int64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.int64)


def test_integer_winograd_is_four_times_the_direct_sum():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c, n = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        w = rng.integers(-128, 128, (n, 3, 3, c))
        d = rng.integers(-128, 128, (4, 4, c))
        u = transformed_filters(w).reshape(n, 4, 4, c)
        v = np.einsum("ik,klc,jl->ijc", BT, d, BT)
        assert np.abs(v).max() <= 512
        m = (u * v[None]).sum(axis=3)  # [n][4][4]
        y = np.einsum("ik,nkl,jl->nij", AT, m, AT)
        direct = np.array([[[(w[k] * d[i:i + 3, j:j + 3]).sum() for j in range(2)] for i in range(2)]
                           for k in range(n)])
        np.testing.assert_array_equal(y, 4 * direct)


def test_output_support_matches_the_output_transform():
    for i, support in enumerate(OUTPUT_SUPPORT):
        weights = np.outer(AT[i // 2], AT[i % 2]).reshape(-1)
        assert sorted(support) == sorted(np.flatnonzero(weights).tolist())


@pytest.mark.parametrize("per_block", [2, 4])
@pytest.mark.parametrize("ih,iw,c_in,c_out,pad", [(8, 8, 8, 8, 1), (9, 7, 16, 8, 1), (10, 6, 8, 24, 0),
                                                    (5, 13, 8, 8, 1), (3, 3, 8, 8, 1), (32, 32, 16, 16, 1)])
def test_declared_overlap_is_safe(ih, iw, c_in, c_out, pad, per_block):
    """Replay the kernel's order (blocks of `per_block` tiles) on a byte map: input at offset `lead`
    above the output; a write may only land on an input byte no later block reads."""
    oh, ow = (ih, iw) if pad else (ih - 2, iw - 2)
    (ov,) = winograd_overlap(ih, iw, c_in, oh, ow, c_out, pad, pad, per_block)
    lead = ov.lead
    tw, th = -(-ow // 2), -(-oh // 2)
    tiles = [(ty, tx) for ty in range(th) for tx in range(tw)]
    blocks = [tiles[i:i + per_block] for i in range(0, len(tiles), per_block)]

    def reads(block):
        out = set()
        for ty, tx in block:
            for r in range(2 * ty - pad, 2 * ty - pad + 4):
                for cc in range(2 * tx - pad, 2 * tx - pad + 4):
                    if 0 <= r < ih and 0 <= cc < iw:
                        out.update(range((r * iw + cc) * c_in, (r * iw + cc + 1) * c_in))
        return out

    later = [set() for _ in blocks]
    acc = set()
    for b in reversed(range(len(blocks))):
        later[b] = set(acc)
        acc |= reads(blocks[b])
    for b, block in enumerate(blocks):
        for ty, tx in block:
            for oy in (2 * ty, 2 * ty + 1):
                for ox in (2 * tx, 2 * tx + 1):
                    if oy < oh and ox < ow:
                        for byte in range((oy * ow + ox) * c_out, (oy * ow + ox + 1) * c_out):
                            assert byte - lead not in later[b], (b, oy, ox)
    assert lead < oh * ow * c_out  # it does overlap: the declaration is worth having


Case = namedtuple("Case", "hw c_in c_out padding act per_tensor seed")
CASES = [
    Case((8, 8), 8, 8, "same", "relu", False, 1),
    Case((9, 7), 16, 6, "same", None, False, 2),      # odd map: the last tiles are cut; 6 channels: a
                                                       # last group of four padded with two
    Case((10, 11), 8, 2, "valid", "relu6", True, 3),
    Case((5, 5), 24, 16, "same", None, True, 4),       # 9 tiles: a last block of fewer
    Case((3, 3), 8, 4, "valid", "relu", False, 5),     # one output pixel
    Case((16, 16), 32, 10, "same", "relu", False, 6),
]


def build(c: Case) -> bytes:
    import keras

    return keras_op(keras.layers.Conv2D(c.c_out, 3, padding=c.padding, activation=c.act),
                    (*c.hw, c.c_in), seed=c.seed, per_tensor=c.per_tensor)


@pytest.mark.parametrize("target", [ALWAYS, ALWAYS4], ids=["blocks-of-2", "blocks-of-4"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c.hw[0]}x{c.hw[1]}x{c.c_in}-{c.c_out}-{c.padding}" for c in CASES])
def test_host_bit_exact(case, target, runtime_lib, tmp_path):
    gen = assert_dsp_bit_exact(build(case), runtime_lib, tmp_path, "CONV_2D", target=target)
    assert [c.function for c in gen.calls] == [WINO]
    assert gen.calls[0].params.block_tiles == target.winograd_block_tiles


def test_narrow_activation_range(runtime_lib, tmp_path):
    """An activation range narrower than int8 (clamp to [-1, 1]) takes the general output path."""
    import test_kernels_conv as conv_cases

    case = conv_cases.Case((8, 8), 8, 4, (3, 3), (1, 1), "same", (1, 1), 1, "n1to1", False, True, 77)
    gen = assert_dsp_bit_exact(conv_cases.build_conv(case), runtime_lib, tmp_path, "CONV_2D", target=ALWAYS)
    call = gen.calls[0]
    assert call.function == WINO and not call.params.act_full


def test_output_overlaps_input_in_the_plan(runtime_lib, tmp_path):
    """The planner uses the declared lead: with the model input dying at the convolution, the
    output starts inside the input, and the outputs are still exact."""
    gen = assert_dsp_bit_exact(build(CASES[0]), runtime_lib, tmp_path, "CONV_2D", target=ALWAYS)
    xt, yt = gen.inputs[0].tensor, gen.outputs[0].tensor
    x, y = gen.plan.offset_of_tensor(xt.index), gen.plan.offset_of_tensor(yt.index)
    assert y < x < y + yt.nbytes, (x, y)


def test_policy(tmp_path):
    from edgekit.codegen import generate
    from edgekit.ir import parse_tflite

    import keras

    small = build(CASES[0])
    stride2 = keras_op(keras.layers.Conv2D(8, 3, strides=2, padding="same"), (16, 16, 8), seed=7)
    odd_c = keras_op(keras.layers.Conv2D(8, 3, padding="same"), (16, 16, 12), seed=8)

    def function(model, name, target=DSP):
        gen = generate(parse_tflite(model, name=name), tmp_path / name, target=target)
        return gen.calls[0].function

    assert function(small, "small") != WINO  # 64 output pixels: below the flash-for-speed threshold
    assert function(small, "forced", ALWAYS) == WINO
    assert function(stride2, "stride2", ALWAYS) != WINO
    assert function(odd_c, "odd_c", ALWAYS) != WINO
    assert function(build(CASES[5]), "off", NEVER) != WINO
    assert function(build(CASES[5]), "large") == WINO  # 256 output pixels: taken by default


@needs_board
def test_on_emulated_cortex_m4(tmp_path):
    assert_bit_exact_on_board(build(CASES[5]), tmp_path, "qemu-mps2-an386", "CONV_2D")


@needs_board
@pytest.mark.parametrize("block_tiles", [2, 4])
def test_on_emulated_cortex_m4_partial_block(block_tiles, tmp_path):
    """Both channel loops' assembly (four channels x two tiles, two channels x four), a last block of
    fewer tiles, six output channels: a last group padded with channels of zeros."""
    case = CASES[3]._replace(c_out=6)
    fw = assert_bit_exact_on_board(build(case), tmp_path, "qemu-mps2-an386", "CONV_2D", winograd_min_pixels=0,
                                   winograd_block_tiles=block_tiles)
    assert fw.generated.calls[0].params.block_tiles == block_tiles


@pytest.mark.parametrize("tiles", [2, 4])
def test_only_the_block_size_in_use_is_compiled(tiles, tmp_path):
    """ek_config.h turns on the code of the block size the model's Winograd call uses and leaves the
    other's out; built so (the generated directory's kernels, not the session's library), the
    outputs are tflite-micro's, and configured without the size it uses the model does not compile."""
    from edgekit.codegen import generate
    from edgekit.errors import ToolchainError
    from edgekit.frontend import reference
    from edgekit.ir import parse_tflite
    from edgekit.target.host import build_host_runner, random_inputs, run_host

    model = build(CASES[1])
    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model", target=ALWAYS if tiles == 2 else ALWAYS4)
    config = gen.out_dir / "ek" / "ek_config.h"
    text = config.read_text()
    assert f"#define EK_WINO_BLOCKS_{tiles} 1" in text and f"#define EK_WINO_BLOCKS_{6 - tiles} 0" in text
    data = random_inputs(graph, 2, 0)
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1")
    for o, w in zip(run_host(exe, gen.inputs, gen.outputs, data), reference.run_tflm(model, data)):
        np.testing.assert_array_equal(o[0], w[0].reshape(o[0].shape))
    config.write_text(text.replace(f"#define EK_WINO_BLOCKS_{tiles} 1", f"#define EK_WINO_BLOCKS_{tiles} 0"))
    with pytest.raises(ToolchainError, match=f"EK_WINO_BLOCKS_{tiles}"):
        build_host_runner(gen, tmp_path)


def test_slow_flash_boards_read_the_weights_half_as_often():
    """Where the board's flash has wait states (nucleo-l4r5zi), blocks of four tiles: each block reads
    all of U, so four tiles a block read it half as often as two; elsewhere two (half the scratch)."""
    from edgekit.target.boards import load_board

    assert load_board("nucleo-l4r5zi").target().winograd_block_tiles == 4
    assert load_board("qemu-mps2-an386").target().winograd_block_tiles == 2


def test_cli_no_winograd(mlperf_models, tmp_path):
    """The real ResNet's 32x32 and 16x16 3x3 convolutions take Winograd on a Cortex-M4 unless
    --no-winograd asks for direct ones, whose weights are then 3.6x smaller."""
    from edgekit.cli import main

    model = str(mlperf_models / "pretrainedResnet_quant.tflite")
    assert main(["generate", model, "--board", "qemu-mps2-an386", "-o", str(tmp_path / "w")]) == 0
    assert main(["generate", model, "--board", "qemu-mps2-an386", "--no-winograd", "-o", str(tmp_path / "d")]) == 0
    with_w, without = (tmp_path / "w" / "model.c").read_text(), (tmp_path / "d" / "model.c").read_text()
    # one call each, on whole tensors or on bands in a streamed segment
    assert len(re.findall(WINO + r"(_rows)?\(&", with_w)) == 3 and WINO not in without
    size = {k: sum(f.stat().st_size for f in (tmp_path / k).glob("*weights*.c")) for k in ("w", "d")}
    assert size["w"] > size["d"]

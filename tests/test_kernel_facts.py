"""Kernel facts come from the C: change a kernel's scratch function or its stream layout in the C
and the generator follows, with no Python copy to edit (edgekit.codegen.kernel_facts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opmodels import keras_op
from test_kernels_dsp import DSP_SCRATCH, assert_dsp_bit_exact

from edgekit import files
from edgekit.codegen import kernel_facts
from edgekit.codegen.lower import lower_graph
from edgekit.ir import parse_tflite
from edgekit.target import host


@pytest.fixture
def edited_kernels(tmp_path: Path, monkeypatch):
    """A copy of the kernels that the generator, the facts library and the host build all use;
    the test edits it."""
    kernels = tmp_path / "kernels"
    shutil.copytree(files.KERNELS, kernels)
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kernel_facts, "SOURCE_DIRS", (kernels, kernels / "dsp"))
    monkeypatch.setattr("edgekit.codegen.KERNELS", kernels)  # copied into a generated ek/
    monkeypatch.setattr(host, "KERNELS", kernels)  # the host runtime library
    kernel_facts.library.cache_clear()
    kernel_facts.depthwise_rows_record.cache_clear()
    yield kernels
    kernel_facts.library.cache_clear()
    kernel_facts.depthwise_rows_record.cache_clear()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new))


def average_pool_model() -> bytes:
    import keras

    return keras_op(keras.layers.AveragePooling2D(2), (8, 8, 12), seed=3)


def test_the_planner_follows_a_changed_scratch_function(edited_kernels: Path):
    model = average_pool_model()
    [call] = lower_graph(parse_tflite(model))
    assert call.function == "ek_avg_pool_s8" and call.scratch_bytes == 4 * 12
    edit(edited_kernels / "ek_pool.c", "return 4 * channels;", "return 4 * channels + 64;")
    kernel_facts.library.cache_clear()
    [call] = lower_graph(parse_tflite(model))
    assert call.scratch_bytes == 4 * 12 + 64


def test_depthwise_rows_stream_follows_its_header(edited_kernels: Path, tmp_path: Path):
    """Move the requantization terms to the front of each channel's record in the header alone:
    the generator lays the weights out the new way, the C and assembly read them the new way,
    and the outputs still equal tflite-micro's."""
    import keras

    edit(edited_kernels / "dsp" / "ek_depthwise_rows_dsp.h", "#define EK_DWR_PAIRS 0", "#define EK_DWR_PAIRS 4")
    edit(edited_kernels / "dsp" / "ek_depthwise_rows_dsp.h", "#define EK_DWR_REQUANT 6", "#define EK_DWR_REQUANT 0")
    assert kernel_facts.depthwise_rows_record() == (4, 0, 10)
    model = keras_op(keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"), (9, 11, 8), seed=5)
    lib = host.build_runtime_lib(tmp_path, sanitize=True, opt="-O1")
    (tmp_path / "case").mkdir()
    gen = assert_dsp_bit_exact(model, lib, tmp_path / "case", "DEPTHWISE_CONV_2D", target=DSP_SCRATCH)  # the rows kernel
    [call] = [c for c in gen.calls if c.function == "ek_depthwise_rows_dsp_s8"]
    records = call.params.weights.values.reshape(-1, 10)
    assert (records[:, 1] >= 2**30).all()  # the multipliers, now in word 1
    assert ((records[:, 3] & 0xFF) >= 1).all() and ((records[:, 3] & 0xFF) <= 23).all()  # the right shifts

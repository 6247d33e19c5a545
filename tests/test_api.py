"""The generated API a firmware engineer calls: float helpers that quantize as TFLite's QUANTIZE
and dequantize as its DEQUANTIZE, invoke's status, and the arena and weights placed in sections
of the user's choosing."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from edgekit.codegen import generate
from edgekit.ir import read_tflite
from edgekit.target.toolchain import compile_host, find_tool, run

MAIN = r"""
#include <stdio.h>
#include "ad.h"

int main(void)
{
    static float x[AD_INPUT_SIZE], y[AD_OUTPUT_SIZE];
    static int8_t q[AD_INPUT_SIZE], out[AD_OUTPUT_SIZE];
    if (fread(x, sizeof x, 1, stdin) != 1 || fread(out, sizeof out, 1, stdin) != 1) return 2;
    ad_quantize_input(x, q);
    ad_dequantize_output(out, y);
    fwrite(q, sizeof q, 1, stdout);
    fwrite(y, sizeof y, 1, stdout);
    /* the status of a call with a missing buffer, and of a good one */
    const int bad = ad_invoke(NULL, out), good = ad_invoke(q, out);
    fwrite(&bad, sizeof bad, 1, stdout);
    fwrite(&good, sizeof good, 1, stdout);
    return 0;
}
"""


@pytest.fixture(scope="module")
def ad(mlperf_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    gen = generate(read_tflite(mlperf_models / "ad01_int8.tflite"), out / "gen", prefix="ad")
    return gen, out


def _tflite_quantize(x: np.ndarray, scale: np.float32, zero_point: int) -> np.ndarray:
    """reference_ops::AffineQuantize: static_cast<int32>(TfLiteRound(val / scale)) + zero_point,
    clamped; the division in float, TfLiteRound = std::round (half away from zero). NaN, which
    TFLite leaves undefined, is documented to go to the lowest value."""
    v = (x.astype(np.float32) / np.float32(scale)).astype(np.float64)
    v = np.nan_to_num(v, nan=-1e9, posinf=1e9, neginf=-1e9)
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


def test_float_helpers_and_status(ad, tmp_path):
    gen, _ = ad
    src = tmp_path / "main.c"
    src.write_text(MAIN)
    exe = compile_host([src, gen.out_dir / "ad.c", gen.out_dir / "ad_weights.c",
                        *sorted((gen.out_dir / "ek").glob("*.c"))], [gen.out_dir, gen.out_dir / "ek"], tmp_path / "api")
    io_in, io_out = gen.inputs[0], gen.outputs[0]
    scale = np.float32(io_in.scale)
    rng = np.random.default_rng(5)
    n = io_in.size
    # ties (k + 0.5) * scale and their neighbours, large, tiny, infinite and NaN values
    ties = ((rng.integers(-200, 200, n) + 0.5) * np.float64(scale)).astype(np.float32)
    x = np.where(rng.random(n) < 0.5, ties, rng.normal(0, 40 * scale, n).astype(np.float32))
    x[:6] = [np.inf, -np.inf, np.nan, 1e30, -1e30, -0.0]
    x[6:12] = np.nextafter(ties[6:12], np.float32(np.inf))
    out = rng.integers(-128, 128, io_out.size, dtype=np.int8)
    proc = subprocess.run([str(exe)], input=x.tobytes() + out.tobytes(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    raw = proc.stdout
    q = np.frombuffer(raw[:n], np.int8)
    y = np.frombuffer(raw[n:n + 4 * io_out.size], np.float32)
    bad, good = np.frombuffer(raw[n + 4 * io_out.size:], np.int32)
    np.testing.assert_array_equal(q, _tflite_quantize(x, scale, io_in.zero_point))
    # reference_ops::Dequantize: static_cast<float>(scale * (val - zero_point)), scale a double
    want = (np.float64(np.float32(io_out.scale)) * (out.astype(np.float64) - io_out.zero_point)).astype(np.float32)
    np.testing.assert_array_equal(y, want)
    assert (bad, good) == (1, 0)  # AD_ERROR_NULL_ARGUMENT, AD_OK as model.h defines them
    header = (gen.out_dir / "ad.h").read_text()
    assert "#define AD_OK 0" in header and "#define AD_ERROR_NULL_ARGUMENT 1" in header


def test_arena_and_weights_in_chosen_sections(ad, tmp_path):
    gen, _ = ad
    cc = find_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi")
    objdump = find_tool("arm-none-eabi-objdump", "apt-get install binutils-arm-none-eabi")
    flags = ["-mcpu=cortex-m4", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2",
             f"-I{gen.out_dir}", f"-I{gen.out_dir / 'ek'}"]
    run([cc, *flags, "-DAD_ARENA_SECTION=__attribute__((section(\".sram2\")))", "-c", str(gen.out_dir / "ad.c"),
         "-o", str(tmp_path / "ad.o")], "compile ad.c")
    run([cc, *flags, "-DEK_WEIGHTS_SECTION=__attribute__((section(\".qspi\")))", "-c",
         str(gen.out_dir / "ad_weights.c"), "-o", str(tmp_path / "w.o")], "compile ad_weights.c")
    symbols = run([objdump, "-t", str(tmp_path / "ad.o"), str(tmp_path / "w.o")], "objdump").stdout
    where = {ln.split()[-1]: ln.split()[-3] for ln in symbols.splitlines() if ln.split()[-1:] and
             ln.split()[-1].startswith("ad_") and len(ln.split()) >= 5}
    assert where["ad_arena"] == ".sram2"
    weights = [s for s in where if s.startswith("ad_op")]
    assert weights and all(where[s] == ".qspi" for s in weights), where


LABELS_MAIN = r"""
#include <stdio.h>
#include "model.h"

int main(void)
{
    for (int i = 0; i < MODEL_NUM_LABELS; i++) {
        fputs(model_labels[i], stdout);
        fputc(0, stdout);
    }
    return 0;
}
"""


def test_labels_from_convert_reach_the_c_api_byte_for_byte(tmp_path, capsys):
    """convert --labels stores the class names in the model; generate gives them to C as
    model_labels[]. Names that would break a C string (quotes, backslashes, trigraphs, UTF-8)
    come out exactly as they went in."""
    import keras

    names = ['zero', 'un "one"', "two\\back", "three??/", "quatre \u00e9", "%s%n", "", "*/ x /*", "8", "\u4e5d"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((40, 8), dtype=np.float32))
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    from edgekit.cli import main

    assert main(["convert", str(tmp_path / "m.keras"), "-o", str(tmp_path / "m.tflite"), "--calib",
                 str(tmp_path / "x.npy"), "--labels", str(tmp_path / "labels.txt")]) == 0
    gen = generate(read_tflite(tmp_path / "m.tflite"), tmp_path / "gen")
    src = tmp_path / "main.c"
    src.write_text(LABELS_MAIN)
    exe = compile_host([src, gen.out_dir / "model.c", gen.out_dir / "model_weights.c",
                        *sorted((gen.out_dir / "ek").glob("*.c"))], [gen.out_dir, gen.out_dir / "ek"], tmp_path / "labels")
    out = subprocess.run([str(exe)], capture_output=True, timeout=60).stdout
    assert out.split(b"\0")[:-1] == [n.encode() for n in names]
    # a labels file of the wrong length is one line, and writes nothing
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "m.keras"), "-o", str(tmp_path / "n.tflite"), "--calib",
                 str(tmp_path / "x.npy"), "--labels", str(tmp_path / "three.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("3 labels for an output of 10 classes") and not (tmp_path / "n.tflite").exists()


def test_several_inputs_take_their_keras_names(tmp_path):
    """A two-input Keras model (inputs named in00 and in01): the C API calls them so, in the
    order of its arguments; --inputs .npz files may use the same names."""
    import keras
    from opmodels import keras_graph

    def build(a, b):
        return keras.layers.Concatenate()([keras.layers.Dense(6)(a), keras.layers.Dense(3)(b)])

    path = tmp_path / "two.tflite"
    path.write_bytes(keras_graph(build, [(4, 8), (4, 8)], seed=3))
    graph = read_tflite(path)
    gen = generate(graph, tmp_path / "gen")
    # each input under its own Keras name, in the model's input order (the converter's, not Keras's)
    names = [io.c_name for io in gen.inputs]
    assert sorted(names) == ["in00", "in01"] and [io.c_name for io in gen.outputs] == ["output"]
    assert [dict(graph.io_names)[i] for i in graph.inputs] == names
    header = (gen.out_dir / "model.h").read_text()
    assert f"int model_invoke(const int8_t *{names[0]}, const int8_t *{names[1]}, int8_t *output);" in header
    assert "#define MODEL_IN01_SIZE 32" in header
    from edgekit.target.host import load_inputs

    x = np.zeros((2, 1, 4, 8), np.int8)
    np.savez(tmp_path / "x.npz", in00=x, in01=x + 1)
    samples = load_inputs(graph, tmp_path / "x.npz")
    assert len(samples) == 2 and samples[0][names.index("in01")].max() == 1


def test_convert_lists_inputs_and_outputs_in_the_c_api_order(tmp_path, capsys):
    """Three inputs and two outputs whose names sort in another order than the model's: convert
    reports them in the order of the generated invoke's arguments, numbered."""
    import json

    import keras

    from edgekit.cli import main

    keras.utils.set_random_seed(1)
    ins = [keras.Input((n,), name=name) for n, name in ((8, "zz_first"), (4, "aa_second"), (2, "mm_third"))]
    y = keras.layers.Concatenate()([keras.layers.Dense(3)(x) for x in ins])
    keras.Model(ins, [keras.layers.Dense(2, name="z_out")(y), keras.layers.Dense(1, name="b_out")(y)]).save(
        tmp_path / "m.keras")
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "x.npz", **{x.name: rng.random((30, x.shape[1]), dtype=np.float32) for x in ins})
    args = ["convert", str(tmp_path / "m.keras"), "-o", str(tmp_path / "m.tflite"), "--calib", str(tmp_path / "x.npz")]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    gen = generate(read_tflite(tmp_path / "m.tflite"), tmp_path / "gen")
    assert [t["name"] for t in report["inputs"]] == [io.c_name for io in gen.inputs]
    assert [t["name"] for t in report["outputs"]] == [io.c_name for io in gen.outputs]
    assert [io.c_name for io in gen.inputs] != sorted(io.c_name for io in gen.inputs)  # not by name
    assert main(args) == 0
    text = capsys.readouterr().out
    assert [line.split()[2] for line in text.splitlines() if line.startswith("  input ")] == [
        io.c_name for io in gen.inputs]


def test_a_model_refuses_another_runtime(mlperf_models, tmp_path):
    """A model compiled against an ek/ of other kernels (here: generated for the portable runtime,
    against the Cortex-M4's, which holds every header it includes and the DSP kernels besides) is a
    compile error naming the mismatch, never a program whose kernels may read their parameters
    differently."""
    from edgekit.codegen.core import HOST, target_for_cpu
    from edgekit.errors import ToolchainError

    graph = read_tflite(mlperf_models / "ad01_int8.tflite")
    host = generate(graph, tmp_path / "host", prefix="a", target=HOST)
    m4 = generate(graph, tmp_path / "m4", prefix="b", target=target_for_cpu("cortex-m4"))
    gcc = find_tool("gcc", "install gcc")
    run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{host.out_dir}", f"-I{host.out_dir / 'ek'}", "-c",
         str(host.out_dir / "a.c"), "-o", str(tmp_path / "ok.o")], "the model against its own runtime")
    with pytest.raises(ToolchainError, match="ek/ holds another edgekit runtime than a.c was generated for"):
        run([gcc, "-std=c99", f"-I{host.out_dir}", f"-I{m4.out_dir / 'ek'}", "-c", str(host.out_dir / "a.c"),
             "-o", str(tmp_path / "x.o")], "the model against another runtime")

"""Bad input gets one clear line and exit code 2, never a traceback; nothing written is lost."""

from pathlib import Path

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.errors import ExitCode


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("edgekit: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def float_model() -> bytes:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def f(x):
        return tf.nn.relu(tf.matmul(x, tf.ones((8, 4))))

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    return conv.convert()


@pytest.fixture(scope="module")
def while_model() -> bytes:
    """A model with a WHILE loop: the converter emits several subgraphs."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
    def f(x):
        i = tf.constant(0)
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2.0), [i, x])
        return y

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    return conv.convert()


@pytest.mark.parametrize("command", ["inspect", "generate", "validate"])
def test_truncated_model(command, mlperf_models, tmp_path, capsys):
    data = (mlperf_models / "kws_ref_model.tflite").read_bytes()
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(data[: len(data) // 3])
    extra = ["-o", tmp_path / "out"] if command == "generate" else []
    code, _, err = run_cli([command, bad, *extra], capsys)
    assert_one_line_error(code, err, "truncated.tflite")


def test_random_bytes_with_valid_identifier(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for k in range(20):
        junk = bytearray(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
        junk[4:8] = b"TFL3"
        p = tmp_path / f"junk{k}.tflite"
        p.write_bytes(bytes(junk))
        code, _, err = run_cli(["inspect", p], capsys)
        assert_one_line_error(code, err)


def test_not_a_tflite_file(tmp_path, capsys):
    p = tmp_path / "model.tflite"
    p.write_text("hello")
    code, _, err = run_cli(["generate", p, "-o", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "not a TFLite flatbuffer")


def test_missing_file(tmp_path, capsys):
    code, _, err = run_cli(["inspect", tmp_path / "nope.tflite"], capsys)
    assert_one_line_error(code, err, "no such model file")


def test_float_model_refused_by_generate(float_model, tmp_path, capsys):
    p = tmp_path / "float.tflite"
    p.write_bytes(float_model)
    code, _, err = run_cli(["generate", p, "-o", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "float model")
    assert not (tmp_path / "out" / "model.c").exists()


def test_several_subgraphs_refused(while_model, tmp_path, capsys):
    p = tmp_path / "loop.tflite"
    p.write_bytes(while_model)
    for cmd in (["inspect", p], ["generate", p, "-o", tmp_path / "out"]):
        code, _, err = run_cli(cmd, capsys)
        assert_one_line_error(code, err, "subgraphs")


def test_inspect_lists_unsupported_ops(tmp_path, capsys):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def f(x):
        return tf.math.exp(x) + tf.math.sqrt(tf.abs(x))

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    p = tmp_path / "exp.tflite"
    p.write_bytes(conv.convert())
    code, out, err = run_cli(["inspect", p], capsys)
    assert code == ExitCode.UNSUPPORTED_OPERATORS
    assert "EXP" in out and "unsupported" in out
    assert "unsupported: op" in err and "EXP" in err
    code, out, _ = run_cli(["inspect", p, "--json"], capsys)
    import json

    report = json.loads(out)
    assert {u["type"] for u in report["unsupported"]} >= {"EXP", "SQRT"}


def test_generate_keeps_existing_output_on_error(mlperf_models, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, _ = run_cli(["generate", mlperf_models / "ad01_int8.tflite", "-o", out], capsys)
    assert code == 0
    before = (out / "model.c").read_text()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0\0\0\0TFL3" + b"\xff" * 50)
    code, _, err = run_cli(["generate", bad, "-o", out], capsys)
    assert_one_line_error(code, err)
    assert (out / "model.c").read_text() == before


def test_bad_prefix(mlperf_models, tmp_path, capsys):
    code, _, err = run_cli(["generate", mlperf_models / "ad01_int8.tflite", "-o", tmp_path,
                            "--prefix", "9lives"], capsys)
    assert_one_line_error(code, err, "C identifier")


def test_help_lists_every_exit_code(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{int(code):>3}  {code.meaning}" in out


def test_bad_arguments_exit_with_the_error_code(capsys):
    with pytest.raises(SystemExit) as done:
        main(["generate"])  # no model, no -o
    assert done.value.code == ExitCode.ERROR
    assert "usage:" in capsys.readouterr().err


def test_generate_touches_only_files_it_wrote(tmp_path, capsys):
    """A folder edgekit generated into can be generated into again (the DSP kernels of a board run
    are removed by a host run); a file the user put in ek/, or a model.c edgekit did not write,
    makes generate refuse the folder and stay away from it."""
    model = str(Path(__file__).parent / "snapshots" / "tiny_dense.tflite")
    out = tmp_path / "gen"
    assert main(["generate", model, "-o", str(out), "--board", "qemu-mps2-an386"]) == 0
    assert (out / "ek" / "ek_conv2d_dsp.c").exists()
    assert main(["generate", model, "-o", str(out)]) == 0
    assert not (out / "ek" / "ek_conv2d_dsp.c").exists() and (out / "ek" / "ek_conv2d.c").exists()
    (out / ".edgekit-files.json").unlink()  # as an edgekit from before the manifest left it
    assert main(["generate", model, "-o", str(out)]) == 0 and (out / ".edgekit-files.json").exists()
    mine = out / "ek" / "my_notes.txt"
    mine.write_text("keep me")
    capsys.readouterr()
    code, _, err = run_cli(["generate", model, "-o", out], capsys)
    assert_one_line_error(code, err, "my_notes.txt", "did not write")
    assert mine.read_text() == "keep me"
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "model.c").write_text("int main(void) { return 0; }\n")
    code, _, err = run_cli(["generate", model, "-o", theirs], capsys)
    assert_one_line_error(code, err, "model.c", "did not write")
    assert (theirs / "model.c").read_text() == "int main(void) { return 0; }\n"


@pytest.mark.parametrize("missing,model,package", [
    (("tensorflow", "keras"), "ad01.h5", "tensorflow"),
    (("h5py",), "ad01.h5", "h5py"),
])
def test_missing_optional_dependency_is_one_line(missing, model, package, mlperf_models, tmp_path, monkeypatch,
                                                 capsys):
    """convert without TensorFlow (or h5py, for a Keras-2 .h5): one line naming what to install,
    exit 2, no traceback, nothing written."""
    import sys

    from edgekit.cli import main

    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ModuleNotFoundError
    out = tmp_path / "m.tflite"
    code = main(["convert", str(mlperf_models / model), "-o", str(out), "--synthetic-calib"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == (f"edgekit: error: `edgekit convert` needs {package}, which is not "
                                     f"installed (pip install {package})"), err
    assert not out.exists()

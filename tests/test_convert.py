"""edgekit convert: .keras, Keras-2-style .h5 and SavedModel to full-int8 .tflite, calibrated on
.npy, .npz or a folder of images, measured against the float model on held-out samples.
Bad input gets one line and exit code 2, and never costs an existing output file."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_example

from edgekit.cli import main
from edgekit.errors import ExitCode
from edgekit.ir import DType, read_tflite


def run_cli(args, capfd):
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()  # file-descriptor level: TensorFlow's C++ noise counts too
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("edgekit: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def assert_full_int8(path):
    """int8 input and output, and no float tensor between operators."""
    graph = read_tflite(path)
    for i in (*graph.inputs, *graph.outputs):
        assert graph.tensors[i].dtype == DType.INT8
    for op in graph.ops:
        for t in (*graph.op_inputs(op), *graph.op_outputs(op)):
            if t is not None and t.variable and op.type_name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
                assert t.dtype in (DType.INT8, DType.INT16), (op.type_name, t.name, t.dtype)  # int16 cell state
            elif t is not None and not t.is_constant:
                assert t.dtype == DType.INT8, (op.type_name, t.name, t.dtype)
            elif t is not None and op.type_name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                assert t.dtype in (DType.INT8, DType.INT32), (op.type_name, t.name, t.dtype)
    return graph


# ---------------------------------------------------------------------------- the digits model


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """examples/digits.py trained once; the model in three formats, the data in three forms."""
    example = load_example("digits")
    import keras
    from PIL import Image

    d = tmp_path_factory.mktemp("digits")
    trained = example.train(d, epochs=15)
    assert trained.test_accuracy > 0.9
    model = keras.models.load_model(trained.model_path)
    _save_as_keras2_h5(model, d / "digits.h5")
    model.export(d / "digits_savedmodel", verbose=False)
    x = np.load(trained.calib_path)
    labels = np.load(trained.labels_path)
    np.savez(d / "digits_calib.npz", image=x, labels=labels)
    images = d / "images"
    for k, (img, label) in enumerate(zip(x, labels)):
        # class folders, RGB, 16x16: the loader converts to grayscale and resizes to 8x8
        px = np.round(img[..., 0] * 255).astype(np.uint8)
        (images / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(px, "L").convert("RGB").resize((16, 16), Image.NEAREST).save(images / str(label) / f"{k}.png")
    return {"dir": d, "keras": trained.model_path, "h5": d / "digits.h5",
            "savedmodel": d / "digits_savedmodel", "npy": trained.calib_path,
            "npz": d / "digits_calib.npz", "images": images, "n": len(x)}


def _save_as_keras2_h5(model, path):
    """Keras 3's legacy HDF5 writer, plus what Keras 2 also wrote and Keras 3 refuses:
    DepthwiseConv2D's 'groups' argument."""
    import h5py
    import keras

    model.save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        n = 0
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "DepthwiseConv2D":
                layer["config"]["groups"] = 1
                n += 1
        assert n == 1
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.4.0"
    with pytest.raises(Exception, match="groups"):
        keras.models.load_model(path, compile=False)


@pytest.mark.parametrize("data", ["npy", "npz", "images"])
@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_convert_formats(fmt, data, digits, tmp_path, capfd):
    out = tmp_path / "digits.tflite"
    code, stdout, err = run_cli(["convert", digits[fmt], "-o", out, "--calib", digits[data], "--json"], capfd)
    assert code == 0, err
    report = json.loads(stdout)  # stdout holds the JSON and nothing else
    graph = assert_full_int8(out)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= {op.type_name for op in graph.ops}
    assert graph.tensors[graph.inputs[0]].shape == (1, 8, 8, 1)
    assert report["mode"] == "int8" and report["source_format"] == fmt
    assert report["calibration"]["samples"] == 200
    assert report["held_out_samples"] == digits["n"] - 200
    assert report["calibration"]["image_range"] == ("unit" if data == "images" else None)
    (o,) = report["outputs"]
    assert o["classifier"] and o["dtype"] == "int8"
    assert o["top1_agreement"] >= 0.9, report
    assert o["sqnr_db"] > 15, report
    assert "held-out" in err or "agreement" in err  # progress went to stderr
    assert not [p for p in tmp_path.iterdir() if p.name != "digits.tflite"]  # no temp files left


def test_summary_text_and_per_tensor(digits, tmp_path, capfd):
    out = tmp_path / "pt.tflite"
    code, stdout, err = run_cli(["convert", digits["keras"], "-o", out, "--calib", digits["npy"],
                                 "--per-tensor", "--calib-samples", "50"], capfd)
    assert code == 0, err
    assert "top-1 agreement" in stdout and "SQNR" in stdout and "per-tensor" in stdout
    assert "calibrated on 50 samples" in stdout
    graph = assert_full_int8(out)
    for op in graph.ops:
        if op.type_name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weights = graph.tensors[op.inputs[1]]
            assert len(weights.quant.scale) == 1


def test_dynamic_mode(digits, tmp_path, capfd):
    out = tmp_path / "dyn.tflite"
    code, stdout, err = run_cli(["convert", digits["keras"], "-o", out, "--calib", digits["npy"],
                                 "--mode", "dynamic", "--json"], capfd)
    assert code == 0, err
    report = json.loads(stdout)
    graph = read_tflite(out)
    assert graph.tensors[graph.inputs[0]].dtype == DType.FLOAT32
    assert graph.tensors[graph.outputs[0]].dtype == DType.FLOAT32
    assert any(t.is_constant and t.dtype == DType.INT8 for t in graph.tensors)  # int8 weights
    assert report["mode"] == "dynamic"
    assert report["calibration"]["samples"] == 0 and report["held_out_samples"] == digits["n"]
    (o,) = report["outputs"]
    assert o["dtype"] == "float32" and o["scale"] is None
    assert o["top1_agreement"] >= 0.9


def test_refuses_without_calibration_data(digits, tmp_path, capfd):
    out = tmp_path / "x.tflite"
    code, stdout, err = run_cli(["convert", digits["keras"], "-o", out], capfd)
    assert_one_line_error(code, err, "--calib", "--synthetic-calib")
    assert stdout == "" and not out.exists()


def test_synthetic_calibration_warns(digits, tmp_path, capfd):
    out = tmp_path / "syn.tflite"
    code, stdout, err = run_cli(["convert", digits["keras"], "-o", out, "--synthetic-calib",
                                 "--calib-samples", "32", "--json"], capfd)
    assert code == 0, err
    assert "warning:" in err and "accuracy is unknown" in err
    report = json.loads(stdout)
    assert report["calibration"]["synthetic"] and report["calibration"]["source"] == "synthetic"
    assert any("accuracy is unknown" in w for w in report["warnings"])
    assert_full_int8(out)


# ---------------------------------------------------------------------------- bad input


def _truncate(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_truncated_model_keeps_existing_output(fmt, digits, tmp_path, capfd):
    import shutil

    if fmt == "savedmodel":
        bad = tmp_path / "sm"
        shutil.copytree(digits["savedmodel"], bad)
        _truncate(digits["savedmodel"] / "saved_model.pb", bad / "saved_model.pb")
    else:
        bad = _truncate(digits[fmt], tmp_path / f"bad.{'keras' if fmt == 'keras' else 'h5'}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "model.tflite"
    out.write_bytes(b"the previous model")
    code, _, err = run_cli(["convert", bad, "-o", out, "--calib", digits["npy"]], capfd)
    assert_one_line_error(code, err, str(bad))
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in out_dir.iterdir()] == ["model.tflite"]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("bad")
    np.save(d / "wrong.npy", np.zeros((10, 5, 5), np.float32))
    (d / "empty").mkdir()
    (d / "broken").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(d / "broken" / "a.png")
    (d / "broken" / "b.png").write_bytes(b"\x89PNG not really")
    (d / "junk.npy").write_bytes(b"junk")
    np.save(d / "nan.npy", np.full((10, 8, 8, 1), np.nan, np.float32))
    (d / "not_a_savedmodel").mkdir()
    return d


BAD_INPUTS = [
    # (model, data, words in the error line)
    ("keras", "wrong.npy", "does not fit"),
    ("keras", "empty", "no images"),
    ("keras", "broken", "cannot read the image"),
    ("keras", "junk.npy", "cannot read"),
    ("keras", "nan.npy", "NaN"),
    ("keras", "missing.npy", "no such"),
    ("missing.keras", "npy", "no such"),
    ("not_a_savedmodel", "npy", "not a SavedModel"),
]


@pytest.mark.parametrize("model,data,words", BAD_INPUTS)
def test_bad_input(model, data, words, digits, bad_files, tmp_path, capfd):
    model = digits[model] if model in digits else bad_files / model
    data = digits[data] if data in digits else bad_files / data
    out = tmp_path / "out.tflite"
    code, stdout, err = run_cli(["convert", model, "-o", out, "--calib", data], capfd)
    assert_one_line_error(code, err, words)
    assert stdout == "" and not out.exists()


def test_image_range(digits, tmp_path, capfd):
    """Pixels scaled as documented: the same images calibrated under the three ranges give
    int8 inputs whose lowest code is the range's low end and whose scales follow its width."""
    ranges = {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0), "raw": (0.0, 255.0)}
    scales = {}
    for name, (lo, hi) in ranges.items():
        out = tmp_path / "r.tflite"
        code, stdout, err = run_cli(["convert", digits["keras"], "-o", out, "--calib", digits["images"],
                                     "--image-range", name, "--calib-samples", "50", "--json"], capfd)
        assert code == 0, err
        report = json.loads(stdout)
        assert report["calibration"]["image_range"] == name
        (inp,) = report["inputs"]
        assert abs((-128 - inp["zero_point"]) * inp["scale"] - lo) <= inp["scale"]  # black pixels
        scales[name] = inp["scale"] / (hi - lo)
    assert max(scales.values()) / min(scales.values()) < 1.02, scales


# ---------------------------------------------------------------------------- several inputs


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    """Inputs declared zeta (8x8x1) then alpha (4): not alphabetical, different shapes."""
    import keras

    keras.utils.set_random_seed(3)
    zeta = keras.Input((8, 8, 1), name="zeta")
    alpha = keras.Input((4,), name="alpha")
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(zeta))
    x = keras.layers.Dense(6)(x)
    y = keras.layers.Dense(6)(alpha)
    total = keras.layers.Add(name="total")([x, y])
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(total)
    model = keras.Model([zeta, alpha], [total, probs])
    d = tmp_path_factory.mktemp("two")
    model.save(d / "two.keras")
    model.export(d / "two_savedmodel", verbose=False)
    rng = np.random.default_rng(3)
    return d, rng.uniform(0, 1, (120, 8, 8, 1)).astype(np.float32), rng.standard_normal((120, 4)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_several_inputs_by_name(fmt, two_inputs, tmp_path, capfd):
    d, z, a = two_inputs
    data = tmp_path / "named.npz"
    np.savez(data, alpha=a, zeta=z)
    model = d / ("two.keras" if fmt == "keras" else "two_savedmodel")
    code, stdout, err = run_cli(["convert", model, "-o", tmp_path / "t.tflite", "--calib", data, "--json"], capfd)
    assert code == 0, err
    report = json.loads(stdout)
    assert sorted(i["name"] for i in report["inputs"]) == ["alpha", "zeta"]
    outs = {o["name"]: o for o in report["outputs"]}
    assert len(outs) == 2
    assert sum(o["classifier"] for o in outs.values()) == 1
    for o in outs.values():
        assert o["sqnr_db"] > 15, report
    assert_full_int8(tmp_path / "t.tflite")


def test_several_inputs_by_order(two_inputs, tmp_path, capfd):
    d, z, a = two_inputs
    in_order = tmp_path / "order.npz"
    np.savez(in_order, z, a)  # arr_0, arr_1: the model's input order
    code, _, err = run_cli(["convert", d / "two.keras", "-o", tmp_path / "t.tflite", "--calib", in_order], capfd)
    assert code == 0, err
    swapped = tmp_path / "swapped.npz"
    np.savez(swapped, a, z)
    code, _, err = run_cli(["convert", d / "two.keras", "-o", tmp_path / "u.tflite", "--calib", swapped], capfd)
    assert_one_line_error(code, err, "does not fit", "zeta")
    npy = tmp_path / "one.npy"
    np.save(npy, z)
    code, _, err = run_cli(["convert", d / "two.keras", "-o", tmp_path / "u.tflite", "--calib", npy], capfd)
    assert_one_line_error(code, err, "2 inputs")


# ---------------------------------------------------------------------------- the MLPerf Tiny Keras 2 files


@pytest.mark.parametrize("name", ["vww_96", "pretrainedResnet", "ad01"])
def test_mlperf_keras2_h5(name, mlperf_models, tmp_path, capfd):
    """Keras 2 .h5 sources (vww's DepthwiseConv2D carries a 'groups' Keras 3 refuses) convert,
    and the generated C for the result is bit-exact with tflite-micro."""
    from edgekit.target.host import validate_host

    out = tmp_path / f"{name}.tflite"
    code, stdout, err = run_cli(["convert", mlperf_models / f"{name}.h5", "-o", out, "--synthetic-calib",
                                 "--calib-samples", "32", "--json"], capfd)
    assert code == 0, err
    assert "accuracy is unknown" in err
    report = json.loads(stdout)
    assert report["source_format"] == "h5"
    for o in report["outputs"]:
        assert o["sqnr_db"] is not None and o["sqnr_db"] > 10, report
    assert_full_int8(out)
    result = validate_host(out, samples=3)
    assert result.passed, result.to_json()


def test_refuses_to_overwrite_the_calibration_data(digits, tmp_path, capfd):
    calib = tmp_path / "calib.npy"
    calib.write_bytes(Path(digits["npy"]).read_bytes())
    before = calib.read_bytes()
    code, _, err = run_cli(["convert", digits["keras"], "-o", calib, "--calib", calib], capfd)
    assert code == 2 and "would overwrite the calibration data" in err and len(err.strip().splitlines()) == 1
    assert calib.read_bytes() == before


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_sequential_converts(kind, tmp_path, monkeypatch):
    """A Keras Sequential starting with an LSTM or GRU, written as a new user would. Keras 3.15 says
    such a loaded model 'has never been called'; edgekit reads its inputs anyway. TensorFlow 2.21's
    converter dies by SIGSEGV on the layers' own loops; edgekit traces an LSTM as the fusable
    function the converter turns into one UNIDIRECTIONAL_SEQUENCE_LSTM and a GRU as an unrolled
    loop (``frontend/recurrent.py``), so both convert to full int8 and leave no temporary folder."""
    import keras

    model = keras.Sequential([keras.Input((12, 4)), getattr(keras.layers, kind)(8),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "rnn.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).random((30, 12, 4), dtype=np.float32))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    out = tmp_path / "rnn.tflite"
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", "convert", str(tmp_path / "rnn.keras"), "-o", str(out),
                           "--calib", str(tmp_path / "calib.npy")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    kinds = [op.type_name for op in assert_full_int8(out).ops]
    assert "WHILE" not in kinds
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds) == (kind == "LSTM"), kinds
    assert [p.name for p in scratch.iterdir() if p.name.startswith("edgekit-convert-")] == []


def test_converter_crash_is_one_line(tmp_path, monkeypatch):
    """An LSTM running backwards is left to Keras' own loop, on which TensorFlow 2.21's converter
    dies by SIGSEGV: edgekit, whose converter runs in a child process, reports that in one line
    and writes no output. (A later TensorFlow that converts it must give a valid int8 model.)"""
    import keras

    model = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(4, go_backwards=True), keras.layers.Dense(2)])
    model.save(tmp_path / "rnn.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).random((30, 6, 3), dtype=np.float32))
    out = tmp_path / "rnn.tflite"
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", "convert", str(tmp_path / "rnn.keras"), "-o", str(out),
                           "--calib", str(tmp_path / "calib.npy")], capture_output=True, text=True, timeout=900)
    if proc.returncode == 0:
        assert_full_int8(out)
    else:
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == ExitCode.ERROR and len([ln for ln in lines if "edgekit: error" in ln]) == 1
        assert lines[-1].startswith("edgekit: error: ") and "Traceback" not in proc.stderr, proc.stderr
        assert "converter crashed (killed by SIGSEGV)" in lines[-1] or "converter failed" in lines[-1], lines[-1]
        assert not out.exists()


def test_isolated_call_survives_a_real_crash():
    """The mechanism under the converter: a segmentation fault in the child is ChildDied naming
    SIGSEGV; the next call gets a new child; an exception comes back as its type and message."""
    import ctypes
    import math
    import os

    from edgekit.children import ChildDied, ChildFailed, run_isolated

    first = run_isolated(os.getpid)
    assert run_isolated(os.getpid) == first and first != os.getpid()  # one child, kept
    with pytest.raises(ChildDied, match="killed by SIGSEGV"):
        run_isolated(ctypes.string_at, 0)
    assert run_isolated(os.getpid) != first
    with pytest.raises(ChildFailed, match="ValueError: math domain error"):
        run_isolated(math.sqrt, -1)


def test_float_elu_becomes_int8(tmp_path, capfd):
    """TensorFlow's converter leaves ELU in float32 between a DEQUANTIZE and a QUANTIZE; convert
    makes it one int8 ELU with those quantizations, which runs bit-exact with tflite-micro."""
    import keras

    from edgekit.ir import read_tflite

    inp = keras.Input((6, 4))
    h = keras.layers.ELU()(keras.layers.Dense(8)(inp))
    keras.Model(inp, keras.layers.Dense(3)(keras.layers.Activation("elu")(keras.layers.Dense(5)(h)))).save(
        tmp_path / "m.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((40, 6, 4)).astype(np.float32))
    out = tmp_path / "m.tflite"
    capfd.readouterr()
    code, _, err = run_cli(["convert", tmp_path / "m.keras", "-o", out, "--calib", tmp_path / "calib.npy"], capfd)
    assert code == 0, err
    assert "ELU: TensorFlow's converter left 2 in float32" in err
    kinds = [op.type_name for op in read_tflite(out).ops]
    assert kinds.count("ELU") == 2 and "DEQUANTIZE" not in kinds and "QUANTIZE" not in kinds
    code, text, err = run_cli(["validate", out, "--target", "host", "--samples", "5"], capfd)
    assert code == 0 and "tflite-micro" in text, text + err


def test_float_neg_becomes_int8_mul(tmp_path, capfd):
    """LayerNormalization: the converter leaves its NEG (of the mean) in float32 between a
    DEQUANTIZE and a QUANTIZE; convert makes it an int8 MUL by -1, and the model validates
    bit-exact with tflite-micro."""
    import keras

    from edgekit.ir import read_tflite

    inp = keras.Input((6, 4))
    keras.Model(inp, keras.layers.LayerNormalization(name="ln")(keras.layers.Dense(4)(inp))).save(tmp_path / "m.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((30, 6, 4)).astype(np.float32))
    out = tmp_path / "m.tflite"
    capfd.readouterr()
    code, _, err = run_cli(["convert", tmp_path / "m.keras", "-o", out, "--calib", tmp_path / "calib.npy"], capfd)
    assert code == 0, err
    assert "NEG: TensorFlow's converter left 1 in float32" in err and "made an int8 MUL" in err
    kinds = [op.type_name for op in read_tflite(out).ops]
    assert "NEG" not in kinds and "DEQUANTIZE" not in kinds and "QUANTIZE" not in kinds
    code, text, err = run_cli(["validate", out, "--target", "host", "--samples", "5"], capfd)
    assert code == 0 and "tflite-micro" in text, text + err


@pytest.mark.parametrize("layer,words", [
    ("Conv3D", ["CONV_3D", "Keras layer 'c3' (Conv3D)", "in float32"]),
])
def test_float_operator_named(layer, words, tmp_path, capfd):
    """TensorFlow's converter leaves Conv3D's CONV_3D (no int8 kernel in TFLite) in float32
    between a DEQUANTIZE and a QUANTIZE: the refusal names that operator, not the DEQUANTIZE
    before it."""
    import keras

    inp = keras.Input((4, 4, 4, 2))
    lay = keras.layers.Conv3D(3, 2, name="c3")
    keras.Model(inp, keras.layers.Dense(2)(lay(keras.layers.Dense(2)(inp)))).save(tmp_path / "m.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((30, 4, 4, 4, 2)).astype(np.float32))
    out = tmp_path / "m.tflite"
    capfd.readouterr()  # TensorFlow's noise on import
    code, _, err = run_cli(["convert", tmp_path / "m.keras", "-o", out, "--calib", tmp_path / "calib.npy"], capfd)
    lines = err.strip().splitlines()  # progress lines, then the error
    assert code == 2 and lines[-1].startswith("edgekit: error:") and "Traceback" not in err, err
    assert [ln for ln in lines if "error" in ln] == lines[-1:], err
    for w in words:
        assert w in lines[-1], (w, lines[-1])
    assert "DEQUANTIZE)" not in err and not out.exists()


def test_operator_edgekit_lacks_is_a_warning_naming_its_scope(tmp_path, capfd):
    """A SavedModel whose REVERSE_V2 (int8 in TFLite, no kernel in edgekit) sits in a name scope:
    convert writes the model (other runtimes run it) and warns once per kind with the count, the
    operator index and the scope it came from; inspect then exits 3."""
    import tensorflow as tf

    class Mirror(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal((4, 6), seed=(1, 2)))
            self.v = tf.Variable(tf.random.stateless_normal((6, 3), seed=(3, 4)))

        @tf.function(input_signature=[tf.TensorSpec((1, 5, 4), tf.float32)])
        def __call__(self, x):
            with tf.name_scope("model"):
                with tf.name_scope("mirror"):
                    h = tf.reverse(tf.matmul(x, self.w), axis=[1])
                return tf.matmul(h, self.v)

    m = Mirror()
    tf.saved_model.save(m, str(tmp_path / "sm"), signatures=m.__call__)
    out = tmp_path / "m.tflite"
    capfd.readouterr()
    code, text, err = run_cli(["convert", tmp_path / "sm", "-o", out, "--synthetic-calib"], capfd)
    assert code == 0 and out.exists(), err
    index = next(op.index for op in read_tflite(out).ops if op.type_name == "REVERSE_V2")
    warning = (f"warning: 1 operator(s) edgekit cannot run: REVERSE_V2 x1 (op {index}, from mirror): "
               "`edgekit generate` refuses this model")
    assert warning in text and warning in err, (text, err)
    code, _, err = run_cli(["inspect", out], capfd)
    assert code == 3 and f"REVERSE_V2 x1 (op {index}, from mirror)" in err, err


def test_converter_failure_reason_is_not_the_gpu_probe():
    """A converter failure whose message is not a diagnostic: the reason given is the exception's
    own first line, not the "failed call to cuInit" line TensorFlow logs on every machine without
    a GPU (which also says "error: ")."""
    from edgekit.frontend.tf_quiet import one_line

    noise = ("E0000 00:00:1796336150.379368 16093 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
             "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
    exc = RuntimeError("Quantization to 16x8-bit not yet supported for op: 'UNIDIRECTIONAL_SEQUENCE_LSTM'.")
    assert one_line(exc, lambda: noise) == str(exc)
    mlir = noise + "loc(\"model/x\"): error: 'tfl.cumsum' op operand #0 must be tensor of 32-bit float\n"
    assert one_line(RuntimeError("ConverterError"), lambda: mlir) == "'tfl.cumsum' op operand #0 must be tensor of 32-bit float"

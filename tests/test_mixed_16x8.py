"""Mixed int8 / 16x8 models (``edgekit.frontend.mixed``, ``edgekit convert --int16-layers N``):
operators of an int8 model taken from the 16x8 conversion of the same Keras model, with QUANTIZE
operators where int8 and int16 tensors meet. Every spliced model is compared with tflite-micro bit
for bit (host, ASan/UBSan; one on the emulated Cortex-M4, DSP kernels beside int16 ones); the
choice is checked on a model built so that one layer's int8 output is the bottleneck."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from opmodels import _calib, _randomize_weights, assert_bit_exact
from test_convert import assert_one_line_error, run_cli

from edgekit.frontend.mixed import KINDS, candidates, splice_16x8
from edgekit.frontend.quantize import int8_tflite
from edgekit.ir import DType, parse_tflite

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")

SHAPE = (12, 12, 3)


def _residual_keras(logits: bool = True):
    """A conv, a depthwise + pointwise branch added back to it, a pool and a classifier (linear
    logits: the FULLY_CONNECTED writes the model's output)."""
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input(SHAPE, batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    y = keras.layers.Conv2D(8, 1)(y)
    x = keras.layers.Add()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, activation=None if logits else "softmax")(x)
    model = keras.Model(inp, x)
    _randomize_weights(model, 3)
    return model


@pytest.fixture(scope="module")
def residual():
    from edgekit.frontend.quantize import float_tflite

    model = _residual_keras()
    cal = _calib([SHAPE], 3)
    return int8_tflite(model, cal), int8_tflite(model, cal, activations="int16"), float_tflite(model)


def _dtypes(model: bytes):
    g = parse_tflite(model, name="m")
    return g, [(op.type_name, g.tensors[op.outputs[0]].dtype) for op in g.ops]


#: which candidates (by their place in the model: conv, depthwise, pointwise, add, dense) run 16x8
CHOICES = {
    "first conv": [0],
    "the branch": [1, 2],
    "the add alone": [3],
    "the output layer": [4],
    "all": [0, 1, 2, 3, 4],
}


@pytest.mark.parametrize("choice", list(CHOICES))
def test_spliced_model_equals_tflite_micro(choice, residual, runtime_lib, tmp_path):
    q8, q16, _ = residual
    cands = candidates(q8, q16)
    assert [k for _, k, _ in cands] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "ADD", "FULLY_CONNECTED"]
    chosen = {cands[i][2] for i in CHOICES[choice]}
    mixed = splice_16x8(q8, q16, chosen)
    g, kinds = _dtypes(mixed)
    # the chosen operators write int16, every other computing operator int8; the model's edges stay int8
    for op in g.ops:
        out = g.tensors[op.outputs[0]]
        if op.type_name == "QUANTIZE":
            src = g.tensors[op.inputs[0]]
            assert {src.dtype, out.dtype} == {DType.INT8, DType.INT16}, (src.dtype, out.dtype)
        else:
            base = out.name.removesuffix("/int16")
            assert (out.dtype == DType.INT16) == (base in chosen), (op.type_name, out.name, out.dtype)
    assert all(g.tensors[t].dtype == DType.INT8 for t in (*g.inputs, *g.outputs))
    # each operator reads its own kind of activations; no requantization feeds another
    producer = {t: op for op in g.ops for t in op.outputs}
    for op in g.ops:
        acts = [g.tensors[t] for t in op.inputs if t >= 0 and not g.tensors[t].is_constant]
        if op.type_name == "QUANTIZE":
            assert op.inputs[0] not in producer or producer[op.inputs[0]].type_name != "QUANTIZE", op.index
            continue
        wide = g.tensors[op.outputs[0]].dtype == DType.INT16
        assert all(t.dtype == (DType.INT16 if wide else DType.INT8) for t in acts), (op.type_name, acts)
    assert_bit_exact(mixed, runtime_lib, tmp_path, samples=4, seed=1)


def test_a_run_of_chosen_operators_stays_int16(residual):
    """Conv, branch and add all 16x8: one QUANTIZE into the run (the model's input) and one out
    of it (into the pool), nothing between."""
    q8, q16, _ = residual
    cands = candidates(q8, q16)
    g, kinds = _dtypes(splice_16x8(q8, q16, {cands[i][2] for i in (0, 1, 2, 3)}))
    names = [k for k, _ in kinds]
    assert names[:7] == ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "ADD", "QUANTIZE", "MEAN"], names
    assert [d for _, d in kinds[:6]] == [DType.INT16] * 5 + [DType.INT8]


def test_nothing_chosen_is_the_int8_model(residual):
    q8, q16, _ = residual
    assert splice_16x8(q8, q16, set()) == q8


def test_an_operator_that_cannot_run_16x8_is_refused(residual):
    q8, q16, _ = residual
    g = parse_tflite(q8, name="m")
    mean = next(op for op in g.ops if op.type_name == "MEAN")
    with pytest.raises(ValueError, match="cannot run 16x8|not an operator that can run 16x8"):
        splice_16x8(q8, q16, {g.tensors[mean.outputs[0]].name})
    assert "MEAN" not in KINDS


@needs_qemu
def test_spliced_model_on_the_emulated_m4(residual, tmp_path):
    """int8 operators on the DSP kernels, the chosen ones on the int16 kernels, the QUANTIZE
    operators between them: every output equal to tflite-micro's."""
    from edgekit.harness.deploy import deploy

    q8, q16, _ = residual
    cands = candidates(q8, q16)
    path = tmp_path / "mixed.tflite"
    path.write_bytes(splice_16x8(q8, q16, {cands[i][2] for i in (1, 2, 4)}))
    rep = deploy(path, "qemu-mps2-an386", samples=3, seed=2, out_dir=tmp_path / "build").profile
    assert rep is not None and rep.passed and rep.equal_count == len(rep.samples) == 3, rep.summary()


# ---------------------------------------------------------------------------- the choice, end to end


def _bottleneck_keras(path):
    """Dense A (8 units) whose first unit is 200 times the others, then Dense B reading only the
    seven small units: in int8, A's output scale is set by the big unit and the small ones keep a
    few levels, which B amplifies. int16 activations on A fix that; on B they cannot (its input
    has already lost the levels)."""
    import keras

    rng = np.random.default_rng(7)
    inp = keras.Input((16,), batch_size=1)
    a = keras.layers.Dense(8, name="wide_range")(inp)
    b = keras.layers.Dense(4, name="reader")(a)
    model = keras.Model(inp, b)
    wa = rng.standard_normal((16, 8)).astype(np.float32) * 0.2
    wa[:, 0] *= 200.0
    wb = rng.standard_normal((8, 4)).astype(np.float32)
    wb[0, :] = 0.0
    model.get_layer("wide_range").set_weights([wa, np.zeros(8, np.float32)])
    model.get_layer("reader").set_weights([wb, np.zeros(4, np.float32)])
    model.save(path)


def test_convert_chooses_the_bottleneck_and_gains(tmp_path, capfd):
    import json

    keras_path = tmp_path / "bottleneck.keras"
    _bottleneck_keras(keras_path)
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(8).standard_normal((120, 16)).astype(np.float32))
    plain, mixed = tmp_path / "plain.tflite", tmp_path / "mixed.tflite"
    code, out, err = run_cli(["convert", keras_path, "-o", plain, "--calib", data, "--json"], capfd)
    assert code == 0, err
    before = json.loads(out)
    code, out, err = run_cli(["convert", keras_path, "-o", mixed, "--calib", data, "--int16-layers", "2",
                              "--json"], capfd)
    assert code == 0, err
    after = json.loads(out)
    steps = after["int16_layers"]
    # A's output is the tensor to widen: A and its reader B both run 16x8, in one step
    assert len(steps) == 1 and steps[0]["operators"] == [0, 1], steps
    assert steps[0]["kinds"] == ["FULLY_CONNECTED", "FULLY_CONNECTED"] and "wide_range" in steps[0]["layers"][0]
    assert steps[0]["gain_db"] > 10.0, steps
    # measured on the held-out samples (not those that chose): the mixed model is nearer the float one
    assert after["outputs"][0]["sqnr_db"] > before["outputs"][0]["sqnr_db"] + 10.0, (before["outputs"],
                                                                                      after["outputs"])
    g = parse_tflite(mixed.read_bytes(), name="m")
    assert [op.type_name for op in g.ops] == ["QUANTIZE", "FULLY_CONNECTED", "FULLY_CONNECTED", "QUANTIZE"]
    assert [g.tensors[op.outputs[0]].dtype for op in g.ops] == [DType.INT16] * 3 + [DType.INT8]
    # one operator allowed: widening A's output takes two, so nothing is made 16x8 (and it says so)
    code, out, err = run_cli(["convert", keras_path, "-o", tmp_path / "one.tflite", "--calib", data,
                              "--int16-layers", "1", "--json"], capfd)
    assert code == 0, err
    assert json.loads(out)["int16_layers"] == [] and "no further int16 activation gained" in err, err
    assert [op.type_name for op in parse_tflite((tmp_path / "one.tflite").read_bytes(), name="m").ops] == \
        ["FULLY_CONNECTED", "FULLY_CONNECTED"]


def test_greedy_steps_gain_and_keep_the_budget(tmp_path):
    """Every step raises the measured SQNR, the chosen operators stay within the budget, and
    widening a tensor takes its producer and all its readers."""
    import keras

    from edgekit.frontend.agreement import Runner
    from edgekit.frontend.mixed import choose_16x8, chosen_names, wideable
    from edgekit.frontend.quantize import float_tflite

    _bottleneck_keras(tmp_path / "b.keras")
    model = keras.models.load_model(tmp_path / "b.keras")
    rng = np.random.default_rng(4)
    cal = [[rng.standard_normal((1, 16)).astype(np.float32)] for _ in range(32)]
    q8, q16, fbuf = int8_tflite(model, cal), int8_tflite(model, cal, activations="int16"), float_tflite(model)
    name = next(iter(Runner(q8).inputs))
    samples = [{name: x[0]} for x in cal[:16]]
    assert [ops for _, ops in wideable(q8, q16).values()] == [(0, 1)]  # A's output: A and B
    for budget, want in ((1, []), (2, [(0, 1)]), (4, [(0, 1)])):
        base, steps = choose_16x8(q8, q16, fbuf, samples, budget)
        assert [s.ops for s in steps] == want, (budget, steps)
        prev = base
        for s in steps:
            assert s.gain_db > 0 and abs(s.sqnr_db - prev - s.gain_db) < 1e-9
            prev = s.sqnr_db
        assert len(chosen_names(q8, q16, steps)) == sum(len(s.ops) for s in steps)


def test_nothing_chosen_where_int16_gains_nothing(residual):
    """The residual model's error is its int8 logits': widening any of its inner tensors lowers
    the SQNR a little (measured), so the search takes none."""
    from edgekit.frontend.agreement import Runner
    from edgekit.frontend.mixed import choose_16x8, wideable

    q8, q16, fbuf = residual
    assert len(wideable(q8, q16)) == 3  # conv -> (depthwise, add), depthwise -> pointwise, pointwise -> add
    name = next(iter(Runner(q8).inputs))
    rng = np.random.default_rng(4)
    samples = [{name: rng.standard_normal((1, *SHAPE)).astype(np.float32)} for _ in range(16)]
    _, steps = choose_16x8(q8, q16, fbuf, samples, 5)
    assert steps == []


@pytest.mark.parametrize("args,words", [
    (["--int16-layers", "2", "--mode", "int16x8"], ["--int16-layers", "--mode int8"]),
    (["--int16-layers", "-1"], ["--int16-layers", "0 or more"]),
])
def test_int16_layers_refused_in_one_line(args, words, tmp_path, capfd):
    keras_path = tmp_path / "bottleneck.keras"
    _bottleneck_keras(keras_path)
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((8, 16), np.float32))
    out = tmp_path / "out.tflite"
    out.write_bytes(b"kept")
    code, _, err = run_cli(["convert", keras_path, "-o", out, "--calib", data, *args], capfd)
    assert_one_line_error(code, err, *words)
    assert out.read_bytes() == b"kept"


def test_models_without_a_signature_are_measured_too(tmp_path):
    """A converted tf.function has no signature: the samples' arrays are its inputs by position
    (benchmarks/compression.py converts that way); the choice is the same as with one."""
    import keras
    import tensorflow as tf

    from edgekit.frontend.mixed import choose_16x8
    from edgekit.frontend.quantize import float_tflite

    _bottleneck_keras(tmp_path / "b.keras")
    model = keras.models.load_model(tmp_path / "b.keras")
    fn = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec((1, 16), tf.float32)])
    rng = np.random.default_rng(4)
    cal = [[rng.standard_normal((1, 16)).astype(np.float32)] for _ in range(32)]
    q8, q16, fbuf = int8_tflite(fn, cal), int8_tflite(fn, cal, activations="int16"), float_tflite(fn)
    _, steps = choose_16x8(q8, q16, fbuf, [{"x": x[0]} for x in cal[:16]], 2)
    assert [s.ops for s in steps] == [(0, 1)] and steps[0].gain_db > 10.0, steps


def test_a_model_with_nothing_to_widen_is_refused_in_one_line(tmp_path, capfd):
    """One Dense layer: its only activations are the model's input and output, which stay int8."""
    import keras

    inp = keras.Input((16,), batch_size=1)
    keras.Model(inp, keras.layers.Dense(4)(inp)).save(tmp_path / "one.keras")
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(1).standard_normal((40, 16)).astype(np.float32))
    out = tmp_path / "out.tflite"
    code, _, err = run_cli(["convert", tmp_path / "one.keras", "-o", out, "--calib", data, "--int16-layers", "1"],
                           capfd)
    # the progress lines of the conversion come first; the refusal is one line, the last
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert code == 2 and "Traceback" not in err, err
    assert lines[-1].startswith("edgekit: error:") and "no int8 activation can become int16" in lines[-1], err
    assert sum(ln.startswith("edgekit: error:") for ln in lines) == 1
    assert not out.exists()

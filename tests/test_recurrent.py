"""Keras LSTM and GRU layers through ``edgekit convert`` (no unrolling by the user), bit-exact
with tflite-micro over several consecutive invokes (the LSTM's state carried from one to the
next), after ``P_reset_state``, and with the state tensors planned where nothing else goes.

Each model is a seeded Keras model saved as ``.keras`` and converted at test time by the same
``convert_model`` the CLI runs: LSTM layers become UNIDIRECTIONAL_SEQUENCE_LSTM operators, GRU
layers an unrolled loop of operators edgekit runs. The LSTM runs in int8 and, converted with
``mode="int16x8"``, with 16x8 activations (int16 input, output and output state, int8 weights,
int64 gate biases: what TFLM's ``EvalLstm<int16_t, int8_t, int16_t, int64_t>`` reads).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from opmodels import _randomize_weights, assert_bit_exact

from edgekit.ir import parse_tflite

SAMPLES = 6  # consecutive invokes: the state goes from each to the next

# a driver that resets the model's state before sample RESET_AT (argv[1]); otherwise as
# host_main.c: raw inputs on stdin, raw outputs on stdout
RESET_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static int8_t input[MODEL_INPUT_SIZE];
static int8_t output[MODEL_OUTPUT_SIZE];

int main(int argc, char **argv)
{
    const int reset_at = argc > 1 ? atoi(argv[1]) : -1;
    for (int k = 0; fread(input, 1, sizeof input, stdin) == sizeof input; k++) {
        if (k == reset_at) {
            model_reset_state();
        }
        if (model_invoke(input, output) != MODEL_OK || fwrite(output, 1, sizeof output, stdout) != sizeof output) {
            return 1;
        }
    }
    return 0;
}
"""


def convert_keras(build, input_shape, seed, folder, mode="int8") -> bytes:
    """``build(keras_input) -> output``, saved as .keras and converted by ``edgekit convert``'s
    ``convert_model`` (``mode``: int8 or int16x8) on seeded calibration data."""
    import keras

    from edgekit.frontend.convert import convert_model

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=input_shape)
    model = keras.Model(inp, build(inp))
    _randomize_weights(model, seed)
    model.save(folder / "model.keras")
    data = np.random.default_rng(seed).standard_normal((40, *input_shape)).astype(np.float32)
    np.save(folder / "calib.npy", data)
    convert_model(folder / "model.keras", folder / "model.tflite", calib=folder / "calib.npy", mode=mode)
    return (folder / "model.tflite").read_bytes()


def ops_of(model: bytes) -> list[str]:
    return [op.type_name for op in parse_tflite(model).ops]


LSTM_CASES = [
    # (units, time steps, features, return_sequences)
    (4, 5, 3, True),
    (7, 3, 2, False),
    (12, 8, 6, True),
]


@pytest.mark.parametrize("units,steps,features,sequences", LSTM_CASES)
def test_lstm(units, steps, features, sequences, runtime_lib, tmp_path):
    import keras

    model = convert_keras(lambda x: keras.layers.LSTM(units, return_sequences=sequences)(x),
                          (steps, features), seed=units, folder=tmp_path)
    ops = ops_of(model)
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1 and "WHILE" not in ops, ops
    assert_bit_exact(model, runtime_lib, tmp_path, samples=SAMPLES, seed=units)


@functools.cache
def stacked_lstm() -> bytes:
    """Two LSTM layers, the first returning its sequence, and a Dense head (converted once per
    process: test_new_operators_m4 counts the operators of the models run on the M4)."""
    import keras

    def build(x):
        x = keras.layers.LSTM(6, return_sequences=True)(x)
        x = keras.layers.LSTM(5)(x)
        return keras.layers.Dense(3)(x)

    with tempfile.TemporaryDirectory(prefix="edgekit-stacked-") as folder:
        return convert_keras(build, (7, 4), seed=3, folder=Path(folder))


def m4_svdf() -> bytes:
    """The SVDF model test_state_on_emulated_cortex_m4 deploys (hand-built, no conversion)."""
    from test_kernels_svdf import svdf_model

    return svdf_model(1, 12, 5, 2, 6, seed=4, state_zero_point=3)


@pytest.fixture(scope="module")
def stacked() -> bytes:
    return stacked_lstm()


def test_stacked_lstm(stacked, runtime_lib, tmp_path):
    assert ops_of(stacked).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2
    assert_bit_exact(stacked, runtime_lib, tmp_path, samples=SAMPLES, seed=5)


def test_reset_state(stacked, runtime_lib, tmp_path):
    """``model_reset_state()`` before sample 3 gives what tflite-micro gives after ``reset()``
    there; without it the state runs on (the outputs differ), so the reset did something."""
    check_reset(stacked, runtime_lib, tmp_path)


def check_reset(model: bytes, runtime_lib, tmp_path):
    from edgekit.codegen import generate
    from edgekit.frontend import reference
    from edgekit.target import toolchain
    from edgekit.target.host import random_inputs

    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model")
    out_type = graph.tensors[graph.outputs[0]].dtype
    assert out_type == graph.tensors[graph.inputs[0]].dtype
    driver = tmp_path / "driver.c"
    driver.write_text(RESET_DRIVER.replace("int8_t", out_type.c_type))
    exe = toolchain.compile_host([*sorted(gen.out_dir.glob("*.c")), driver, runtime_lib], gen.include_dirs,
                                 tmp_path / "driver", opt="-O1", sanitize=True)
    data = random_inputs(graph, SAMPLES, seed=9)
    stdin = b"".join(s[0].tobytes() for s in data)
    n = gen.outputs[0].nbytes

    def ours(reset_at: int) -> list[np.ndarray]:
        out = subprocess.run([str(exe), str(reset_at)], input=stdin, capture_output=True, timeout=120, check=True).stdout
        return [np.frombuffer(out[k * n:(k + 1) * n], out_type.numpy) for k in range(SAMPLES)]

    reset = ours(3)
    want = reference.run_tflm(model, data, reset_before=(3,))
    for k, (a, b) in enumerate(zip(reset, want)):
        np.testing.assert_array_equal(a, b[0].reshape(-1), err_msg=f"sample {k}")
    # reset before sample 3 restarts the sequence: sample 3 then gives what it gives first
    first = reference.run_tflm(model, data[3:4])
    np.testing.assert_array_equal(reset[3], first[0][0].reshape(-1))
    carried = ours(-1)
    assert any(not np.array_equal(a, b) for a, b in zip(carried[3:], reset[3:]))


def test_state_planned_apart(stacked, tmp_path):
    """The plan keeps each variable tensor alive over the whole invoke, and no other buffer
    shares a byte with it (checked by hand here, not by the planner's own verify)."""
    from edgekit.codegen import generate

    graph = parse_tflite(stacked, name="case")
    gen = generate(graph, tmp_path / "model")
    plan, g = gen.plan, gen.graph
    state = [t.index for t in g.tensors if t.variable]
    assert len(state) == 4  # output and cell state of two LSTMs
    spans = [(off, off + b.size, b) for b, off in zip(plan.buffers, plan.offsets)]
    for t in state:
        lo, hi, buf = next(s for s in spans if t in s[2].tensors)
        assert buf.tensors == (t,) and buf.first == 0 and buf.last == len(g.ops)
        assert hi - lo >= g.tensors[t].nbytes
        for lo2, hi2, other in spans:
            if other is not buf:
                assert hi2 <= lo or hi <= lo2, f"tensor {t} [{lo}, {hi}) overlaps {other.name} [{lo2}, {hi2})"
    c = (gen.out_dir / "model.c").read_text()
    assert "void model_reset_state(void)" in c


# ---------------------------------------------------------------------------- 16x8 LSTM

LSTM16_CASES = [
    # (units, time steps, features, return_sequences)
    (4, 5, 3, True),
    (9, 4, 2, False),
    (16, 8, 6, True),
    (6, 7, 5, False),
]


def check_16x8(model: bytes) -> None:
    """Every LSTM of ``model`` is the 16x8 one TFLM runs: int16 input, output and output state,
    int8 weights, int64 gate biases, int16 cell state."""
    from edgekit.ir import DType

    g = parse_tflite(model)
    lstms = [op for op in g.ops if op.type_name == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert lstms
    for op in lstms:
        ins = g.op_inputs(op)
        assert ins[0].dtype == g.op_outputs(op)[0].dtype == ins[18].dtype == ins[19].dtype == DType.INT16
        assert all(ins[k].dtype == DType.INT8 for k in range(1, 9))
        assert all(ins[k].dtype == DType.INT64 for k in range(12, 16))


@pytest.mark.parametrize("units,steps,features,sequences", LSTM16_CASES)
def test_lstm_16x8(units, steps, features, sequences, runtime_lib, tmp_path):
    import keras

    model = convert_keras(lambda x: keras.layers.LSTM(units, return_sequences=sequences)(x),
                          (steps, features), seed=units, folder=tmp_path, mode="int16x8")
    assert ops_of(model).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    check_16x8(model)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=SAMPLES, seed=units)


@pytest.fixture(scope="module")
def stacked16(tmp_path_factory) -> bytes:
    """Two 16x8 LSTM layers, the first returning its sequence, and a Dense head."""
    import keras

    def build(x):
        x = keras.layers.LSTM(8, return_sequences=True)(x)
        x = keras.layers.LSTM(6)(x)
        return keras.layers.Dense(3)(x)

    return convert_keras(build, (6, 4), seed=7, folder=tmp_path_factory.mktemp("stacked16"), mode="int16x8")


def test_stacked_lstm_16x8(stacked16, runtime_lib, tmp_path):
    assert ops_of(stacked16).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2
    check_16x8(stacked16)
    assert_bit_exact(stacked16, runtime_lib, tmp_path, samples=SAMPLES, seed=6)


def test_reset_state_16x8(stacked16, runtime_lib, tmp_path):
    """As test_reset_state, for the 16x8 LSTMs (their int16 output state is reset to 0 whatever
    its zero point, as TFLM resets every variable tensor that is not int8)."""
    check_reset(stacked16, runtime_lib, tmp_path)


def test_16x8_lstm_with_int32_biases_refused(stacked16, tmp_path):
    """An int16 LSTM whose gate biases are int32 (what the MLIR quantizer writes, before
    ``lstm_int64_biases``) is refused in one line: TFLM would read them as int64, past their end."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(stacked16, 0))
    g = m.subgraphs[0]
    narrowed = 0
    for op in g.operators:
        for k in op.inputs[12:16]:
            t = g.tensors[k]
            if t.type == schema.TensorType.INT64:
                data = np.frombuffer(bytes(m.buffers[t.buffer].data), "<i8").astype("<i4")
                m.buffers[t.buffer].data = data.view(np.uint8)
                t.type = schema.TensorType.INT32
                narrowed += 1
    assert narrowed == 8
    b = flatbuffers.Builder(len(stacked16))
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with pytest.raises(UnsupportedModelError, match="int64") as err:
        generate(parse_tflite(bytes(b.Output()), name="case"), tmp_path / "model")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru(reset_after, runtime_lib, tmp_path):
    """GRU has no fused TFLite operator: its loop is unrolled into operators edgekit runs."""
    import keras

    model = convert_keras(lambda x: keras.layers.GRU(5, reset_after=reset_after)(x), (4, 3),
                          seed=11, folder=tmp_path)
    ops = ops_of(model)
    assert "WHILE" not in ops and "FULLY_CONNECTED" in ops, ops
    assert not any(t.variable for t in parse_tflite(model).tensors)  # stateless: each invoke starts at zero
    assert_bit_exact(model, runtime_lib, tmp_path, samples=3, seed=2)


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")
@pytest.mark.parametrize("which", ["stacked_lstm", "stacked_lstm_16x8", "svdf"])
def test_state_on_emulated_cortex_m4(which, request, tmp_path):
    """On the emulated Cortex-M4 (firmware build, QEMU, the serial harness) the outputs of
    consecutive inferences, state carried, equal tflite-micro's."""
    from edgekit.harness.deploy import deploy

    path = tmp_path / f"{which}.tflite"
    path.write_bytes(m4_svdf() if which == "svdf"
                     else request.getfixturevalue({"stacked_lstm": "stacked", "stacked_lstm_16x8": "stacked16"}[which]))
    rep = deploy(path, "qemu-mps2-an386", samples=SAMPLES, seed=4, out_dir=tmp_path / "build").profile
    assert rep is not None and rep.reference == "tflite-micro" and rep.passed, rep.summary() if rep else "no profile"
    assert rep.equal_count == len(rep.samples) == SAMPLES

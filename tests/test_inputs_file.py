"""``--inputs`` files: .npy for one input, .npz with one array per input (by tensor name, by
``input0``.., or by position) for any model; float data quantized as TFLite's QUANTIZE does."""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import keras_graph

from edgekit.cli import main
from edgekit.errors import CalibrationDataError
from edgekit.ir import parse_tflite
from edgekit.target.host import load_inputs


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    import keras

    def build(a, b):
        return keras.layers.Concatenate()([keras.layers.Dense(6)(a), keras.layers.Dense(3)(b)])

    path = tmp_path_factory.mktemp("two") / "two.tflite"
    path.write_bytes(keras_graph(build, [(4, 8), (4, 8)], seed=3))  # equal shapes: the converter may reorder inputs
    return path


def test_npz_by_name_index_or_position(two_inputs, tmp_path):
    graph = parse_tflite(two_inputs.read_bytes())
    a, b = (graph.tensors[i] for i in graph.inputs)
    rng = np.random.default_rng(0)
    xa = rng.integers(-128, 128, (3, *a.shape), dtype=np.int8)
    xb = rng.integers(-128, 128, (3, *b.shape), dtype=np.int8)
    for keys in ((a.name, b.name), ("input0", "input1"), ("arr_0", "arr_1")):
        np.savez(tmp_path / "x.npz", **{keys[0]: xa, keys[1]: xb})
        samples = load_inputs(graph, tmp_path / "x.npz")
        assert len(samples) == 3
        for k, (sa, sb) in enumerate(samples):
            np.testing.assert_array_equal(sa, xa[k])
            np.testing.assert_array_equal(sb, xb[k])
    np.save(tmp_path / "x.npy", xa)
    with pytest.raises(CalibrationDataError, match="the model has 2 inputs .*give a .npz"):
        load_inputs(graph, tmp_path / "x.npy")
    np.savez(tmp_path / "y.npz", input0=xa, input1=xb[:2])
    with pytest.raises(CalibrationDataError, match="different numbers of samples"):
        load_inputs(graph, tmp_path / "y.npz")
    np.savez(tmp_path / "z.npz", input0=xa)
    with pytest.raises(CalibrationDataError, match="no array for input 1"):
        load_inputs(graph, tmp_path / "z.npz")


def test_validate_takes_a_multi_input_npz(two_inputs, tmp_path, capsys):
    graph = parse_tflite(two_inputs.read_bytes())
    a, b = (graph.tensors[i] for i in graph.inputs)
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "x.npz", input0=rng.normal(0, 1, (4, *a.shape)).astype(np.float32),
             input1=rng.normal(0, 1, (4, *b.shape)).astype(np.float32))
    assert main(["validate", str(two_inputs), "--inputs", str(tmp_path / "x.npz"), "--samples", "1"]) == 0
    out = capsys.readouterr().out
    assert "two: 5 inputs" in out and "PASS: bit-exact with tflite-micro" in out


def test_float_inputs_round_half_away_from_zero(two_inputs, tmp_path):
    """As TFLite's QUANTIZE and the generated P_quantize_input: ties go away from zero (numpy's
    round would take them to even)."""
    graph = parse_tflite(two_inputs.read_bytes())
    t = graph.tensors[graph.inputs[0]]
    scale = np.float32(t.scale)
    ties = (np.arange(t.num_elements) % 9 - 4 + 0.5).astype(np.float64)
    x = (ties * np.float64(scale)).astype(np.float32)
    v = (x / scale).astype(np.float64)
    assert np.array_equal(v, ties), "the test's values must be exact ties"
    np.savez(tmp_path / "x.npz", input0=x.reshape(t.shape), input1=np.zeros(graph.tensors[graph.inputs[1]].shape,
                                                                             np.float32))
    q = load_inputs(graph, tmp_path / "x.npz")[0][0].reshape(-1).astype(np.int64)
    want = np.clip(np.sign(ties) * np.floor(np.abs(ties) + 0.5) + t.zero_point, -128, 127)
    np.testing.assert_array_equal(q, want)

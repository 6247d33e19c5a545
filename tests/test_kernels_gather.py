"""GATHER, bit-exact with tflite-micro: constant indices along every axis (negative ones too)
with repeats, reversals, a scalar index and 2-D index tensors; indices given at run time; int64
constant indices, which tflite-micro refuses, against LiteRT; a Keras model picking rows."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.frontend import reference
from opmodels import CALIB_SAMPLES, assert_bit_exact, fn_op

GATHER_CASES = [
    # (input shape without batch, indices, axis)
    ((4, 5, 3), [3, 0, 0, 2], 2),
    ((4, 5, 3), [2, 1, 0], -1),
    ((4, 5, 3), [1], 1),
    ((4, 5, 3), [[0, 3], [3, 1], [2, 2]], 1),
    ((6, 8), [7, 6, 5, 4, 3, 2, 1, 0], -1),
    ((6, 8), 4, 1),  # a scalar index drops the axis
    ((9,), [8, 0, 4, 4, 4], 1),
    ((3, 4), [0], 0),  # along the batch axis
]


@pytest.mark.parametrize("shape,indices,axis", GATHER_CASES)
def test_gather_constant_indices(shape, indices, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    idx = tf.constant(indices, dtype=tf.int32)
    model = fn_op(lambda x: tf.gather(x, idx, axis=axis), [shape], seed=len(shape) + axis)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["GATHER"])


def _int32_indices_model(shape, num, axis, seed) -> bytes:
    """``tf.gather(x, i, axis)`` with the indices an int32 model input (fn_op's inputs are float)."""
    import tensorflow as tf

    fn = tf.function(lambda x, i: tf.gather(x, i, axis=axis),
                     input_signature=[tf.TensorSpec((1, *shape), tf.float32), tf.TensorSpec((num,), tf.int32)])
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(CALIB_SAMPLES):
            yield [rng.standard_normal((1, *shape)).astype(np.float32),
                   rng.integers(0, shape[axis - 1], (num,)).astype(np.int32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.mark.parametrize("shape,num,axis", [((6, 3), 4, 1), ((2, 5, 4), 7, 2)])
def test_gather_runtime_indices(shape, num, axis, runtime_lib, tmp_path):
    rng = np.random.default_rng(num)
    data = [[rng.integers(-128, 128, (1, *shape)).astype(np.int8),
             rng.integers(0, shape[axis - 1], (num,)).astype(np.int32)] for _ in range(3)]
    graph = assert_bit_exact(_int32_indices_model(shape, num, axis, seed=num), runtime_lib, tmp_path,
                             expect_ops=["GATHER"], data=data)
    assert not any(graph.tensors[i].is_constant for op in graph.ops for i in op.inputs)


def test_gather_int64_indices(runtime_lib, tmp_path):
    """int64 constant indices: tflite-micro refuses them, LiteRT computes what edgekit does."""
    import tensorflow as tf

    idx = tf.constant([2, 0, 3, 3], dtype=tf.int64)
    model = fn_op(lambda x: tf.gather(x, idx, axis=1), [(5, 6)], seed=3)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["GATHER"], want=reference.run_litert)
    dtypes = {graph.tensors[i].dtype.name for op in graph.ops for i in op.inputs if graph.tensors[i].is_constant}
    if "INT64" not in dtypes:
        pytest.skip(f"the converter made the indices {dtypes}")


def test_keras_row_pick(runtime_lib, tmp_path):
    """Feature rows picked by a constant index list (repeats, reordered), then a dense head."""
    import keras
    import tensorflow as tf

    from opmodels import keras_graph

    rows = tf.constant([5, 1, 1, 7, 0], dtype=tf.int32)

    def build(x):
        x = keras.layers.Dense(8, activation="relu")(x)
        picked = keras.layers.Lambda(lambda t: tf.gather(t, rows, axis=1))(x)
        return keras.layers.Dense(3)(keras.layers.Flatten()(picked))

    assert_bit_exact(keras_graph(build, [(8, 4)], seed=7), runtime_lib, tmp_path, expect_ops=["GATHER"])


def test_out_of_range_runtime_index_gives_zero_point(runtime_lib, tmp_path):
    """TFLM's result is undefined there (a debug-only check); edgekit writes the real 0.0."""
    from edgekit.codegen import generate
    from edgekit.ir import parse_tflite
    from edgekit.target.host import build_host_runner, run_host

    shape, num = (6, 3), 4
    graph = parse_tflite(_int32_indices_model(shape, num, 1, seed=11))
    gen = generate(graph, tmp_path / "model")
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
    x = np.arange(18, dtype=np.int8).reshape(1, *shape)
    (out,), = run_host(exe, gen.inputs, gen.outputs, [[x, np.array([2, -1, 6, 5], dtype=np.int32)]])
    zero = graph.tensors[graph.outputs[0]].zero_point
    np.testing.assert_array_equal(out.reshape(1, num, 3), [[x[0, 2], [zero] * 3, [zero] * 3, x[0, 5]]])

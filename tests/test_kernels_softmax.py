"""SOFTMAX conformance: seeded int8 softmax models, bit-exact with tflite-micro."""

import struct

import pytest

from opmodels import assert_bit_exact, fn_op, keras_op

CASES = [
    # (input shape without batch, calib_scale, seed): softmax over the last dimension
    ((2,), 1.0, 0),
    ((10,), 1.0, 1),
    ((10,), 0.2, 2),        # small input scale: the exp table spans all 256 differences
    ((12,), 3.0, 3),
    ((12,), 12.0, 4),       # large input scale: most differences fall below diff_min
    ((100,), 2.0, 5),
    ((1000,), 4.0, 6),
    ((5, 10), 1.0, 7),      # 3-D input, 5 rows
    ((4, 4, 12), 2.5, 8),   # 4-D input
    ((3, 2, 100), 0.7, 9),
]


@pytest.mark.parametrize("shape,calib,seed", CASES)
def test_softmax(shape, calib, seed, runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Softmax(), shape, seed=seed, calib_scale=calib)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SOFTMAX"])


def _with_beta(model: bytes, beta: float) -> bytes:
    """The converter always writes beta = 1 (a scaled input stays a separate MUL); overwrite
    the stored SoftmaxOptions.beta to run TFLM's beta arithmetic."""
    import tflite

    sub = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0)
    for i in range(sub.OperatorsLength()):
        table = sub.Operators(i).BuiltinOptions()
        opts = tflite.SoftmaxOptions()
        opts.Init(table.Bytes, table.Pos)
        field = opts._tab.Offset(4)  # beta
        assert field, "beta is not stored in the flatbuffer"
        buf = bytearray(model)
        struct.pack_into("<f", buf, opts._tab.Pos + field, beta)
        return bytes(buf)
    raise AssertionError("no operator")


@pytest.mark.parametrize("beta,shape,seed", [(0.5, (10,), 20), (2.0, (12,), 21), (0.1, (4, 30), 22),
                                             (7.3, (100,), 23)])
def test_softmax_beta(beta, shape, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = _with_beta(fn_op(tf.nn.softmax, [shape], seed=seed, calib_scale=2.0), beta)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SOFTMAX"])
    assert graph.ops[0].options.beta == pytest.approx(beta)

"""ELU, GELU, RSQRT (lookup tables, ``ops/activations.py``): bit-exact with the interpreters.

Every case feeds all 256 input bytes in one sample besides seeded random ones, so the whole table
is compared; the calibration scale varies the quantization parameters. ELU and RSQRT are compared
with tflite-micro. TFLM has no GELU kernel (its interpreter refuses the model), so GELU is
compared with LiteRT, whose int8 GELU builds its table the same way TFLM's ELU does.

TensorFlow's converter keeps ELU in float32 (DEQUANTIZE, ELU, QUANTIZE): ``int8_only`` rewrites
that into one int8 ELU, the operator as a model made by other tools carries it.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact, fn_op, keras_op

from edgekit.frontend import reference
from edgekit.frontend.quantize import int8_tflite

SHAPE = (16, 16)  # 256 elements: one sample holds every int8 value


def all_bytes(shape=SHAPE):
    return [[np.arange(-128, 128, dtype=np.int8).reshape((1, *shape))]]


def int8_only(model: bytes, kind: str) -> bytes:
    """``model`` with its DEQUANTIZE -> ``kind`` (float) -> QUANTIZE chain made one int8 ``kind``
    operator between the int8 tensors (the float ones stay, unused)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    g = m.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    ops = g.operators
    B = schema.BuiltinOperator
    op = next(o for o in ops if codes[o.opcodeIndex] == getattr(B, kind))
    deq = next(o for o in ops if codes[o.opcodeIndex] == B.DEQUANTIZE and o.outputs[0] == op.inputs[0])
    quant = next(o for o in ops if codes[o.opcodeIndex] == B.QUANTIZE and o.inputs[0] == op.outputs[0])
    op.inputs = np.array([deq.inputs[0]], np.int32)
    op.outputs = np.array([quant.outputs[0]], np.int32)
    g.operators = [o for o in ops if o is not deq and o is not quant]
    b = flatbuffers.Builder(len(model) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.parametrize("calib_scale,seed", [(0.3, 0), (1.0, 1), (4.0, 2), (12.0, 3)])
def test_elu(calib_scale, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = int8_only(fn_op(tf.nn.elu, [SHAPE], seed=seed, calib_scale=calib_scale), "ELU")
    assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(),
                     expect_ops=["ELU"])


@pytest.mark.parametrize("make", ["ELU", "Activation"])
def test_elu_keras_layer(make, runtime_lib, tmp_path):
    """keras.layers.ELU and Activation("elu"): the converter's float ELU, made int8."""
    import keras

    layer = keras.layers.ELU() if make == "ELU" else keras.layers.Activation("elu")
    model = int8_only(keras_op(layer, (5, 7, 3), seed=4, calib_scale=2.0), "ELU")
    assert_bit_exact(model, runtime_lib, tmp_path, seed=4, expect_ops=["ELU"])


@pytest.mark.parametrize("approximate,calib_scale,seed", [
    (True, 0.3, 0), (True, 1.0, 1), (True, 5.0, 2),
    (False, 0.3, 3), (False, 1.0, 4), (False, 5.0, 5),
])
def test_gelu(approximate, calib_scale, seed, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.nn.gelu(x, approximate=approximate), [SHAPE], seed=seed,
                  calib_scale=calib_scale)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, samples=2, seed=seed, extra=all_bytes(),
                             expect_ops=["GELU"], want=reference.run_litert)
    assert graph.ops[0].options.approximate == approximate


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_keras_layer(approximate, runtime_lib, tmp_path):
    import keras

    layer = keras.layers.Activation(lambda x: keras.activations.gelu(x, approximate=approximate))
    if not approximate:
        layer = keras.layers.Activation("gelu")
    model = keras_op(layer, (6, 6, 4), seed=6, calib_scale=1.5)
    assert_bit_exact(model, runtime_lib, tmp_path, seed=6, expect_ops=["GELU"], want=reference.run_litert)


@pytest.mark.parametrize("calib_scale,offset,seed", [(1.0, 0.0, 0), (0.1, 0.01, 1), (5.0, 1.0, 2),
                                                     (30.0, 0.5, 3), (0.01, 0.0, 4)])
def test_rsqrt(calib_scale, offset, seed, runtime_lib, tmp_path):
    """Positive calibration data, so the input zero point is -128 and every input byte is a valid
    (non-negative) input; TFLM fails the invoke on a negative one."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    fn = tf.function(tf.math.rsqrt, input_signature=[tf.TensorSpec((1, *SHAPE), tf.float32)])
    calib = [[(np.abs(rng.standard_normal((1, *SHAPE))) * calib_scale + offset).astype(np.float32)]
             for _ in range(16)]
    assert_bit_exact(int8_tflite(fn, calib), runtime_lib, tmp_path, samples=2, seed=seed,
                     extra=all_bytes(), expect_ops=["RSQRT"])

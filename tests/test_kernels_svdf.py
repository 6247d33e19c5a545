"""SVDF (int8 input and output, int16 state and time weights), bit-exact with tflite-micro over
consecutive invokes (the state carried from each to the next).

No Keras layer converts to SVDF, so each case is a one-operator ``.tflite`` written here with
seeded weights and quantization parameters, as TFLM's own SVDF tests build theirs.
"""

from __future__ import annotations

import numpy as np
import pytest
from opmodels import assert_bit_exact

from edgekit.ir import parse_tflite


def svdf_model(batches, input_size, units, rank, memory, seed, state_zero_point=0) -> bytes:
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    rng = np.random.default_rng(seed)
    filters = units * rank
    s_in, s_wf, s_wt = 0.02 + 0.03 * rng.random(), 0.004 + 0.01 * rng.random(), 0.0005 + 0.001 * rng.random()
    s_state, s_out = 0.01 + 0.02 * rng.random(), 0.05 + 0.05 * rng.random()
    m = schema.ModelT()
    m.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SVDF
    m.operatorCodes = [code]
    m.buffers = [schema.BufferT()]

    def tensor(name, shape, ttype, scale, zp, data=None, variable=False):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.isVariable = name.encode(), list(shape), ttype, variable
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(scale)], [int(zp)]
        t.quantization = q
        t.buffer = 0
        if data is not None:
            buf = schema.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            m.buffers.append(buf)
            t.buffer = len(m.buffers) - 1
        return t

    T = schema.TensorType
    tensors = [
        tensor("input", (batches, input_size), T.INT8, s_in, int(rng.integers(-20, 20))),
        tensor("weights_feature", (filters, input_size), T.INT8, s_wf, 0,
               rng.integers(-127, 128, (filters, input_size)).astype(np.int8)),
        tensor("weights_time", (filters, memory), T.INT16, s_wt, 0,
               rng.integers(-300, 300, (filters, memory)).astype(np.int16)),
        tensor("bias", (units,), T.INT32, np.float32(s_state) * np.float32(s_wt), 0,
               rng.integers(-5000, 5000, units).astype(np.int32)),
        tensor("state", (batches, memory * filters), T.INT16, s_state, state_zero_point, variable=True),
        tensor("output", (batches, units), T.INT8, s_out, int(rng.integers(-10, 10))),
    ]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2, 3, 4], [5]
    op.builtinOptionsType = schema.BuiltinOptions.SVDFOptions
    op.builtinOptions = schema.SVDFOptionsT()
    op.builtinOptions.rank = rank
    g = schema.SubGraphT()
    g.tensors, g.operators, g.inputs, g.outputs = tensors, [op], [0], [5]
    m.subgraphs = [g]
    b = flatbuffers.Builder(4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


SVDF_CASES = [
    # (batches, input size, units, rank, memory)
    (1, 8, 4, 1, 5),
    (1, 16, 6, 2, 10),
    (2, 5, 3, 3, 4),
    (1, 3, 1, 1, 1),
]


@pytest.mark.parametrize("batches,input_size,units,rank,memory", SVDF_CASES)
def test_svdf(batches, input_size, units, rank, memory, runtime_lib, tmp_path):
    model = svdf_model(batches, input_size, units, rank, memory, seed=input_size)
    assert [op.type_name for op in parse_tflite(model).ops] == ["SVDF"]
    assert_bit_exact(model, runtime_lib, tmp_path, samples=6, seed=memory)


def test_svdf_state_zero_point(runtime_lib, tmp_path):
    """A state with a zero point: it starts there (reset) and every product subtracts it."""
    model = svdf_model(1, 6, 3, 2, 4, seed=7, state_zero_point=9)
    assert_bit_exact(model, runtime_lib, tmp_path, samples=6, seed=1)

"""PAD, PADV2, CONCATENATION, TRANSPOSE and STRIDED_SLICE, bit-exact with tflite-micro.

Pure data movement, so the interesting part is the index arithmetic: paddings on every axis,
concatenation along every axis with 2..5 inputs (and a constant one), every permutation class
(identity, inner dims kept together, full reversal), and strided slices with negative indices,
negative strides, clamped out-of-range bounds, begin/end masks and shrink_axis.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.codegen.ops.movement import collapse, iterations, slice_ranges
from opmodels import assert_bit_exact, fn_op, keras_graph, keras_op

# ---------------------------------------------------------------------------- PAD, PADV2

PAD_CASES = [
    # (input shape without batch, paddings incl. batch, constant or None)
    ((5, 6, 3), [[0, 0], [1, 2], [3, 0], [0, 0]], None),  # image style (H, W)
    ((5, 6, 3), [[0, 0], [0, 0], [0, 0], [2, 1]], None),  # channels only
    ((4, 7), [[0, 0], [3, 3], [1, 0]], None),
    ((9,), [[0, 0], [0, 5]], None),
    ((2, 3, 4), [[1, 0], [0, 2], [1, 1], [0, 3]], None),  # batch padded too: 4-D output
    ((5, 6), [[0, 0], [1, 1], [2, 0]], 0.7),  # PADV2
    ((5, 6, 2), [[0, 0], [2, 0], [0, 1], [1, 1]], -3.0),
    ((3, 3, 3), [[0, 0], [1, 1], [1, 1], [0, 0]], 100.0),  # constant beyond the input range
]


@pytest.mark.parametrize("shape,paddings,constant", PAD_CASES,
                         ids=[f"{'x'.join(map(str, c[0]))}-{c[2]}-{i}" for i, c in enumerate(PAD_CASES)])
def test_pad(shape, paddings, constant, runtime_lib, tmp_path):
    import tensorflow as tf

    if constant is None:
        fn, op = (lambda x: tf.pad(x, paddings)), "PAD"
    else:
        fn, op = (lambda x: tf.pad(x, paddings, constant_values=constant)), "PADV2"
    assert_bit_exact(fn_op(fn, [shape], seed=len(shape)), runtime_lib, tmp_path, expect_ops=[op])


def test_zero_padding_2d_layer(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.ZeroPadding2D(((2, 1), (0, 3))), (6, 5, 4), seed=3)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["PAD"])


# ---------------------------------------------------------------------------- CONCATENATION

CONCAT_CASES = [
    # (input shapes without batch, axis)
    ([(4, 5, 3), (4, 5, 2)], -1),
    ([(4, 5, 3), (2, 5, 3), (1, 5, 3)], 1),
    ([(4, 5, 3), (4, 1, 3), (4, 6, 3)], 2),
    ([(7,), (1,), (12,)], 1),
    ([(3, 4)] * 5, -1),
    ([(2, 3), (2, 3)], 0),  # along the batch axis
]


@pytest.mark.parametrize("shapes,axis", CONCAT_CASES, ids=[f"n{len(c[0])}-axis{c[1]}" for c in CONCAT_CASES])
def test_concatenate(shapes, axis, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda *xs: tf.concat(list(xs), axis=axis), shapes, seed=len(shapes))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONCATENATION"])


def test_concatenate_layer_after_ops(runtime_lib, tmp_path):
    """Keras Concatenate of two computed branches (the inputs live in the arena, not at the
    graph edge)."""
    import keras

    def build(a, b):
        return keras.layers.Concatenate()([keras.layers.Dense(6)(a), keras.layers.Dense(3)(b)])

    # equal input shapes: the converter may order a multi-input signature by tensor name
    model = keras_graph(build, [(4, 8), (4, 8)], seed=11)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONCATENATION"])


def test_concatenate_constant_input(runtime_lib, tmp_path):
    """One concatenated tensor is a constant: it comes from flash."""
    import tensorflow as tf

    const = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(1, 3, 4)

    def fn(x):
        return tf.concat([tf.nn.relu(x), tf.constant(const)], axis=1)

    model = fn_op(fn, [(2, 4)], seed=12)
    graph = assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["CONCATENATION"])
    concat = next(op for op in graph.ops if op.type_name == "CONCATENATION")
    if not any(graph.tensors[i].is_constant for i in concat.inputs):
        pytest.skip("converter did not keep a constant input")


# ---------------------------------------------------------------------------- TRANSPOSE

PERMS = [
    ((4, 5, 3), [0, 2, 1, 3]),  # swap H and W, channels stay together
    ((4, 5, 3), [0, 3, 1, 2]),  # NHWC -> NCHW
    ((4, 5, 3), [0, 3, 2, 1]),
    ((4, 5, 3), [0, 1, 2, 3]),  # identity
    ((6, 7), [0, 2, 1]),
    ((2, 3, 4, 5), [0, 4, 2, 3, 1]),  # 5-D
    ((3, 1, 4), [0, 3, 2, 1]),  # a unit dimension
]


@pytest.mark.parametrize("shape,perm", PERMS,
                         ids=[f"{'x'.join(map(str, s))}-{''.join(map(str, p))}" for s, p in PERMS])
def test_transpose(shape, perm, runtime_lib, tmp_path):
    import tensorflow as tf

    # tf.nn.relu first so an identity permutation is not folded away with the graph edge
    model = fn_op(lambda x: tf.transpose(tf.nn.relu(x) * 2.0, perm), [shape], seed=len(perm))
    expect = [] if perm == sorted(perm) else ["TRANSPOSE"]
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=expect)


def test_permute_layer(runtime_lib, tmp_path):
    import keras

    model = keras_op(keras.layers.Permute((3, 1, 2)), (4, 5, 6), seed=13)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["TRANSPOSE"])


# ---------------------------------------------------------------------------- STRIDED_SLICE

SLICES = [
    # (input shape without batch, slicing function id, function)
    ((6, 5, 3), "h1:4:2-wrev-c1", lambda x: x[:, 1:4:2, ::-1, 1]),  # shrink + negative stride
    ((6, 5, 3), "negative-index", lambda x: x[:, -4:-1, 1:, :2]),
    ((6, 5, 3), "clamped", lambda x: x[:, 2:100, -100:3, :]),
    ((8, 7), "step3", lambda x: x[:, ::3, 1::2]),
    ((8, 7), "reverse-all", lambda x: x[:, ::-1, ::-2]),
    ((8, 7), "reverse-bounded", lambda x: x[:, 6:1:-2, 5:-8:-1]),
    ((10,), "last", lambda x: x[:, -1]),  # shrink to (1,)
    ((10,), "middle", lambda x: x[:, 3:7]),
    ((4, 6, 8), "shrink-two", lambda x: x[:, 2, :, 5]),
    ((4, 6, 8), "inner-contiguous", lambda x: x[:, 1:3, 2:5, :]),
]


@pytest.mark.parametrize("shape,name,fn", SLICES, ids=[s[1] for s in SLICES])
def test_strided_slice(shape, name, fn, runtime_lib, tmp_path):
    model = fn_op(fn, [shape], seed=len(name))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["STRIDED_SLICE"])


def test_strided_slice_explicit_masks(runtime_lib, tmp_path):
    """tf.strided_slice with begin/end masks set on axes whose indices would otherwise clip."""
    import tensorflow as tf

    def fn(x):
        return tf.strided_slice(x, [0, 3, 4, 1], [1, 0, 1, 3], [1, -1, -2, 1],
                                begin_mask=0b0010, end_mask=0b0100)

    model = fn_op(fn, [(6, 7, 3)], seed=21)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["STRIDED_SLICE"])


def test_movement_chain(runtime_lib, tmp_path):
    """CONCATENATION (with a constant and a requantized input) -> reversing STRIDED_SLICE ->
    TRANSPOSE, each reading the previous one's output from the arena."""
    import tensorflow as tf

    const = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(1, 3, 4)

    def fn(x, y):
        cat = tf.concat([tf.nn.relu(x), tf.constant(const), tf.sigmoid(y)], axis=1)
        return tf.transpose(cat[:, ::-1, 1:], [0, 2, 1])

    model = fn_op(fn, [(2, 4), (5, 4)], seed=14)
    assert_bit_exact(model, runtime_lib, tmp_path,
                     expect_ops=["CONCATENATION", "STRIDED_SLICE", "TRANSPOSE", "QUANTIZE"])


# ---------------------------------------------------------------------------- index arithmetic


@pytest.mark.parametrize("n,start,stop,stride", [
    (10, 0, 10, 1), (10, 3, 7, 3), (10, 9, -1, -1), (10, 8, 2, -4), (5, 4, 4, 1), (5, 2, 3, -1)])
def test_iterations_match_the_loop(n, start, stop, stride):
    k, i = 0, start
    while (i < stop) if stride > 0 else (i > stop):
        k, i = k + 1, i + stride
    assert iterations(start, stop, stride) == k


def test_slice_ranges_match_numpy():
    """Without shrink and with in-range or negative bounds, TFLM's resolution equals Python
    slicing on the same bounds."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 9))
        stride = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        b, e = (int(v) for v in rng.integers(-n - 2, n + 3, size=2))
        bm, em = (int(v) for v in rng.integers(0, 2, size=2))
        (start, stop, st), = slice_ranges([n], [b], [e], [stride], bm, em, 0)
        want = list(range(n))[slice(None if bm else b, None if em else e, stride)]
        got = [start + k * st for k in range(iterations(start, stop, st))]
        assert got == want, (n, b, e, stride, bm, em)


def test_collapse_merges_contiguous_dims():
    assert collapse((1, 4, 5, 3), (60, 15, 3, 1)) == ((60,), (1,))
    assert collapse((5, 4, 3), (3, 15, 1)) == ((5, 4, 3), (3, 15, 1))
    assert collapse((2, 1, 3), (6, 3, 1)) == ((2, 3), (6, 1))
    assert collapse((4, 0, 3), (1, 1, 1)) == ((0,), (1,))
    assert collapse((1, 1), (5, 1)) == ((1,), (1,))


def test_float_io_transpose(runtime_lib, tmp_path):
    """float32 model edges around a TRANSPOSE."""
    import keras

    from edgekit.frontend.quantize import int8_tflite
    from opmodels import _calib

    keras.utils.set_random_seed(7)
    inp = keras.Input(shape=(4, 6), batch_size=1)
    model = int8_tflite(keras.Model(inp, keras.layers.Permute((2, 1))(inp)), _calib([(4, 6)], 7),
                        io_type="float32")
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["QUANTIZE", "TRANSPOSE", "DEQUANTIZE"])


# ---------------------------------------------------------------------------- what TFLM does not run


def test_concatenate_more_than_ten_inputs_rejected(tmp_path):
    import tensorflow as tf

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite

    model = fn_op(lambda *xs: tf.concat([tf.nn.relu(x) for x in xs], axis=-1), [(2, 3)] * 11, seed=1)
    with pytest.raises(UnsupportedModelError, match="at most 10"):
        generate(parse_tflite(model), tmp_path / "model")


@pytest.mark.parametrize("mask", ["new_axis", "ellipsis"])
def test_strided_slice_masks_tflm_ignores_rejected(mask, tmp_path):
    """TFLM zeroes the ellipsis and new-axis masks; a model that sets them is refused."""
    import tflite

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite
    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    def options(b):
        tflite.StridedSliceOptionsStart(b)
        tflite.StridedSliceOptionsAddNewAxisMask(b, 2 if mask == "new_axis" else 0)
        tflite.StridedSliceOptionsAddEllipsisMask(b, 2 if mask == "ellipsis" else 0)
        return tflite.StridedSliceOptionsEnd(b)

    q = dict(scale=0.1, zero_point=0)
    ints = lambda name, v: TensorSpec(name, (2,), "int32", data=np.array(v, dtype=np.int32))
    tensors = [TensorSpec("x", (1, 8), **q), TensorSpec("y", (1, 1, 8), **q),
               ints("begin", [0, 0]), ints("end", [1, 8]), ints("strides", [1, 1])]
    op = OpSpec(tflite.BuiltinOperator.STRIDED_SLICE, [0, 2, 3, 4], [1],
                tflite.BuiltinOptions.StridedSliceOptions, options)
    with pytest.raises(UnsupportedModelError, match="ellipsis/new-axis"):
        generate(parse_tflite(build_model(tensors, [op], [0], [1])), tmp_path / "model")


def test_concatenate_mixed_quantization_rejected(tmp_path):
    """TFLM's int8 CONCATENATION refuses inputs quantized unlike the output; so does edgekit,
    with a message that says why."""
    import tflite

    from edgekit.codegen import generate
    from edgekit.errors import UnsupportedModelError
    from edgekit.ir import parse_tflite
    from test_kernels_reshape import OpSpec, TensorSpec, build_model

    def options(b):
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, 1)
        return tflite.ConcatenationOptionsEnd(b)

    tensors = [TensorSpec("a", (1, 4), scale=0.1, zero_point=3),
               TensorSpec("b", (1, 4), scale=0.5, zero_point=3),
               TensorSpec("y", (1, 8), scale=0.1, zero_point=3)]
    op = OpSpec(tflite.BuiltinOperator.CONCATENATION, [0, 1], [2],
                tflite.BuiltinOptions.ConcatenationOptions, options)
    with pytest.raises(UnsupportedModelError, match="quantized .* unlike the output"):
        generate(parse_tflite(build_model(tensors, [op], [0, 1], [2])), tmp_path / "model")

"""BATCH_MATMUL conformance: tf.matmul with transposes and broadcast batch axes, Keras Dot, and
self-attention scores, each bit-exact with tflite-micro."""

import pytest

from opmodels import assert_bit_exact, fn_op, keras_graph


# (left shape, right shape, adj_x, adj_y, seed)
CASES = [
    ((4, 6), (6, 5), False, False, 0),
    ((3, 4, 6), (3, 6, 5), False, False, 1),
    ((3, 6, 4), (3, 6, 5), True, False, 2),
    ((3, 4, 6), (3, 5, 6), False, True, 3),
    ((2, 3, 7, 4), (1, 3, 4, 2), False, False, 4),  # the right operand broadcast over the first axis
    ((2, 1, 5, 8), (3, 8, 4), False, False, 5),     # ranks differ; both broadcast
    ((1, 33, 17), (1, 17, 9), False, False, 6),
]


def build_matmul(sa, sb, adj_a, adj_b, seed) -> bytes:
    import tensorflow as tf

    return fn_op(lambda a, b: tf.linalg.matmul(a, b, transpose_a=adj_a, transpose_b=adj_b), [sa, sb], seed=seed,
                 calib_scale=0.5 + seed % 3)


@pytest.mark.parametrize("sa,sb,adj_a,adj_b,seed", CASES)
def test_matmul(sa, sb, adj_a, adj_b, seed, runtime_lib, tmp_path):
    model = build_matmul(sa, sb, adj_a, adj_b, seed)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["BATCH_MATMUL"])


def test_keras_dot(runtime_lib, tmp_path):
    import keras

    model = keras_graph(lambda a, b: keras.layers.Dot(axes=(2, 2))([a, b]), [(6, 8), (5, 8)], seed=7)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["BATCH_MATMUL"])


def test_attention_scores(runtime_lib, tmp_path):
    """Query and key projections of one sequence, their scaled product and a softmax: the
    attention map of a transformer block."""
    import keras

    def build(x):
        q = keras.layers.Dense(8)(x)
        k = keras.layers.Dense(8)(x)
        v = keras.layers.Dense(8)(x)
        scores = keras.layers.Softmax()(keras.layers.Dot(axes=(2, 2))([q, k]))
        return keras.layers.Dot(axes=(2, 1))([scores, v])

    graph = assert_bit_exact(keras_graph(build, [(10, 12)], seed=8), runtime_lib, tmp_path,
                             expect_ops=["BATCH_MATMUL", "SOFTMAX"])
    assert [op.type_name for op in graph.ops].count("BATCH_MATMUL") == 2

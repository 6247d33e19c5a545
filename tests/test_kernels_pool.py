"""MAX_POOL_2D / AVERAGE_POOL_2D conformance: seeded Keras pooling layers, bit-exact with tflite-micro."""

import pytest

from opmodels import assert_bit_exact, fn_op, keras_op

CASES = [
    # (kind, input_shape (H, W, C), pool, strides, padding, seed)
    ("max", (8, 8, 4), (2, 2), (2, 2), "valid", 0),
    ("max", (9, 7, 3), (3, 3), (2, 2), "same", 1),
    ("max", (10, 10, 8), (3, 2), (1, 2), "valid", 2),
    ("max", (5, 6, 1), (2, 3), (3, 1), "same", 3),
    ("max", (16, 16, 16), (4, 4), (4, 4), "same", 4),
    ("max", (7, 7, 5), (7, 7), (1, 1), "valid", 5),
    ("avg", (8, 8, 4), (2, 2), (2, 2), "valid", 10),
    ("avg", (9, 7, 3), (3, 3), (2, 2), "same", 11),
    ("avg", (10, 10, 8), (3, 2), (1, 2), "valid", 12),
    ("avg", (5, 6, 2), (2, 3), (3, 1), "same", 13),
    ("avg", (11, 13, 6), (5, 5), (1, 1), "same", 14),
    ("avg", (12, 12, 3), (4, 4), (3, 3), "same", 15),
    ("avg", (7, 7, 5), (7, 7), (1, 1), "valid", 16),
]


@pytest.mark.parametrize("kind,shape,pool,strides,padding,seed", CASES)
def test_pool(kind, shape, pool, strides, padding, seed, runtime_lib, tmp_path):
    import keras

    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    layer = cls(pool_size=pool, strides=strides, padding=padding)
    model = keras_op(layer, shape, seed=seed, calib_scale=0.5 + seed % 4)
    op = "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=[op])


@pytest.mark.parametrize("kind,act,seed", [("max", "relu", 20), ("avg", "relu6", 21), ("avg", "relu", 22)])
def test_pool_fused_activation(kind, act, seed, runtime_lib, tmp_path):
    """The converter folds a following ReLU/ReLU6 into the pooling operator's fused activation."""
    import tensorflow as tf

    pool = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    fn = {"relu": tf.nn.relu, "relu6": tf.nn.relu6}[act]
    model = fn_op(lambda x: fn(pool(x, ksize=3, strides=2, padding="SAME")), [(9, 9, 4)], seed=seed,
                  calib_scale=4.0)
    graph = assert_bit_exact(model, runtime_lib, tmp_path,
                             expect_ops=["MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"])
    assert len(graph.ops) == 1, [op.type_name for op in graph.ops]
    assert graph.ops[0].options.activation.name == act.upper()


@pytest.mark.parametrize("kind,shape,pool,padding", [
    ("avg", (1, 1, 8), (2, 2), "same"),   # a global pool of a 1x1 map
    ("max", (1, 1, 8), (3, 3), "same"),
    ("avg", (3, 5, 8), (1, 1), "valid"),  # 1x1 windows at stride 1
])
def test_pool_of_one_pixel_windows_is_its_input(kind, shape, pool, padding, runtime_lib, tmp_path):
    """A pool whose every window holds one input pixel makes no call: its output shares the input's
    storage (as a RESHAPE's does), bit-exact with tflite-micro, between two convolutions."""
    import keras

    from edgekit.codegen import generate
    from opmodels import keras_graph

    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D

    def build(x):
        y = keras.layers.Conv2D(12, 1)(x)
        return keras.layers.Conv2D(6, 1)(cls(pool_size=pool, strides=1, padding=padding)(y))

    model = keras_graph(build, [shape], seed=23)
    op = "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"
    graph = assert_bit_exact(model, runtime_lib, tmp_path / "run", expect_ops=["CONV_2D", op, "CONV_2D"])
    gen = generate(graph, tmp_path / "gen")
    (call,) = [c for c in gen.calls if c.op.type_name == op]
    assert call.alias_input == 0 and call.function == ""

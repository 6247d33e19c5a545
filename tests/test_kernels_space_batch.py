"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: 4-D and 3-D tensors, square and oblong blocks,
paddings and crops (multiples of the block and not). Bit-exact with tflite-micro where it is
defined; SPACE_TO_BATCH_ND with padding is compared with LiteRT, as tflite-micro pads with a
value it never initialises (its SpaceToBatchParams.output_offset)."""

from __future__ import annotations

import pytest

from edgekit.frontend import reference
from opmodels import assert_bit_exact, fn_op

S2B_CASES = [
    # (input shape without batch, block shape, paddings)
    ((4, 6, 3), [2, 2], [[0, 0], [0, 0]]),
    ((6, 6, 2), [3, 2], [[0, 0], [0, 0]]),
    ((8, 5), [4], [[0, 0]]),  # 3-D
    ((3, 5, 2), [2, 3], [[1, 0], [0, 1]]),
    ((5, 5, 4), [2, 2], [[1, 2], [2, 1]]),
    ((7, 3), [3], [[1, 1]]),  # 3-D with padding
]


@pytest.mark.parametrize("shape,block,paddings", S2B_CASES)
def test_space_to_batch(shape, block, paddings, runtime_lib, tmp_path):
    import tensorflow as tf

    model = fn_op(lambda x: tf.space_to_batch_nd(x, block, paddings), [shape], seed=sum(block))
    padded = any(p for pair in paddings for p in pair)
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["SPACE_TO_BATCH_ND"],
                     want=reference.run_litert if padded else None)


B2S_CASES = [
    # (input shape without batch, batch, block shape, crops)
    ((3, 2, 3), 4, [2, 2], [[0, 0], [0, 0]]),
    ((2, 3, 2), 6, [3, 2], [[0, 0], [0, 0]]),
    ((2, 5), 4, [4], [[0, 0]]),  # 3-D
    ((3, 3, 2), 4, [2, 2], [[1, 0], [0, 1]]),
    ((4, 3, 4), 6, [2, 3], [[1, 2], [2, 1]]),
    ((3, 3), 3, [3], [[2, 1]]),  # 3-D with crops
]


@pytest.mark.parametrize("shape,batch,block,crops", B2S_CASES)
def test_batch_to_space(shape, batch, block, crops, runtime_lib, tmp_path):
    """The input's batch is more than 1, so the model takes a batch-1 input and reshapes it."""
    import tensorflow as tf

    def fn(x):
        return tf.batch_to_space(tf.reshape(x, (batch, *shape)), block, crops)

    flat = (batch * shape[0], *shape[1:])
    model = fn_op(fn, [flat], seed=sum(block))
    assert_bit_exact(model, runtime_lib, tmp_path, expect_ops=["BATCH_TO_SPACE_ND"])

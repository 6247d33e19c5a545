"""Identical constants are laid out once: two FULLY_CONNECTED layers that share one weight
tensor (as an unrolled recurrent layer's steps do) get one copy of the weights in flash, on the
portable and the DSP target, and stay bit-exact with tflite-micro."""

import numpy as np
import pytest

from opmodels import assert_bit_exact, fn_op


@pytest.mark.parametrize("dsp", [False, True])
def test_a_weight_shared_by_two_layers_is_stored_once(dsp, runtime_lib, tmp_path):
    import tensorflow as tf

    from edgekit.codegen import generate
    from edgekit.codegen.core import target_for_cpu
    from edgekit.ir import parse_tflite

    w = tf.constant(np.random.default_rng(3).standard_normal((48, 48)).astype(np.float32) * 0.2)
    model = fn_op(lambda x: tf.matmul(tf.nn.relu(tf.matmul(x, w)), w), [(48,)], seed=3)
    graph = parse_tflite(model, name="shared")
    fcs = [op for op in graph.ops if op.type_name == "FULLY_CONNECTED"]
    assert len(fcs) == 2 and fcs[0].inputs[1] == fcs[1].inputs[1]  # one weight tensor, two readers
    target = target_for_cpu("cortex-m4") if dsp else None
    gen = generate(graph, tmp_path / "gen", target=target)
    big = [a for c in gen.calls for a in c.arrays if a.values.size >= 48 * 48]
    assert len(big) == 2 and big[0] is big[1]  # both calls name the one array
    text = (gen.out_dir / "model_weights.c").read_text()
    assert text.count(f"{big[0].name}[") == 1
    assert gen.weight_bytes < 2 * 48 * 48
    if not dsp:
        assert_bit_exact(model, runtime_lib, tmp_path / "exact", expect_ops=["FULLY_CONNECTED"])

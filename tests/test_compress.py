"""Compression methods (edgekit.compress) and the palettized / sparse weight kernels.

Kernel tests: seeded Dense / Conv2D models whose weights are clustered or pruned, converted at
test time, run through the generated C and compared with tflite-micro bit for bit; the
lowering must have picked the compressed kernel, and it must take fewer flash bytes.

Method tests: tiny zoo networks trained for a few epochs on scikit-learn's digits, each method
checked for what it claims (sparsity reached, channels removed and MACs down, <= K values per
layer, distillation measured against a label-only student, QAT ends in a plain int8 model),
and every resulting int8 model validated bit-exact on the host.
"""

from __future__ import annotations

import dataclasses
import numpy as np
import pytest

from edgekit.codegen.lower import lower_graph
from edgekit.codegen.core import HOST
from edgekit.codegen.ops import palette
from edgekit.ir import parse_tflite
from edgekit.frontend.quantize import int8_tflite
from opmodels import assert_bit_exact

# ---------------------------------------------------------------------------- encodings

DENSE = dataclasses.replace(HOST, weight_packing=False)  # every weight tensor dense int8


@pytest.mark.parametrize("values,rows,k", [(2, 3, 17), (4, 5, 9), (16, 7, 33), (3, 1, 1), (16, 64, 64)])
def test_palette_roundtrip(values, rows, k):
    rng = np.random.default_rng(values * rows)
    table = rng.choice(np.arange(-128, 128), size=values, replace=False)
    q = table[rng.integers(0, values, size=(rows, k))].astype(np.int8)
    enc = palette.palette_encoding(q)
    assert enc is not None and (1 << enc.bits) >= len(np.unique(q))
    np.testing.assert_array_equal(palette.decode(enc, rows, k), q)


def test_palette_per_channel_tables():
    """16 values per row, different in every row: one table per row, 4-bit indices."""
    rng = np.random.default_rng(1)
    q = np.stack([rng.choice(np.arange(-127, 128), 16, replace=False)[rng.integers(0, 16, 40)]
                  for _ in range(6)]).astype(np.int8)
    enc = palette.palette_encoding(q)
    assert enc.bits == 4 and enc.table_stride == 16
    np.testing.assert_array_equal(palette.decode(enc, *q.shape), q)


def test_sparse_roundtrip_and_choice():
    rng = np.random.default_rng(2)
    q = rng.integers(-127, 128, size=(9, 50)).astype(np.int8)
    q[rng.random(q.shape) < 0.8] = 0
    enc = palette.sparse_encoding(q)
    np.testing.assert_array_equal(palette.decode(enc, *q.shape), q)
    assert palette.choose_encoding(q).kind == palette.ENCODING_SPARSE


def test_dense_weights_stay_dense():
    rng = np.random.default_rng(3)
    q = rng.integers(-127, 128, size=(8, 64)).astype(np.int8)
    assert palette.choose_encoding(q) is None


# ---------------------------------------------------------------------------- kernels


def _calib(shape, seed, n=16):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal((1, *shape)).astype(np.float32)] for _ in range(n)]


def _shared_values(w, k, rng, per_channel_values=False):
    """``w`` with every value replaced by one of ``k`` values (per tensor or per out channel)."""
    if not per_channel_values:
        vals = rng.standard_normal(k) * 0.5
        return vals[rng.integers(0, k, size=w.shape)].astype("float32")
    out = np.empty(w.shape, "float32")
    for c in range(w.shape[-1]):
        vals = rng.standard_normal(k) * 0.5
        out[..., c] = vals[rng.integers(0, k, size=w.shape[:-1])]
    return out


def _sparse(w, sparsity, rng):
    w = (rng.standard_normal(w.shape) * 0.5).astype("float32")
    w[rng.random(w.shape) < sparsity] = 0.0
    return w


def _model_with_kernel(layer, input_shape, seed, make_kernel, per_tensor):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=input_shape, batch_size=1)
    model = keras.Model(inp, layer(inp))
    rng = np.random.default_rng(seed)
    ws = layer.get_weights()
    ws[0] = make_kernel(ws[0], rng)
    if len(ws) > 1:
        ws[1] = (rng.standard_normal(ws[1].shape) * 0.3).astype("float32")
    layer.set_weights(ws)
    return int8_tflite(model, _calib(input_shape, seed), per_tensor=per_tensor)


def _packed_calls(model_bytes):
    calls = lower_graph(parse_tflite(model_bytes))
    return [c for c in calls if c.function.endswith("_pal_s8")]


def _weight_bytes(calls):
    arrays = {a.name: a for c in calls for a in c.arrays}
    return sum(a.nbytes for a in arrays.values())


def _flash_saved(model_bytes):
    g = parse_tflite(model_bytes)
    packed = _weight_bytes(lower_graph(g))
    dense = _weight_bytes(lower_graph(g, DENSE))
    return dense - packed


DENSE_CASES = [
    # (in, units, kernel maker, per_tensor, expected encoding name prefix)
    (48, 10, lambda w, r: _shared_values(w, 2, r), True, "palette1"),
    (48, 12, lambda w, r: _shared_values(w, 4, r), True, "palette2"),
    (64, 16, lambda w, r: _shared_values(w, 16, r), True, "palette4"),
    (64, 16, lambda w, r: _shared_values(w, 16, r, per_channel_values=True), False, "palette4_per_channel"),
    (80, 8, lambda w, r: _shared_values(w, 4, r, per_channel_values=True), False, "palette2_per_channel"),
    (100, 6, lambda w, r: _sparse(w, 0.8, r), False, "sparse"),
    (64, 10, lambda w, r: _sparse(w, 0.5, r), True, "sparse"),
]


@pytest.mark.parametrize("in_f,units,make,per_tensor,encoding", DENSE_CASES)
def test_dense_packed_bit_exact(in_f, units, make, per_tensor, encoding, runtime_lib, tmp_path):
    import keras

    model = _model_with_kernel(keras.layers.Dense(units, activation="relu"), (in_f,), in_f + units,
                               make, per_tensor)
    calls = _packed_calls(model)
    assert [c.function for c in calls] == ["ek_fully_connected_pal_s8"]
    p = calls[0].params
    got = "sparse" if p.encoding == palette.ENCODING_SPARSE else \
        f"palette{p.bits}" + ("_per_channel" if p.table_stride else "")
    assert got == encoding
    assert _flash_saved(model) > 0
    assert_bit_exact(model, runtime_lib, tmp_path, samples=4, expect_ops=["FULLY_CONNECTED"])


CONV_CASES = [
    # (input, filters, kernel, strides, padding, dilation, groups, maker, per_tensor)
    ((9, 9, 8), 16, 3, 1, "same", 1, 1, lambda w, r: _shared_values(w, 16, r), False),
    ((10, 7, 6), 8, 3, 2, "same", 1, 1, lambda w, r: _shared_values(w, 4, r), True),
    ((8, 8, 12), 12, 1, 1, "valid", 1, 1, lambda w, r: _shared_values(w, 2, r), True),
    ((11, 11, 8), 8, 3, 1, "same", 2, 1, lambda w, r: _shared_values(w, 16, r, True), False),
    ((8, 8, 16), 16, 3, 1, "same", 1, 2, lambda w, r: _shared_values(w, 16, r), True),
    ((9, 9, 16), 8, 3, 2, "valid", 1, 1, lambda w, r: _sparse(w, 0.8, r), False),
    ((8, 8, 8), 8, 3, 1, "same", 1, 1, lambda w, r: _sparse(w, 0.5, r), True),
]


@pytest.mark.parametrize("shape,filters,k,s,pad,dil,groups,make,per_tensor", CONV_CASES)
def test_conv_packed_bit_exact(shape, filters, k, s, pad, dil, groups, make, per_tensor, runtime_lib, tmp_path):
    import keras

    layer = keras.layers.Conv2D(filters, k, strides=s, padding=pad, dilation_rate=dil, groups=groups,
                                activation="relu6")
    model = _model_with_kernel(layer, shape, sum(shape) + filters, make, per_tensor)
    calls = _packed_calls(model)
    assert [c.function for c in calls] == ["ek_conv2d_pal_s8"]
    assert _flash_saved(model) > 0
    assert_bit_exact(model, runtime_lib, tmp_path, samples=3, expect_ops=["CONV_2D"])


def test_packing_off_gives_dense_kernels():
    import keras

    model = _model_with_kernel(keras.layers.Dense(8), (64,), 0, lambda w, r: _shared_values(w, 4, r), True)
    calls = lower_graph(parse_tflite(model), DENSE)
    assert [c.function for c in calls] == ["ek_fully_connected_s8"]


# ---------------------------------------------------------------------------- methods on digits

RES = 16  # digits 8x8 upsampled; small enough to train in seconds


@pytest.fixture(scope="module")
def digits():
    from edgekit.compress import data

    return data.digits(RES)


@pytest.fixture(scope="module")
def trained(digits):
    """A MobileNetV2 (residual Adds) trained briefly on digits, seed 0."""
    from edgekit.compress import zoo
    from edgekit.compress import measure

    m = zoo.build("mobilenet_v2", resolution=RES, width=0.25, depth=0.34, seed=0)
    measure.train(m, digits, epochs=6, batch_size=64, seed=0)
    return m


def _copy(m):
    from edgekit.compress.measure import copy_model

    return copy_model(m)


def _check_deploys_bit_exact(tflite, digits):
    from edgekit.compress import measure

    report = measure.validate_bit_exact(tflite, samples=2, x=digits.x_test[:6], sanitize=True)
    assert report.tflm_available, report.tflm_error
    assert report.passed, [o.to_json() for o in report.outputs]


def _int8_weights(tflite, kinds=("CONV_2D", "FULLY_CONNECTED")):
    g = parse_tflite(tflite)
    return {f"{op.index}:{op.type_name}": g.tensors[op.inputs[1]].data for op in g.ops if op.type_name in kinds}


def test_polynomial_schedule():
    from edgekit.compress.prune import PolynomialSchedule

    s = PolynomialSchedule(0.8, end_step=100, begin_step=10, frequency=10)
    values = [s.sparsity(t) for t in range(0, 120)]
    assert values[0] == 0.0 and values[10] == 0.0 and values[100] == 0.8 and values[119] == 0.8
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert s.updates_at(10) and s.updates_at(20) and s.updates_at(100) and not s.updates_at(15)


@pytest.mark.parametrize("sparsity", [0.5, 0.8])
def test_magnitude_prune(sparsity, trained, digits):
    from edgekit.compress import measure, prune

    m, report = prune.magnitude_prune(_copy(trained), digits, sparsity, epochs=2, seed=0)
    assert report.per_layer
    for name, s in report.per_layer.items():
        assert abs(s - sparsity) < 0.01, (name, s)
    tfl = measure.to_int8(m, digits)
    # zeros survive int8 quantization (0 / scale = 0): the int8 kernels are as sparse
    for name, w in _int8_weights(tfl).items():
        assert np.mean(w == 0) >= sparsity - 0.01, name
    stats = measure.deploy_stats(tfl)
    assert stats.packed_tensors > 0
    assert stats.weight_bytes < stats.dense_weight_bytes
    _check_deploys_bit_exact(tfl, digits)


def test_block_prune_is_skipped_on_the_dsp_build(trained, digits, runtime_lib, tmp_path):
    """Block pruning zeroes whole blocks of 16 taps x 2 output channels; on the default board's
    DSP build those convolutions take the block-sparse kernel, which neither stores nor computes
    them: fewer weight bytes and fewer pairs of k than the unpruned model, bit-exact on the host
    (C twins of the DSP instructions, sanitizers)."""
    from edgekit.codegen.core import target_for_cpu
    from edgekit.compress import measure, prune
    from edgekit.target.boards import DEFAULT_BOARD, load_board
    from test_kernels_dsp import assert_dsp_bit_exact

    m, report = prune.block_prune(_copy(trained), digits, 0.5, epochs=1, seed=0)
    assert set(report.per_layer) == {layer.name for layer in prune.block_prunable_layers(m)}
    for layer in prune.block_prunable_layers(m):  # zero in whole blocks, half of them
        w = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1])
        k, n = w.shape
        blocks = np.abs(np.pad(w, ((0, -k % 16), (0, -n % 2)))).reshape(-(-k // 16), 16, -(-n // 2), 2).sum(axis=(1, 3))
        assert np.sum(blocks == 0) == round(0.5 * blocks.size), layer.name
    tfl, base = measure.to_int8(m, digits), measure.to_int8(trained, digits)
    dsp = target_for_cpu(load_board(DEFAULT_BOARD).cpu)
    pruned_bytes, base_bytes = (measure.deploy_stats(t, target=dsp).weight_bytes for t in (tfl, base))
    assert pruned_bytes < 0.8 * base_bytes
    gen = assert_dsp_bit_exact(tfl, runtime_lib, tmp_path, "CONV_2D", target=dsp)
    sparse = [c for c in gen.calls if c.function == "ek_conv2d_sparse_dsp_s8"]
    assert len(sparse) >= len(prune.block_prunable_layers(m)) // 2, [c.function for c in gen.calls]


def test_allocate_blocks_prunes_the_insensitive_layers_most():
    """Per-layer block sparsities: the MAC-weighted mean reaches the target, a big layer that loses
    nothing is pruned furthest, a sensitive one least."""
    from edgekit.compress.prune import BLOCK_LEVELS, BlockSensitivity, allocate_blocks

    sens = [BlockSensitivity("big_easy", 8000, {v: 0.0 for v in BLOCK_LEVELS}),
            BlockSensitivity("small_hard", 1000, {v: 0.2 * v for v in BLOCK_LEVELS}),
            BlockSensitivity("mid", 3000, {v: 0.02 * v for v in BLOCK_LEVELS})]
    chosen = allocate_blocks(sens, 0.6)
    skipped = sum(chosen[s.layer] * s.macs for s in sens) / sum(s.macs for s in sens)
    assert 0.6 <= skipped < 0.6 + 0.1
    assert chosen["big_easy"] == max(BLOCK_LEVELS) and chosen["small_hard"] == 0.0
    assert chosen["big_easy"] >= chosen["mid"] >= chosen["small_hard"]


def test_block_sensitivity_restores_the_model(trained, digits):
    """Every layer is measured at every level and left as it was (the model's outputs unchanged)."""
    from edgekit.compress import prune

    m = _copy(trained)
    before = m.predict(digits.x_test[:8], verbose=0)
    layers = prune.block_prunable_layers(m)[:3]
    sens = prune.block_sensitivity(m, digits, layers)
    assert [s.layer for s in sens] == [l.name for l in layers]
    assert all(set(s.drops) == set(prune.BLOCK_LEVELS) and s.macs > 0 for s in sens)
    np.testing.assert_array_equal(m.predict(digits.x_test[:8], verbose=0), before)


def test_structured_prune(trained, digits):
    import keras

    from edgekit.compress import measure, prune

    before = measure.deploy_stats(measure.to_int8(trained, digits))
    m, report = prune.structured_prune(trained, 0.5, digits, fine_tune_epochs=1)
    assert report.removed_channels and report.params_after < report.params_before
    # every prunable convolution lost about half its filters; the network still runs
    old = {l.name: l for l in trained.layers}
    halved = [l for l in m.layers if isinstance(l, keras.layers.Conv2D)
              and not isinstance(l, keras.layers.DepthwiseConv2D)
              and l.filters < old[l.name].filters]
    assert halved and all(l.filters == max(1, round(old[l.name].filters * 0.5)) for l in halved)
    # residual Adds: both inputs agree (the model was built, so shapes matched)
    assert any(isinstance(l, keras.layers.Add) for l in m.layers)
    tfl = measure.to_int8(m, digits)
    after = measure.deploy_stats(tfl)
    assert after.macs < 0.6 * before.macs
    assert after.dense_weight_bytes < 0.6 * before.dense_weight_bytes
    _check_deploys_bit_exact(tfl, digits)


def test_latency_prune_reaches_the_cycle_budget(small_keras, digits):
    """NetAdapt on the default board's cost model: the result is predicted under the budget,
    each step keeps the proposal with the best validation accuracy among proposals that all fit
    the step's budget, the channels it reports removed are gone from the layers, and the int8
    model still runs bit-exact."""
    import keras

    from edgekit.compress import measure, netadapt

    model = keras.models.load_model(small_keras, compile=False)
    cost = netadapt.cost_model_cycles(digits, "qemu-mps2-an386")
    before = cost(model)
    new, rep = netadapt.latency_prune(model, digits, 0.8, cost, steps=2, final_epochs=1, probe_fraction=0.1)
    assert rep.cycles_before == before
    assert cost(new) <= 0.8 * before and rep.cycles_after == cost(new)
    assert len(rep.steps) == 2 and rep.steps[1].budget_cycles < rep.steps[0].budget_cycles
    for step in rep.steps:
        assert step.proposals and all(p.cycles <= step.budget_cycles for p in step.proposals)
        assert step.chosen.val_accuracy == max(p.val_accuracy for p in step.proposals)
        assert all(p.removed % 4 == 0 and 4 <= p.channels - p.removed for p in step.proposals)
    for group, removed in rep.removed_channels.items():
        name = group.split(" ")[0]
        assert new.get_layer(name).filters == model.get_layer(name).filters - removed
    assert new.count_params() == rep.params_after < rep.params_before == model.count_params()
    _check_deploys_bit_exact(measure.to_int8(new, digits), digits)


def test_latency_prune_refuses_a_target_that_is_not_a_fraction(small_keras, digits):
    import keras

    from edgekit.compress import netadapt
    from edgekit.errors import EdgekitError

    model = keras.models.load_model(small_keras, compile=False)
    with pytest.raises(EdgekitError, match="must be a fraction"):
        netadapt.latency_prune(model, digits, 1.2, lambda m: 1.0)


def test_structured_prune_in_rounds(trained, digits):
    """Iterative structured pruning: each round removes the same fraction of what is left (half in
    two rounds: 1 - sqrt(0.5) each) and fine-tunes before the next chooses; together about as many
    channels go as in one shot, every round's removals in the report."""
    import keras

    from edgekit.compress import prune

    one, _ = prune.structured_prune(trained, 0.5)
    m, report = prune.structured_prune(trained, 0.5, digits, fine_tune_epochs=2, rounds=2)
    assert report.target == 0.5 and report.params_before == trained.count_params()
    assert report.params_after == m.count_params() < trained.count_params()
    assert abs(m.count_params() - one.count_params()) < 0.1 * one.count_params()
    old = {l.name: l for l in trained.layers}
    convs = [l for l in m.layers if type(l) is keras.layers.Conv2D and l.filters < old[l.name].filters]
    assert convs and all(abs(l.filters - old[l.name].filters / 2) <= 2 for l in convs)
    assert sum(report.removed_channels.values()) == sum(
        old[n.split(" ")[0]].filters - m.get_layer(n.split(" ")[0]).filters for n in report.removed_channels)
    with pytest.raises(Exception, match="at least 3 epochs"):
        prune.structured_prune(trained, 0.5, digits, fine_tune_epochs=2, rounds=3)


def test_structured_prune_removes_the_dead_channels(digits):
    """Channels whose filters and BatchNormalization are zero contribute nothing: pruning
    exactly those must leave the network's outputs unchanged (residual groups included)."""
    import keras

    from edgekit.compress import zoo
    from edgekit.compress import measure, prune

    m = zoo.build("mobilenet_v2", resolution=RES, width=0.25, depth=0.34, seed=3)
    measure.refresh_batchnorm(m, digits.x_train, passes=5)
    plan = prune.channel_plan(m)
    rng = np.random.default_rng(0)
    for root in plan.prunable():
        c = plan.spaces.size[root]
        dead = rng.choice(c, size=c // 2, replace=False)
        for name in plan.producers[root]:
            conv = m.get_layer(name)
            ws = conv.get_weights()
            ws[0][..., dead] = 0.0
            conv.set_weights(ws)
        for layer in m.layers:  # every BatchNormalization on these channels outputs 0 there
            s = plan.out_space.get(layer.name)
            if isinstance(layer, keras.layers.BatchNormalization) and plan.spaces.find(s) == root:
                g, b, mean, var = layer.get_weights()
                g[dead], b[dead], mean[dead] = 0.0, 0.0, 0.0
                layer.set_weights([g, b, mean, var])
    small, _ = prune.structured_prune(m, 0.5)
    x = digits.x_test[:16]
    np.testing.assert_allclose(small.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)
    assert small.count_params() < m.count_params()


@pytest.mark.parametrize("k,per_channel", [(16, False), (4, True)])
def test_cluster(k, per_channel, trained, digits):
    from edgekit.compress import cluster, measure

    m, report = cluster.cluster_weights(_copy(trained), k, digits, epochs=1, per_channel=per_channel)
    assert report.distinct
    if per_channel:
        for l in cluster.prunable_layers(m, min_weights=64):
            w = l.kernel.numpy()
            assert max(len(np.unique(w[..., c])) for c in range(w.shape[-1])) <= k
    else:
        assert all(n <= k for n in report.distinct.values()), report.distinct
    tfl = measure.to_int8(m, digits)
    for name, (tensor, channel) in cluster.int8_distinct_values(tfl).items():
        if "DEPTHWISE" not in name and "stem" not in name:
            assert channel <= k, name  # per-channel int8 keeps <= K values per channel
    stats = measure.deploy_stats(tfl)
    assert stats.packed_tensors > 0
    # in a network this small the per-channel requantization arrays (12 bytes per channel)
    # are a large share of the flash; the kernels themselves shrink much more
    assert stats.weight_bytes < 0.9 * stats.dense_weight_bytes
    _check_deploys_bit_exact(tfl, digits)


def test_choose_low_takes_the_least_sensitive_bytes_first():
    """Mixed palette widths: layers are taken by accuracy lost per byte their narrower indices save
    (16 -> 4 values: 2 bits a weight), until the bytes asked for are saved."""
    from edgekit.compress.cluster import choose_low

    sens = [{"layer": "a", "weights": 4000, "accuracy_drop": 0.02},   # 1000 bytes, 2e-5 a byte
            {"layer": "b", "weights": 8000, "accuracy_drop": 0.01},   # 2000 bytes, 5e-6 a byte
            {"layer": "c", "weights": 400, "accuracy_drop": -0.01},   # improves: first
            {"layer": "d", "weights": 40000, "accuracy_drop": 0.5}]   # 10000 bytes, dear
    assert choose_low(sens, 16, 4, 2000) == ["c", "b"]
    assert choose_low(sens, 16, 4, 2200) == ["c", "b", "a"]
    assert choose_low(sens, 16, 2, 1) == ["c"]  # 3 bits a weight
    assert choose_low(sens, 16, 4, 0) == []


def test_cluster_mixed_widths(trained, digits):
    """--low-clusters with --save-bytes: the layers chosen by sensitivity keep at most the fewer values,
    the others the more, and the choice saves the bytes asked for."""
    from edgekit.compress import cluster, measure

    layers = cluster.prunable_layers(trained, min_weights=64)
    save = sum(l.kernel.shape.num_elements() for l in layers) // 8  # about half the layers' 2 bits a weight
    m, report = cluster.cluster_weights(_copy(trained), 16, digits, epochs=1, low_clusters=4, save_bytes=save)
    assert len(report.sensitivity) == len(layers) and 0 < len(report.low_layers) < len(layers)
    assert sum(s["weights"] for s in report.sensitivity if s["layer"] in report.low_layers) * 2 / 8 >= save
    for name, n in report.distinct.items():
        assert n <= (4 if name in report.low_layers else 16), (name, n)
    assert any(n > 4 for name, n in report.distinct.items() if name not in report.low_layers)
    _check_deploys_bit_exact(measure.to_int8(m, digits), digits)
    with pytest.raises(Exception, match="go together"):
        cluster.cluster_weights(_copy(trained), 16, digits, epochs=0, low_clusters=4)
    with pytest.raises(Exception, match="saves nothing"):
        cluster.cluster_weights(_copy(trained), 4, digits, epochs=0, low_clusters=3, save_bytes=10)


def test_distill(trained, digits):
    from edgekit.compress import zoo
    from edgekit.compress import measure, distill

    def student():
        return zoo.build("mobilenet_v1", resolution=RES, width=0.125, depth=0.5)

    s, baseline, report = distill.compare_with_baseline(student, trained, digits, epochs=4,
                                                         temperature=4.0, alpha=0.3, seed=0)
    assert report.baseline_accuracy is not None
    if report.student_accuracy > report.baseline_accuracy:
        assert report.note.startswith("distillation helped")
    else:
        assert "did not help" in report.note
    assert s.count_params() == baseline.count_params() < trained.count_params()
    _check_deploys_bit_exact(measure.to_int8(s, digits), digits)


def _attention(model, layer, x):
    """Spatial attention of ``layer``'s maps, computed here in NumPy: mean over channels of the
    squared activations, flattened, L2-normalised."""
    import keras

    f = keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)
    q = np.mean(np.square(f), axis=-1).reshape(len(f), -1)
    return q / (np.linalg.norm(q, axis=1, keepdims=True) + 1e-6)


def test_feature_pairs_are_stage_ends_of_the_same_size(trained):
    from edgekit.compress import zoo, distill

    student = zoo.build("mobilenet_v1", resolution=RES, width=0.125, depth=0.5)
    pairs = distill.feature_pairs(student, trained, max_pairs=3)
    assert pairs and len(pairs) <= 3

    def size(model, name):
        return tuple(model.get_layer(name).output.shape[1:3])

    for s_name, t_name in pairs:
        hw = size(student, s_name)
        assert hw == size(trained, t_name) and hw[0] * hw[1] > 1
        for model, name in ((student, s_name), (trained, t_name)):  # nothing later has that size
            names = [l.name for l in model.layers]
            later = model.layers[names.index(name) + 1:]
            assert all(len(l.output.shape) != 4 or tuple(l.output.shape[1:3]) != hw for l in later)
    sizes = [size(student, s) for s, _ in pairs]
    assert sizes == sorted(sizes, reverse=True)  # shallow to deep: the maps shrink
    assert distill.feature_pairs(student, trained, max_pairs=1) == pairs[-1:]


def test_feature_distillation_pulls_the_students_attention_to_the_teachers(trained, digits):
    """Hints and attention transfer on the stage ends: the distilled student's attention maps are
    nearer the teacher's than those of the same student trained on labels only (same seed and
    epochs); the hint losses fell; the student comes back without its adapters and deploys."""
    from edgekit.compress import zoo
    from edgekit.compress import measure, distill

    def student():
        return zoo.build("mobilenet_v1", resolution=RES, width=0.125, depth=0.5, seed=0)

    s, baseline, report = distill.compare_with_baseline(student, trained, digits, epochs=4, seed=0,
                                                        hint_weight=1.0, attention_weight=1000.0)
    assert report.pairs and report.hint_weight == 1.0 and report.attention_weight == 1000.0
    for i, (s_name, t_name) in enumerate(report.pairs):
        teacher_q = _attention(trained, t_name, digits.x_test)
        near = np.mean(np.square(_attention(s, s_name, digits.x_test) - teacher_q))
        far = np.mean(np.square(_attention(baseline, s_name, digits.x_test) - teacher_q))
        assert near < far, (s_name, near, far)
        first, last = report.feature_losses[f"hint{i}"]
        assert last < first
    assert [l.name for l in s.layers] == [l.name for l in student().layers]
    _check_deploys_bit_exact(measure.to_int8(s, digits), digits)


def test_feature_distillation_refuses_negative_weights(trained, digits):
    from edgekit.compress import zoo, distill

    with pytest.raises(ValueError):
        distill.distill(zoo.build("mobilenet_v1", resolution=RES, width=0.125, depth=0.5), trained, digits,
                        epochs=1, attention_weight=-1.0)


def test_fold_batchnorm_keeps_outputs(trained, digits):
    from edgekit.compress import qat

    folded = qat.fold_batchnorm(trained)
    assert not any(type(l).__name__ == "BatchNormalization" for l in folded.layers)
    x = digits.x_test[:16]
    np.testing.assert_allclose(folded.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-4)


@pytest.mark.parametrize("per_channel", [True, False])
def test_qat_ends_in_plain_int8(per_channel, trained, digits):
    from edgekit.codegen import check_generatable
    from edgekit.compress import measure, qat

    m, report = qat.quantization_aware_finetune(trained, digits, epochs=1, per_channel=per_channel)
    assert report.folded_batchnorms > 0
    tfl = measure.to_int8(m, digits, per_tensor=not per_channel)
    g = parse_tflite(tfl)
    check_generatable(g)  # no float operator left
    assert {op.type_name for op in g.ops} <= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D",
                                              "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}
    for w in _int8_weights(tfl).values():
        assert w.dtype == np.int8
    _check_deploys_bit_exact(tfl, digits)


def test_int4_finetune_stores_its_layers_as_int4(trained, digits):
    """4-bit QAT puts the chosen kernels on a 4-bit grid; the rewrite stores exactly those as
    INT4, each real weight (scale x value) within the int8 model's rounding of it (half an int8
    step), and the result runs bit-exact."""
    from edgekit.compress import int4, measure

    m, report = int4.int4_finetune(trained, digits, epochs=1, min_weights=64)
    assert report.layers
    tfl = measure.to_int8(m, digits)
    t4, changed = int4.int4_weights(tfl)
    g8, g4 = parse_tflite(tfl), parse_tflite(t4)
    assert [op.index for op in g4.ops if op.type_name == "CONV_2D"
            and g4.tensors[op.inputs[1]].dtype.np_name == "int4"] == changed
    assert len(changed) == len(report.layers)  # every chosen layer is a CONV_2D of its own
    for i in changed:
        w8, w4 = g8.tensors[g8.ops[i].inputs[1]], g4.tensors[g4.ops[i].inputs[1]]
        assert np.abs(w4.data).max() <= 7
        step8 = np.asarray(w8.quant.scale, np.float64).reshape(-1, 1, 1, 1)
        real8 = w8.data.astype(np.float64) * step8
        real4 = w4.data.astype(np.float64) * np.asarray(w4.quant.scale, np.float64).reshape(-1, 1, 1, 1)
        assert np.all(np.abs(real4 - real8) <= step8 * (0.5 + 1e-5))
    assert len(t4) < len(tfl)
    _check_deploys_bit_exact(t4, digits)


def test_int4_mixed_precision_takes_the_least_sensitive_layers_per_byte():
    from edgekit.compress.int4 import LayerSensitivity, choose_layers

    sens = [LayerSensitivity("a", 1000, 0.02), LayerSensitivity("b", 4000, 0.02),
            LayerSensitivity("c", 400, -0.01), LayerSensitivity("d", 2000, 0.0)]
    # per byte saved: c and d lose nothing (the larger first), then b (0.02 over 2000 bytes), then a
    assert choose_layers(sens, 0) == []
    assert choose_layers(sens, 1000) == ["d"]
    assert choose_layers(sens, 1100) == ["d", "c"]
    assert choose_layers(sens, 1300) == ["d", "c", "b"]
    assert choose_layers(sens, 10 ** 6) == ["d", "c", "b", "a"]


def test_int4_sensitivity_measures_each_layer_alone(trained, digits):
    from edgekit.compress import int4, qat

    folded = qat.fold_batchnorm(trained)
    before = [w.copy() for w in folded.get_weights()]
    sens = int4.sensitivity(folded, digits)
    assert [s.layer for s in sens] == int4.int4_layers(folded)
    assert all(-1 <= s.accuracy_drop <= 1 for s in sens) and any(s.accuracy_drop != 0 for s in sens)
    for a, b in zip(before, folded.get_weights()):  # every layer put back
        np.testing.assert_array_equal(a, b)


def test_int4_rewrite_leaves_ordinary_int8_weights(trained, digits):
    """Weights not trained on the 4-bit grid are not rounded to it: nothing changes."""
    from edgekit.compress import int4, measure

    tfl = measure.to_int8(trained, digits)
    assert int4.int4_weights(tfl) == (tfl, [])


def test_dynamic_range_is_reported_not_generated(trained):
    from edgekit.codegen import check_generatable
    from edgekit.compress import measure
    from edgekit.errors import UnsupportedModelError

    g = parse_tflite(measure.to_dynamic_range(trained))
    with pytest.raises(UnsupportedModelError, match="float model"):
        check_generatable(g)


# ---------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory, digits):
    from edgekit.compress import zoo
    from edgekit.compress import measure

    m = zoo.build("ds_cnn", resolution=RES, width=0.5, depth=0.5, seed=0)
    measure.train(m, digits, epochs=2, batch_size=64)
    path = tmp_path_factory.mktemp("cli") / "small.keras"
    m.save(path)
    return path


@pytest.mark.parametrize("argv,method", [
    # the Cortex-M0+ board's portable kernels store half-zero kernels sparse
    (["prune", "--sparsity", "0.5", "--epochs", "1", "--board", "rpi-pico"], "magnitude pruning 50%"),
    (["prune", "--sparsity", "0.5", "--structured", "--epochs", "1"], "structured pruning 50%"),
    (["prune", "--sparsity", "0.5", "--structured", "--rounds", "2", "--epochs", "2"],
     "structured pruning 50% in 2 rounds"),
    (["prune", "--latency-target", "0.8", "--steps", "1", "--epochs", "1"], "latency pruning to 0.80x cycles"),
    (["cluster", "--clusters", "4", "--epochs", "1"], "clustering to 4 values"),
    (["cluster", "--clusters", "16", "--low-clusters", "4", "--save-bytes", "1000", "--epochs", "1"],
     "clustering to 16 values, 4 in"),
    # the default board's block-sparse DSP convolution stores only the blocks kept
    (["prune", "--sparsity", "0.5", "--blocks", "--by-sensitivity", "--epochs", "1"], "block pruning 50%"),
])
def test_cli_methods(argv, method, small_keras, tmp_path, capsys):
    from edgekit.cli import main

    out = tmp_path / "out.keras"
    code = main([argv[0], str(small_keras), "--data", "digits", "-o", str(out), "--json", *argv[1:]])
    assert code == 0
    report = __import__("json").loads(capsys.readouterr().out)
    assert report["method"].startswith(method)
    assert out.exists() and (tmp_path / "out_int8.tflite").exists()
    if argv[0] == "prune" and ("--structured" in argv or "--latency-target" in argv):
        assert report["after"]["macs"] < report["before"]["macs"]
    else:
        assert report["after"]["weight_bytes"] < report["before"]["weight_bytes"]


def test_cli_by_sensitivity_needs_blocks(small_keras, tmp_path, capsys):
    from edgekit.cli import main

    code = main(["prune", str(small_keras), "--data", "digits", "-o", str(tmp_path / "o.keras"), "--by-sensitivity"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err == ["edgekit: error: --by-sensitivity chooses each layer's sparsity for --blocks: "
                                 "give --blocks too"]
    assert not list(tmp_path.iterdir())


def test_cli_rounds_needs_structured(small_keras, tmp_path, capsys):
    from edgekit.cli import main

    code = main(["prune", str(small_keras), "--data", "digits", "-o", str(tmp_path / "o.keras"), "--rounds", "3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err == ["edgekit: error: --rounds prunes channels iteratively for --structured: "
                                 "give --structured too"]
    assert not list(tmp_path.iterdir())


def test_cli_int4_halves_the_chosen_kernels_on_the_default_board(small_keras, digits, tmp_path, capsys):
    """`edgekit int4` writes an int8 model with INT4 kernels that the default board's DSP int4
    kernel keeps packed: less weight flash there, and the result runs bit-exact."""
    import json

    from edgekit.cli import main

    out = tmp_path / "out.keras"
    assert main(["int4", str(small_keras), "--data", "digits", "-o", str(out), "--json", "--epochs", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"].startswith("int4 weights in") and report["details"]["layers"]
    tfl = (tmp_path / "out_int8.tflite").read_bytes()
    g = parse_tflite(tfl)
    int4_convs = [op for op in g.ops if op.type_name == "CONV_2D" and g.tensors[op.inputs[1]].dtype.np_name == "int4"]
    assert len(int4_convs) == len(report["details"]["layers"])
    assert report["after"]["weight_bytes"] < report["before"]["weight_bytes"]
    _check_deploys_bit_exact(tfl, digits)


def test_cli_counts_flash_for_the_boards_kernels(small_keras, tmp_path, capsys):
    """The default board's DSP kernels keep half-zero kernels dense: magnitude pruning saves no
    flash there, and the command says so (the portable kernels' saving is not reported)."""
    import json

    from edgekit.cli import main
    from edgekit.codegen.core import target_for_cpu
    from edgekit.compress import measure
    from edgekit.target.boards import load_board

    out = tmp_path / "out.keras"
    assert main(["prune", str(small_keras), "--data", "digits", "-o", str(out), "--json", "--sparsity", "0.5",
                 "--epochs", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["board"] == "qemu-mps2-an386"
    tfl = (tmp_path / "out_int8.tflite").read_bytes()
    on_board = measure.deploy_stats(tfl, target=target_for_cpu(load_board("qemu-mps2-an386").cpu))
    assert report["after"]["weight_bytes"] == on_board.weight_bytes == report["before"]["weight_bytes"]
    assert measure.deploy_stats(tfl).weight_bytes < on_board.weight_bytes  # the portable kernels' figure


def test_cli_distill(small_keras, tmp_path, capsys):
    from edgekit.cli import main

    out = tmp_path / "student.keras"
    code = main(["distill", str(small_keras), "--teacher", str(small_keras), "--data", "digits",
                 "-o", str(out), "--epochs", "1"])
    assert code == 0
    assert "distillation:" in capsys.readouterr().out and out.exists()


def test_cli_distill_features(small_keras, tmp_path, capsys):
    import json

    from edgekit.cli import main

    out = tmp_path / "student.keras"
    code = main(["distill", str(small_keras), "--teacher", str(small_keras), "--data", "digits", "-o", str(out),
                 "--epochs", "1", "--hints", "1", "--attention", "1000", "--json"])
    assert code == 0 and out.exists()
    report = json.loads(capsys.readouterr().out)
    details = report["details"]
    assert details["pairs"] and all(s == t for s, t in details["pairs"])  # the same network: each map with itself
    assert {k[:4] for k in details["feature_losses"]} == {"hint", "atte"}
    assert main(["distill", str(small_keras), "--teacher", str(small_keras), "--data", "digits", "-o",
                 str(tmp_path / "x.keras"), "--attention", "-1"]) != 0
    assert "edgekit: error:" in capsys.readouterr().err


def test_cli_bad_model(tmp_path, capsys):
    from edgekit.cli import main

    code = main(["prune", str(tmp_path / "missing.keras"), "--data", "digits", "-o", str(tmp_path / "o.keras")])
    assert code != 0 and "no such model file" in capsys.readouterr().err

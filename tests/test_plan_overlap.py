"""Overlapping an output with its dying input: the declared leads are safe and used.

1. The geometry: for the loop order ek_conv2d.h, ek_depthwise_conv2d.h and ek_pool.h state,
   traces of its reads and writes on many random geometries give the exact smallest safe lead,
   and ``sliding_window_lead`` is never below it and at most one output pixel above it. (That
   the C kernels keep that order is measured on the compiled C: tests/test_overlap_measured.py.)
2. Real kernels: seeded single-operator models, where the planner overlaps the graph input with
   the output at the declared lead, bit-exact with tflite-micro under ASan and UBSan.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.codegen import generate
from edgekit.codegen.core import HOST
from edgekit.codegen.overlap import sliding_window_lead
from edgekit.ir import parse_tflite
from edgekit.plan import align_up

WHOLE = dataclasses.replace(HOST, stream=False)  # whole tensors: the kernels' overlaps, every output planned

# ---------------------------------------------------------------------------- traces


def _taps(o, stride, pad, k, dil, size):
    return [(t, o * stride - pad + t * dil) for t in range(k) if 0 <= o * stride - pad + t * dil < size]


def conv_trace(ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw, groups=1):
    """ek_conv2d_s8: for oy, ox, group, channel: read the window's group channels, write."""
    fc = ic // groups
    per_group = oc // groups
    j = 0
    for oy in range(oh):
        for ox in range(ow):
            for g in range(groups):
                for _ in range(per_group):
                    for _, iy in _taps(oy, sh, pt, kh, dh, ih):
                        for _, ix in _taps(ox, sw, pl, kw, dw, iw):
                            for c in range(fc):
                                yield "r", (iy * iw + ix) * ic + g * fc + c
                    yield "w", j
                    j += 1


def depthwise_trace(ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw):
    """ek_depthwise_conv2d_s8: for oy, ox, input channel, multiplier: read one channel of the
    window, write one output."""
    dm = oc // ic
    j = 0
    for oy in range(oh):
        for ox in range(ow):
            for c in range(ic):
                for _ in range(dm):
                    for _, iy in _taps(oy, sh, pt, kh, dh, ih):
                        for _, ix in _taps(ox, sw, pl, kw, dw, iw):
                            yield "r", (iy * iw + ix) * ic + c
                    yield "w", j
                    j += 1


def max_pool_trace(n, ih, iw, c, oh, ow, kh, kw, sh, sw, ph, pw):
    """ek_max_pool_s8: per output pixel, the channels are written (running maximum) before and
    while the window is read; reading them back only sees what the kernel wrote."""
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                base = ((b * oh + oy) * ow + ox) * c
                for k in range(c):
                    yield "w", base + k
                for _, iy in _taps(oy, sh, ph, kh, 1, ih):
                    for _, ix in _taps(ox, sw, pw, kw, 1, iw):
                        for k in range(c):
                            yield "r", ((b * ih + iy) * iw + ix) * c + k
                            yield "w", base + k
                for k in range(c):
                    yield "w", base + k


def avg_pool_trace(n, ih, iw, c, oh, ow, kh, kw, sh, sw, ph, pw):
    """ek_avg_pool_s8: sums into the scratch, then writes the pixel's channels."""
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for _, iy in _taps(oy, sh, ph, kh, 1, ih):
                    for _, ix in _taps(ox, sw, pw, kw, 1, iw):
                        for k in range(c):
                            yield "r", ((b * ih + iy) * iw + ix) * c + k
                base = ((b * oh + oy) * ow + ox) * c
                for k in range(c):
                    yield "w", base + k


def exact_lead(trace, n_in: int) -> int:
    """The smallest lead (output start <= input start - lead) at which no write lands on an
    input byte that is read afterwards. The first write of output byte j, at time t, hits input
    byte j + delta; every input byte whose last read comes after t must be above it."""
    last_read = [-1] * n_in
    first_write: dict[int, int] = {}
    for t, (kind, i) in enumerate(trace):
        if kind == "r":
            last_read[i] = t
        else:
            first_write.setdefault(i, t)
    dead_at = sorted((last_read[i], i) for i in range(n_in))
    dead: set[int] = set()
    pos = lowest = lead = 0
    for j, t in sorted(first_write.items(), key=lambda kv: kv[1]):
        while pos < n_in and dead_at[pos][0] < t:
            dead.add(dead_at[pos][1])
            pos += 1
        while lowest < n_in and lowest in dead:
            lowest += 1
        if lowest < n_in:  # j + delta < lowest, i.e. lead >= j + 1 - lowest
            lead = max(lead, j + 1 - lowest)
    return lead


def out_pad(size, k, stride, dil, same):
    eff = (k - 1) * dil + 1
    if same:
        out = (size + stride - 1) // stride
        return out, max((out - 1) * stride + eff - size, 0) // 2
    return (size - eff) // stride + 1, 0


def _geometries(seed, n, depthwise=False):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        ih, iw = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        ic = int(rng.integers(1, 5))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        dh, dw = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
        same = bool(rng.random() < 0.5)
        oh, pt = out_pad(ih, kh, sh, dh, same)
        ow, pl = out_pad(iw, kw, sw, dw, same)
        if oh < 1 or ow < 1:
            continue
        oc = ic * int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 7))
        cases.append((ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw))
    return cases


@pytest.mark.parametrize("g", _geometries(1, 60), ids=lambda g: "x".join(map(str, g)))
def test_conv_lead_is_safe_and_tight(g):
    ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw = g
    want = exact_lead(conv_trace(*g), ih * iw * ic)
    lead = sliding_window_lead((ih, iw, ic), (oh, ow, oc), (sh, sw), (pt, pl), (kh, kw), (dh, dw))
    assert want <= lead <= want + oc


@pytest.mark.parametrize("groups", [2, 3])
def test_grouped_conv_lead_is_safe(groups):
    for g in _geometries(7, 20):
        ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw = g
        ic, oc = ic * groups, oc * groups
        g = (ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw)
        want = exact_lead(conv_trace(*g, groups=groups), ih * iw * ic)
        lead = sliding_window_lead((ih, iw, ic), (oh, ow, oc), (sh, sw), (pt, pl), (kh, kw), (dh, dw))
        assert want <= lead <= want + oc


@pytest.mark.parametrize("g", _geometries(2, 60, depthwise=True), ids=lambda g: "x".join(map(str, g)))
def test_depthwise_lead_is_safe_and_tight(g):
    ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl, dh, dw = g
    want = exact_lead(depthwise_trace(*g), ih * iw * ic)
    lead = sliding_window_lead((ih, iw, ic), (oh, ow, oc), (sh, sw), (pt, pl), (kh, kw), (dh, dw))
    assert want <= lead <= want + oc


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(4))
def test_pool_lead_is_safe_and_tight(kind, seed):
    for g in _geometries(100 + seed, 15, depthwise=True):
        ih, iw, c, oh, ow, _, kh, kw, sh, sw, ph, pw, _, _ = g
        if kh <= ph or kw <= pw:
            continue
        n = 1 + seed % 2
        trace = (max_pool_trace if kind == "max" else avg_pool_trace)(n, ih, iw, c, oh, ow, kh, kw, sh, sw, ph, pw)
        want = exact_lead(trace, n * ih * iw * c)
        lead = sliding_window_lead((ih, iw, c), (oh, ow, c), (sh, sw), (ph, pw), (kh, kw), batches=n)
        assert want <= lead <= want + c


def test_known_leads():
    # 1x1 convolution, channels kept: the output must stay one pixel ahead
    assert sliding_window_lead((5, 5, 64), (5, 5, 64), (1, 1), (0, 0), (1, 1)) == 64
    # 3x3 'same', stride 1: one row plus two pixels (resnet's 32x32x16 blocks: 34 * 16)
    assert sliding_window_lead((32, 32, 16), (32, 32, 16), (1, 1), (1, 1), (3, 3)) == 34 * 16
    # global average pool: the single output pixel goes below the input
    assert sliding_window_lead((25, 5, 64), (1, 1, 64), (1, 1), (0, 0), (25, 5)) == 64
    # shrinking stride-2 window: the output may start where the input starts... almost
    assert sliding_window_lead((8, 8, 4), (4, 4, 4), (2, 2), (0, 0), (2, 2)) == 4


# ---------------------------------------------------------------------------- real kernels


def overlapped_pairs(gen):
    """(input tensor, output tensor, input offset - output offset, declared lead) of every
    declared overlap the plan actually uses (the two share bytes)."""
    plan = gen.plan
    by_id = {b.id: (b, o) for b, o in zip(plan.buffers, plan.offsets)}
    used = []
    for s in plan.shared:
        (bi, oi), (bo, oo) = by_id[s.input], by_id[s.output]
        if oo < oi + bi.size and oi < oo + bo.size:
            used.append((bi.tensors[0], bo.tensors[0], oi - oo, s.lead))
    return used


def check_model(model: bytes, runtime_lib, tmp_path, samples=3, seed=0, expect_overlaps=None,
                reorder_from=None):
    """Generate (the planner overlaps wherever a kernel allows), check the overlaps are used,
    run under ASan/UBSan and compare with tflite-micro. ``expect_overlaps`` defaults to every
    declaration whose lead leaves room to share a byte."""
    from edgekit.frontend import reference
    from edgekit.plan import apply_order
    from edgekit.target.host import build_host_runner, random_inputs, run_host

    graph = parse_tflite(model, name="case")
    if reorder_from is not None:  # start from a worse (still topological) operator order
        graph = apply_order(graph, reorder_from(graph))
    gen = generate(graph, tmp_path / "model", target=WHOLE)  # the kernels' overlaps, not streamed segments'
    used = overlapped_pairs(gen)
    if expect_overlaps is None:
        sizes = {b.id: b.size for b in gen.plan.buffers}
        expect_overlaps = sum(align_up(s.lead) < sizes[s.output] for s in gen.plan.shared)
    assert len(used) >= expect_overlaps, (used, gen.plan.shared)
    for _, _, gap, lead in used:
        assert gap >= lead
        if len(graph.ops) == 1:  # tight: the planner goes exactly as far as the kernel allows
            assert gap == align_up(lead)
    data = random_inputs(graph, samples, seed)
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
    ours = run_host(exe, gen.inputs, gen.outputs, data)
    want = reference.run_tflm(model, data)
    for s, (o, w) in enumerate(zip(ours, want)):
        for k, (a, b) in enumerate(zip(o, w)):
            np.testing.assert_array_equal(a, b.reshape(a.shape), err_msg=f"sample {s} output {k}")
    return gen, used


CONV_CASES = [
    # (input shape, filters, kernel, strides, padding, dilation)
    ((8, 8, 4), 4, (3, 3), (1, 1), "same", (1, 1)),
    ((9, 7, 3), 8, (3, 3), (2, 2), "same", (1, 1)),
    ((10, 10, 8), 4, (3, 3), (2, 2), "valid", (1, 1)),
    ((6, 6, 8), 16, (1, 1), (1, 1), "valid", (1, 1)),
    ((6, 6, 16), 8, (1, 1), (1, 1), "valid", (1, 1)),
    ((12, 9, 2), 6, (5, 3), (1, 1), "same", (2, 2)),
    ((7, 11, 5), 3, (2, 4), (1, 2), "same", (1, 1)),
]


@pytest.mark.parametrize("shape,filters,kernel,strides,padding,dilation", CONV_CASES)
def test_conv2d_overlapped_bit_exact(shape, filters, kernel, strides, padding, dilation,
                                     runtime_lib, tmp_path):
    import keras

    from opmodels import keras_op

    layer = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                                dilation_rate=dilation, activation="relu")
    gen, _ = check_model(keras_op(layer, shape, seed=3), runtime_lib, tmp_path)
    assert gen.calls[0].function.startswith("ek_conv2d")


DW_CASES = [
    ((8, 8, 8), 1, (3, 3), (1, 1), "same", (1, 1)),
    ((9, 9, 4), 2, (3, 3), (2, 2), "same", (1, 1)),
    ((10, 7, 6), 1, (3, 3), (1, 1), "valid", (2, 2)),
    ((25, 5, 16), 1, (3, 3), (1, 1), "same", (1, 1)),
]


@pytest.mark.parametrize("shape,mult,kernel,strides,padding,dilation", DW_CASES)
def test_depthwise_overlapped_bit_exact(shape, mult, kernel, strides, padding, dilation,
                                        runtime_lib, tmp_path):
    import keras

    from opmodels import keras_op

    layer = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                         depth_multiplier=mult, dilation_rate=dilation)
    check_model(keras_op(layer, shape, seed=4), runtime_lib, tmp_path)


POOL_CASES = [
    ("max", (8, 8, 4), (2, 2), (2, 2), "valid"),
    ("max", (9, 7, 3), (3, 3), (1, 1), "same"),
    ("avg", (9, 9, 8), (3, 3), (2, 2), "same"),
    ("avg", (25, 5, 16), (25, 5), (1, 1), "valid"),
]


@pytest.mark.parametrize("kind,shape,pool,strides,padding", POOL_CASES)
def test_pool_overlapped_bit_exact(kind, shape, pool, strides, padding, runtime_lib, tmp_path):
    import keras

    from opmodels import keras_op

    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    check_model(keras_op(cls(pool, strides=strides, padding=padding), shape, seed=5),
                runtime_lib, tmp_path)


def test_residual_block_overlaps_bit_exact(runtime_lib, tmp_path):
    """conv -> depthwise -> 1x1 conv plus a 1x1 shortcut, an ADD in place, a pool: several
    overlaps in one plan, bit-exact."""
    import keras

    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(a)
        c = keras.layers.Conv2D(8, 1)(b)
        s = keras.layers.Conv2D(8, 1)(x)
        y = keras.layers.Add()([c, s])
        return keras.layers.MaxPooling2D(2)(y)

    gen, used = check_model(keras_graph(build, [(12, 12, 8)], seed=6), runtime_lib, tmp_path,
                            expect_overlaps=3)
    assert {gen.graph.ops[k].type_name for k in {s.step for s in gen.plan.shared}} >= {"ADD"}


def test_branches_are_reordered_bit_exact(runtime_lib, tmp_path):
    """Two branches, each a wide convolution reduced by a global mean, joined by an ADD. Handed
    over with both convolutions first (a valid but wasteful order), the planner finishes one
    branch before starting the other; the renumbered graph is still bit-exact."""
    import keras

    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(32, 3, padding="same")(x)
        b = keras.layers.Conv2D(32, 3, padding="same")(x)
        a = keras.layers.GlobalAveragePooling2D(keepdims=True)(a)
        b = keras.layers.GlobalAveragePooling2D(keepdims=True)(b)
        return keras.layers.Add()([a, b])

    def convs_first(graph):
        convs = [op.index for op in graph.ops if op.type_name == "CONV_2D"]
        return convs + [op.index for op in graph.ops if op.index not in convs]

    gen, _ = check_model(keras_graph(build, [(10, 10, 4)], seed=7), runtime_lib, tmp_path,
                         expect_overlaps=0, reorder_from=convs_first)
    sched = gen.plan.schedule
    assert sched.exact and sched.changed
    assert sched.peak < sched.original_peak
    kinds = [op.type_name for op in gen.graph.ops]
    assert kinds.index("CONV_2D") < kinds.index("MEAN") < len(kinds) - 1 - kinds[::-1].index("CONV_2D")

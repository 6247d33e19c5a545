"""Streamed segments (loop buffering, issue 14): chains of operators run band by band, their inner
tensors kept as a few rows.

* the planner's row arithmetic: every row buffer is as small as the schedule allows (one row less
  and the row-by-row replay finds a read of a row the buffer no longer holds), a 3x3 window's
  buffer holds at least its three rows, and the replay refuses a corrupted schedule;
* generated C bit-exact with tflite-micro (host, ASan + UBSan; portable and DSP kernels, Winograd
  included) on models built here whose chains have strides, dilation, SAME and VALID padding, odd
  map sizes, residual ADDs (made over in place), an explicit PAD, windowed and whole-map pools,
  each forced into one segment at bands of one and two rows; and on the emulated Cortex-M4, where
  the DSP inner loops are assembly;
* the MLPerf Tiny models (tests/models) as edgekit generates them by default: where streaming is
  chosen its arena is below the whole-tensor plan's, and outputs equal tflite-micro's;
* ``edgekit plan`` shows the segments; ``--no-stream`` keeps whole tensors.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codegen import generate, op_memory, plan_model, segment_scratch_fits
from edgekit.codegen import stream as streaming
from edgekit.codegen.core import HOST, Target, target_for_cpu
from edgekit.ir import parse_tflite, read_tflite
from edgekit.plan import plan_graph
from edgekit.plan.stream import RowMap, Stage, StreamViolation, plan_segment, planning_graph, verify_segment
from edgekit.target.host import build_host_runner, random_inputs, run_host

from conftest import REAL_MODELS
from test_kernels_dsp import needs_board

DSP = Target("host-dsp", dsp=True)
WINO = dataclasses.replace(DSP, winograd_min_pixels=0)  # every 3x3 stride-1 convolution Winograd can take


# ---------------------------------------------------------------------------- the planner's rows

def _chain():
    """X (whole, 16 rows) -> A 3x3 s1 pad 1 -> t1 -> B 3x3 s1 pad 1 -> t2; C = ADD(t1, t2) -> t3;
    D 3x3 s2 pad 0 on t3 -> t4 (7 rows, whole); Winograd-like pairs on B."""
    stages = (Stage(0, 1, 16, (RowMap(0, 1, 1, 3),)),
              Stage(1, 2, 16, (RowMap(1, 1, 1, 3),), pairs=True),
              Stage(2, 3, 16, (RowMap(1), RowMap(2))),
              Stage(3, 4, 7, (RowMap(3, 2, 0, 3),)))
    rows = {0: 16, 1: 16, 2: 16, 3: 16, 4: 7}
    row_bytes = dict.fromkeys(rows, 40)
    return stages, rows, row_bytes, {1, 2, 3}


@pytest.mark.parametrize("band", [1, 2, 3])
def test_row_buffers_are_as_small_as_the_schedule_allows(band):
    stages, rows, row_bytes, buffered = _chain()
    seg = plan_segment(stages, rows, row_bytes, buffered, band)
    assert seg.buffers == (1, 2, 3) and seg.outputs == (4,) and seg.inputs == (0,)
    windows = {1: 3, 2: 1, 3: 3}  # t1: read by a 3x3 window (and the ADD), t2 by the ADD, t3 by a 3x3 window
    for t, r in zip(seg.buffers, seg.buffer_rows):
        assert r >= windows[t], (t, r)
    for j in range(len(seg.buffers)):  # one row less anywhere and some read finds its row gone
        smaller = list(seg.buffer_rows)
        smaller[j] -= 1
        with pytest.raises(StreamViolation):
            verify_segment(dataclasses.replace(seg, buffer_rows=tuple(smaller)), rows)
    assert [seg.made[-1][k] for k in range(4)] == [16, 16, 16, 7]


def test_the_replay_refuses_rows_dropped_too_early_and_rows_not_made():
    stages, rows, row_bytes, buffered = _chain()
    seg = plan_segment(stages, rows, row_bytes, buffered, 1)
    s = next(s for s in range(1, seg.steps) if seg.keep[s][0] < seg.made[s][0])
    keep = [list(k) for k in seg.keep]
    keep[s][0] += 1  # t1 drops a row its consumers still read
    with pytest.raises(StreamViolation):
        verify_segment(dataclasses.replace(seg, keep=tuple(map(tuple, keep))), rows)
    made = [list(m) for m in seg.made]
    made[-1][3] -= 1  # the last operator never makes its last row
    with pytest.raises(StreamViolation):
        verify_segment(dataclasses.replace(seg, made=tuple(map(tuple, made))), rows)
    with pytest.raises(StreamViolation):  # two row buffers placed on the same bytes
        verify_segment(dataclasses.replace(seg, offsets=(0, 0, seg.offsets[2])), rows)


def test_a_whole_output_may_overlap_the_input_it_outruns():
    """A stride-2 chain's whole output is written no faster than its whole input is read: it may
    start at the input (lead 0); the planner's step keeps them in one place."""
    stages = (Stage(0, 1, 8, (RowMap(0, 2, 0, 3),)), Stage(1, 2, 8, (RowMap(1),)))
    seg = plan_segment(stages, {0: 17, 1: 8, 2: 8}, {0: 64, 1: 32, 2: 32}, {1}, 1)
    (ov,) = seg.overlaps
    assert (ov.input, ov.output) == (0, 0) and ov.lead == 0


def test_a_reduction_output_may_lie_on_the_input_it_has_finished_reading():
    """X (whole, 10 rows of 40 bytes) -> A 3x3 -> t1 -> R (a whole-map reduction) -> t2 (one row
    of 16 bytes): R writes t2 once, in the call that sums t1's last row, after A has read X's last
    rows, so t2 may start at X (lead 0); the replay agrees. Were R to write its row in an earlier
    step (it does not: ek_stream.h), X's rows would still be read after it."""
    stages = (Stage(0, 1, 10, (RowMap(0, 1, 1, 3),)), Stage(1, 2, 10, (RowMap(1),), reduce=True, state_bytes=16))
    rows = {0: 10, 1: 10, 2: 1}
    seg = plan_segment(stages, rows, {0: 40, 1: 40, 2: 16}, {1}, 1)
    (ov,) = seg.overlaps
    assert (seg.inputs[ov.input], seg.outputs[ov.output], ov.lead) == (0, 2, 0)
    assert not clobbered(seg, rows, 0, 2, 0)
    early = [list(m) for m in seg.made]
    early[1][1] = 10  # R said done after its first step: X rows 1.. still to be read by A
    assert clobbered(dataclasses.replace(seg, made=tuple(map(tuple, early))), rows, 0, 2, 0)


def test_an_in_place_stage_shares_its_input_rows_buffer():
    """X (whole) -> A 3x3 -> t1 -> P in place (a pointwise convolution made over on t1's rows) ->
    t2 -> B 3x3 -> t3 (whole): t1 has no buffer of its own; t2's holds B's window and the row A
    has just written, one row more than B's window, where t1 and t2 apart took 1 + 3 rows."""
    stages = (Stage(0, 1, 12, (RowMap(0, 1, 1, 3),)),
              Stage(1, 2, 12, (RowMap(1, 1, 0, 2),), in_place=True),
              Stage(2, 3, 12, (RowMap(2, 1, 1, 3),)))
    rows = {0: 12, 1: 12, 2: 12, 3: 12}
    seg = plan_segment(stages, rows, dict.fromkeys(rows, 20), {1, 2}, 1)
    assert seg.buffers == (2,) and seg.aliases == {1: 2} and seg.buffer_rows == (4,)
    apart = plan_segment((stages[0], Stage(1, 2, 12, (RowMap(1),)), stages[2]), rows, dict.fromkeys(rows, 20),
                         {1, 2}, 1)
    assert sum(apart.buffer_rows) == 4 and apart.buffers == (1, 2)
    with pytest.raises(StreamViolation):  # one row less and A overwrites a row B still reads
        verify_segment(dataclasses.replace(seg, buffer_rows=(3,)), rows)
    made = [list(m) for m in seg.made]
    s = next(s for s in range(1, seg.steps) if made[s][1] < made[s][0])
    made[s][1] = made[s][0] + 1  # P makes a row whose input A has not written yet
    with pytest.raises(StreamViolation):
        verify_segment(dataclasses.replace(seg, made=tuple(map(tuple, made))), rows)
    with pytest.raises(ValueError):  # an input another stage reads too cannot be made over
        plan_segment(stages + (Stage(3, 4, 12, (RowMap(1),)),), {**rows, 4: 12}, dict.fromkeys(range(5), 20),
                     {1, 2}, 1)


def clobbered(seg, rows, x: int, y: int, lead: int) -> bool:
    """Replays the segment call by call: whether some call reads a row of whole input ``x`` after
    a call (that one or an earlier one) has written whole output ``y`` over it, ``y`` starting
    ``lead`` bytes below ``x``. The writers of ``y``: its producer and the producers of the tensors
    made over in place in its rows."""
    xb, yb = seg.row_bytes[x], seg.row_bytes[y]
    writers = {k for k, st in enumerate(seg.stages) if st.output == y or seg.aliases.get(st.output) == y}
    calls = []  # per call, in the order the C makes them: (lowest row of x it reads, rows of y written after it)
    written = 0
    for s in range(1, len(seg.made)):
        for k, st in enumerate(seg.stages):
            lo, hi = seg.made[s - 1][k], seg.made[s][k]
            if hi == lo:
                continue
            firsts = [lo if st.reduce else m.first_for(lo) for m in st.inputs if m.tensor == x]
            if k in writers:  # a reduction writes its one row in the call that sums its last rows
                written = max(written, int(hi == st.rows) if st.reduce else hi)
            calls.append((min(firsts, default=None), written))
    for c, (_, rows_written) in enumerate(calls):  # every read from this call on must be above the writes so far
        later = [r for r, _ in calls[c:] if r is not None]
        if later and lead + min(later) * xb < rows_written * yb:
            return True
    return False


def test_a_pair_is_taken_in_the_step_it_is_made():
    """X (whole, 32 rows) -> A 3x3 -> t1 -> S 3x3 stride 2 -> t2 (16 rows) -> W Winograd-like pairs
    -> t3 -> E element-wise -> t4 (whole), in bands of 2 rows of A: the 16-row stages' share is one
    row a step, but W makes two at once, and E takes both in that step, so t3 holds a pair, not a
    pair and the row E could not take yet."""
    stages = (Stage(0, 1, 32, (RowMap(0, 1, 1, 3),)), Stage(1, 2, 16, (RowMap(1, 2, 0, 3),)),
              Stage(2, 3, 16, (RowMap(2, 1, 1, 3),), pairs=True), Stage(3, 4, 16, (RowMap(3),)))
    rows = {0: 32, 1: 32, 2: 16, 3: 16, 4: 16}
    seg = plan_segment(stages, rows, dict.fromkeys(rows, 8), {1, 2, 3}, 2)
    assert dict(zip(seg.buffers, seg.buffer_rows))[3] == 2
    assert all(m[3] == m[2] for m in seg.made)  # every row of t3 taken in the step it was made


def test_pairs_a_row_later_fill_a_paired_consumers_windows():
    """X (whole) -> A 3x3 -> t1 -> W1 pairs -> t2 -> W2 pairs -> t3 (whole), both Winograd-like 3x3
    SAME: W2's pair (2r, 2r + 1) reads rows 2r - 1 .. 2r + 2 of t2, so when W1 makes its pairs
    (0, 1), (2, 3), ... t2 holds W2's four rows and the row W1 made with the last of them: five.
    With W2's pairs a row later ((1, 2), (3, 4), ... after row 0 alone) a pair reads rows 2r .. 2r + 3,
    exactly two of W1's pairs: four."""
    stages = (Stage(0, 1, 16, (RowMap(0, 1, 1, 3),)), Stage(1, 2, 16, (RowMap(1, 1, 1, 3),), pairs=True),
              Stage(2, 3, 16, (RowMap(2, 1, 1, 3),), pairs=True))
    rows = dict.fromkeys(range(4), 16)
    even = plan_segment(stages, rows, dict.fromkeys(rows, 8), {1, 2})
    odd = plan_segment(stages[:2] + (dataclasses.replace(stages[2], odd_pairs=True),), rows,
                       dict.fromkeys(rows, 8), {1, 2})
    assert dict(zip(even.buffers, even.buffer_rows))[2] == 5
    assert dict(zip(odd.buffers, odd.buffer_rows))[2] == 4
    w2 = [m[2] for m in odd.made]
    assert [b - a for a, b in zip(w2, w2[1:]) if b > a] == [1] + [2] * 7 + [1]  # row 0, pairs, row 15


def test_an_element_wise_stage_makes_an_input_over_in_place():
    """X (whole) -> A 3x3 -> t1 -> B 3x3 -> t2; C = ADD(t1, t2) -> t3 -> D 3x3 s2 -> t4 (whole): in
    place on t2, C needs no buffer for t2 (t3's holds its rows). And with C's output whole
    (X -> A -> t1 -> B -> t2, P = 1x1 on X -> t5, E = ADD(t2, t5) -> t6, whole), t5's rows are
    written into t6 where E's rows go: no buffer at all, and t6 overlaps X less far, since P writes
    its rows earlier than E would (the replay finds a row of X overwritten one byte closer)."""
    a, b = Stage(0, 1, 12, (RowMap(0, 1, 1, 3),)), Stage(1, 2, 12, (RowMap(1, 1, 1, 3),))
    rows = {t: 12 for t in range(7)}
    rows[4] = 6
    row_bytes = dict.fromkeys(rows, 20)
    add = Stage(2, 3, 12, (RowMap(1), RowMap(2)))
    d = Stage(3, 4, 6, (RowMap(3, 2, 0, 3),))
    apart = plan_segment((a, b, add, d), rows, row_bytes, {1, 2, 3}, 1)
    shared = plan_segment((a, b, dataclasses.replace(add, in_place=True, in_place_input=1), d), rows, row_bytes,
                          {1, 2, 3}, 1)
    assert apart.buffers == (1, 2, 3) and shared.buffers == (1, 3) and shared.aliases == {2: 3}
    assert shared.block_bytes < apart.block_bytes
    for j in range(len(shared.buffers)):  # still as small as the schedule allows
        smaller = list(shared.buffer_rows)
        smaller[j] -= 1
        with pytest.raises(StreamViolation):
            verify_segment(dataclasses.replace(shared, buffer_rows=tuple(smaller)), rows)
    with pytest.raises(ValueError):  # t1 is read by B too: it cannot be made over
        plan_segment((a, b, dataclasses.replace(add, in_place=True, in_place_input=0), d), rows, row_bytes,
                     {1, 2, 3}, 1)

    pw = Stage(2, 5, 12, (RowMap(0),))
    e = Stage(3, 6, 12, (RowMap(2), RowMap(5)))
    apart = plan_segment((a, b, pw, e), rows, row_bytes, {1, 2, 5}, 1)
    whole = plan_segment((a, b, pw, dataclasses.replace(e, in_place=True, in_place_input=1)), rows, row_bytes,
                         {1, 2, 5}, 1)
    assert 5 in apart.buffers and whole.buffers == (1, 2) and whole.aliases == {5: 6}
    assert whole.block_bytes < apart.block_bytes and whole.outputs == (6,)
    (ov,) = whole.overlaps
    (ov_apart,) = apart.overlaps
    assert ov.lead > ov_apart.lead
    assert not clobbered(whole, rows, 0, 6, ov.lead) and clobbered(whole, rows, 0, 6, ov.lead - 1)
    assert clobbered(whole, rows, 0, 6, ov_apart.lead)  # the lead without P's early writes is too short


@st.composite
def chains(draw):
    """A random segment: windows (stride 1 or 2, spans 1 to 5, SAME-like padding, Winograd-like
    pairs), element-wise stages reading the last tensor and an earlier one of the same height
    (a residual ADD), and maybe a whole-map reduction at the end."""
    rows = {0: draw(st.integers(3, 40))}
    stages, last = [], 0
    for k in range(draw(st.integers(2, 7))):
        t = k + 1
        same = [u for u in rows if u != last and rows[u] == rows[last]]
        if same and draw(st.booleans()):
            maps = (RowMap(last), RowMap(draw(st.sampled_from(same))))
            in_place = draw(st.sampled_from([None, 0, 1]))
            if in_place is None:
                stages.append(Stage(k, t, rows[last], maps))
            else:  # kept below only where the segment allows it
                stages.append(Stage(k, t, rows[last], maps, in_place=True, in_place_input=in_place))
        else:
            stride, span = draw(st.sampled_from([1, 2])), draw(st.integers(1, 5))
            out = -(-rows[last] // stride)
            pad = max(0, ((out - 1) * stride + span - rows[last]) // 2)
            pairs = stride == 1 and span == 3 and draw(st.booleans())
            odd = pairs and draw(st.booleans())  # its first row alone, then pairs from row 1
            stages.append(Stage(k, t, out, (RowMap(last, stride, pad, span),), pairs=pairs, odd_pairs=odd))
        rows[t] = stages[-1].rows
        last = t
    if draw(st.booleans()):
        t = len(stages) + 1
        stages.append(Stage(len(stages), t, rows[last], (RowMap(last),), reduce=True, state_bytes=16))
        rows[t] = 1
        last = t
    # in place only on an input made in the segment that nothing else reads, not itself in place
    # (or hosting a stage's input in place), and not read by the same stage twice
    readers: dict[int, int] = {}
    for s in stages:
        for m in s.inputs:
            readers[m.tensor] = readers.get(m.tensor, 0) + 1
    kept = []
    for s in stages:
        x = s.shared_input
        if x is not None and (x == 0 or readers[x] != 1 or any(u.in_place and (u.output in (x, s.output)
                                                                              or u.shared_input == s.output)
                                                              for u in kept)):
            s = dataclasses.replace(s, in_place=False, in_place_input=0)
        kept.append(s)
    return tuple(kept), rows, last, draw(st.sampled_from([1, 2, 3, 4]))


@settings(max_examples=150, deadline=None)
@given(chains())
def test_any_chain_is_scheduled_with_minimal_verified_buffers(case):
    stages, rows, last, band = case
    buffered = {s.output for s in stages} - {last}
    seg = plan_segment(stages, rows, dict.fromkeys(rows, 8), buffered, band)  # replayed once inside
    assert [seg.made[-1][k] for k in range(len(stages))] == [s.rows for s in stages]
    assert seg.aliases == {s.shared_input: s.output for s in stages if s.in_place}
    assert not set(seg.aliases) & set(seg.buffers)  # made over in place: no buffer of its own
    for ov in seg.overlaps:  # the whole output over the whole input: exactly as far as the replay allows
        x, y = seg.inputs[ov.input], seg.outputs[ov.output]
        assert not clobbered(seg, rows, x, y, ov.lead)
        assert ov.lead == 0 or clobbered(seg, rows, x, y, ov.lead - 1)
    for j in range(len(seg.buffers)):
        smaller = list(seg.buffer_rows)
        smaller[j] -= 1
        with pytest.raises(StreamViolation):
            verify_segment(dataclasses.replace(seg, buffer_rows=tuple(smaller)), rows)


# ---------------------------------------------------------------------------- generated C

def _force(monkeypatch, band: int, ahead: bool = False):
    """Generate with the longest run of operators that take bands as one segment of ``band``
    rows, whatever the arena (the search would keep only what lowers it); ``ahead``: with its
    stages that can make the next row's first pixels ahead doing so."""
    import edgekit.codegen as codegen

    def forced(graph, calls, plan, target, schedule=None):
        stages = {c.op.index: s for c in calls if (s := streaming.stream_stage(graph, c)) is not None}
        runs, run = [], []
        for op in graph.ops:
            if op.index in stages:
                run.append(stages[op.index])
            else:
                runs.append(run)
                run = []
        runs.append(run)
        best = max(runs, key=len)
        while best and best[-1].stage.reduce is False and any(s.stage.reduce for s in best[:-1]):
            best = best[:-1]
        seg = streaming.build_segment(graph, best, band, None, ahead)
        assert seg is not None, [s.call.function for s in best]
        pg, facts, members = planning_graph(graph, op_memory(calls), [seg])
        return [seg], members, calls, target, plan_graph(pg, facts, schedule=schedule)

    monkeypatch.setattr(codegen, "stream_plan", forced)


def _bit_exact(model: bytes, target: Target, runtime_lib, tmp_path, samples=3):
    from edgekit.frontend import reference

    graph = parse_tflite(model, name="case")
    gen = generate(graph, tmp_path / "model", target=target)
    data = random_inputs(graph, samples, 3)
    exe = build_host_runner(gen, tmp_path, sanitize=True, opt="-O1", runtime_lib=runtime_lib)
    ours = run_host(exe, gen.inputs, gen.outputs, data)
    for s, (o, w) in enumerate(zip(ours, reference.run_tflm(model, data))):
        for k, (a, b) in enumerate(zip(o, w)):
            np.testing.assert_array_equal(a, b.reshape(a.shape), err_msg=f"sample {s} output {k}")
    return gen


def residual_model() -> bytes:
    """Two SAME 3x3 convolutions and a residual ADD on a 17x13 map (odd sizes), a VALID stride-2
    convolution, a stride-2 depthwise convolution, and a whole-map average pool."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        b = keras.layers.Conv2D(16, 3, padding="same")(a)
        c = keras.layers.Add()([a, b])
        d = keras.layers.Conv2D(24, 3, strides=2, padding="valid", activation="relu")(c)
        e = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(d)
        f = keras.layers.AveragePooling2D(pool_size=(4, 3))(e)
        return keras.layers.Dense(5)(keras.layers.Flatten()(f))

    return keras_graph(build, [(17, 13, 8)], seed=4)


def window_model() -> bytes:
    """A dilated 5x3 convolution, a SAME 3x3 stride-1 average pool, a 2x2 stride-2 max pool, a
    depthwise convolution with dilation 2 and a pointwise convolution, on a 20x9 map."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(8, (5, 3), dilation_rate=(2, 1), padding="same", activation="relu")(x)
        b = keras.layers.AveragePooling2D(3, strides=1, padding="same")(a)
        c = keras.layers.MaxPooling2D(2, strides=2)(b)
        d = keras.layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", activation="relu6")(c)
        return keras.layers.Conv2D(12, 1)(d)

    return keras_graph(build, [(20, 9, 4)], seed=5)


def depthwise_bands_model() -> bytes:
    """Pointwise and 3x3 depthwise convolutions in turn on a 10x6 map: streamed, a depthwise layer
    on 16 channels runs the DSP general kernel (ek_depthwise_dsp_s8: it widens nothing, where the
    rows kernel would widen its window's rows again for every band), each row's first and last
    pixel reading the padding; one on 18 channels at stride 2 (not a multiple of 4) the rows kernel,
    its ring of all 18 channels widened afresh for each band; and a 16 -> 16 pointwise
    convolution on 6-pixel rows runs in place, in blocks of four pixels across rows."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(16, 1, activation="relu")(x)
        b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(a)
        b = keras.layers.Conv2D(16, 1, activation="relu")(b)
        c = keras.layers.Conv2D(18, 1, activation="relu")(b)
        d = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(c)
        return keras.layers.Conv2D(12, 1)(d)

    return keras_graph(build, [(10, 6, 4)], seed=6)


def branches_model() -> bytes:
    """A 3x3 convolution's output taken by two branches, a SAME 3x3 convolution and a pointwise one,
    added into the model's output, on a 13x9 map: streamed, the ADD makes the pointwise branch's
    rows over in place where they were written, in the whole output (they run ahead of the other
    branch's and would otherwise wait in a row buffer)."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        b = keras.layers.Conv2D(16, 3, padding="same")(a)
        c = keras.layers.Conv2D(16, 1)(a)
        return keras.layers.Add()([b, c])

    return keras_graph(build, [(13, 9, 8)], seed=7)


def padded_model() -> bytes:
    """Explicit padding in a chain (a PAD operator, as Keras's ZeroPadding2D makes): uneven, one row
    above, two below and a column on the left, between a VALID 3x3 convolution and a VALID stride-2
    one, then a depthwise and a pointwise convolution, on a 15x11 map."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(8, 3, padding="valid", activation="relu")(x)
        b = keras.layers.ZeroPadding2D(((1, 2), (1, 0)))(a)
        c = keras.layers.Conv2D(16, 3, strides=2, padding="valid", activation="relu")(b)
        d = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(c)
        return keras.layers.Conv2D(8, 1)(d)

    return keras_graph(build, [(15, 11, 4)], seed=8)


@pytest.fixture(scope="module")
def small_models():
    return {"residual": residual_model(), "window": window_model(), "dwbands": depthwise_bands_model(),
            "branches": branches_model(), "padded": padded_model()}


def assert_add_in_place(name: str, seg, calls) -> None:
    """The residual model's ADD makes its second convolution's rows over in its own row buffer; the
    branches model's makes the pointwise branch's over in the whole output."""
    adds = [s for s in seg.stages if calls[s.op].function.startswith("ek_add")]
    if name == "padded":  # the PAD runs on bands too
        assert any(calls[s.op].function == "ek_pad_s8" for s in seg.stages)
    if name == "residual":
        (add,) = adds
        assert add.in_place and add.output in seg.buffers and add.shared_input not in seg.buffers
    elif name == "branches":
        (add,) = adds
        pointwise = next(c.op.outputs[0] for c in calls  # (Winograd's parameters have no filter size: 3x3)
                         if c.function.startswith("ek_conv") and getattr(c.params, "filter_h", 3) == 1)
        assert add.in_place and add.shared_input == pointwise and add.output in seg.outputs
        assert seg.aliases == {pointwise: add.output} and pointwise not in seg.buffers


@pytest.mark.parametrize("target", [HOST, DSP, WINO], ids=["portable", "dsp", "winograd"])
@pytest.mark.parametrize("band", [1, 2])
@pytest.mark.parametrize("name", ["residual", "window", "dwbands", "branches", "padded"])
def test_forced_segments_equal_tflite_micro(name, band, target, small_models, runtime_lib, tmp_path, monkeypatch):
    _force(monkeypatch, band)
    if target.dsp and name == "dwbands":  # lowered for bands, as the search's segments are
        target = dataclasses.replace(target, banded_ops=frozenset(range(8)), direct_dw_ops=frozenset(range(8)))
    gen = _bit_exact(small_models[name], target, runtime_lib, tmp_path)
    (seg,) = gen.segments
    assert len(seg.ops) >= 4 and seg.band == band
    assert_add_in_place(name, seg, gen.calls)
    functions = {c.function for c in gen.calls if c.op.index in seg.ops}
    if target is WINO and name == "residual":
        assert "ek_conv3x3_wino_dsp_s8" in functions
        assert_odd_pairs(seg)
    if target.dsp:
        assert functions & {"ek_conv2d_dsp_s8", "ek_depthwise_rows_dsp_s8"}
    if target.dsp and name == "dwbands":  # in bands: the general kernel, and the rows kernel on 18 channels
        assert {"ek_depthwise_dsp_s8", "ek_depthwise_rows_dsp_s8"} <= functions
    c = (gen.out_dir / "model.c").read_text()
    assert "ek_rows_keep(" in c and "_rows(&op" in c


def test_an_arena_limit_makes_every_winograd_convolution_direct_where_only_that_fits(small_models):
    """The residual model with Winograd on both its 3x3 convolutions (one map size): a limit just
    below its plan is met by a larger streaming budget alone; below that, only with both
    convolutions direct (rows singly, no row pairs), for more work."""
    graph = parse_tflite(small_models["residual"], name="residual")
    default = plan_model(graph, WINO)
    budget = plan_model(graph, WINO, ram_limit=default.plan.arena_bytes - 1)
    assert budget.plan.arena_bytes < default.plan.arena_bytes and "Winograd" not in budget.limit_note
    direct = plan_model(graph, WINO, ram_limit=budget.plan.arena_bytes - 1)
    assert direct.plan.arena_bytes < budget.plan.arena_bytes and direct.work_units > budget.work_units
    assert "3x3 convolutions direct, not Winograd" in direct.limit_note
    assert not any(st.pairs for seg in direct.segments for st in seg.stages)


def assert_odd_pairs(seg) -> None:
    """The residual model's second Winograd convolution makes its pairs a row later (its first row
    alone, then rows 1-2, 3-4, ...): the pairs the first one makes then fill its windows exactly."""
    (odd,) = [st for st in seg.stages if st.odd_pairs]
    assert odd.pairs and odd.op == seg.stages[1].op
    k = seg.stages.index(odd)
    bands = [(a[k], b[k]) for a, b in zip(seg.made, seg.made[1:]) if b[k] > a[k]]
    assert bands[0] == (0, 1) and all(b - a == 2 for a, b in bands[1:-1])


def assert_ahead(seg, model_c: str) -> None:
    """The segment's first convolution makes the next row's first pixels ahead, into its state."""
    (first,) = [st for st in seg.stages if st.ahead]
    assert first.op == seg.stages[0].op and first.state_bytes > 0
    assert seg.state_offsets[0] >= 0
    assert f"ek_conv2d_dsp_s8_ahead(&op{first.op}_params" in model_c


@pytest.mark.parametrize("band", [1, 2, 4])
@pytest.mark.parametrize("name", ["residual", "window", "dwbands"])
def test_forced_segments_ahead_equal_tflite_micro(name, band, small_models, runtime_lib, tmp_path, monkeypatch):
    """The first convolution (rows of 13, 9 and 6 pixels: never a multiple of 4) computes blocks of
    four pixels across rows, the next row's first ones kept for the next band: the same bits."""
    _force(monkeypatch, band, ahead=True)
    gen = _bit_exact(small_models[name], DSP, runtime_lib, tmp_path)
    (seg,) = gen.segments
    assert seg.band == band
    assert_ahead(seg, (gen.out_dir / "model.c").read_text())


@pytest.mark.parametrize("name", ["pretrainedResnet_quant", "vww_96_int8", "kws_ref_model"])
@pytest.mark.parametrize("target", [HOST, DSP], ids=["portable", "dsp"])
def test_real_models_stream_by_default_with_less_arena(name, target, mlperf_models, runtime_lib, tmp_path):
    model = (mlperf_models / f"{name}.tflite").read_bytes()
    gen = _bit_exact(model, target, runtime_lib, tmp_path)
    whole = generate(parse_tflite(model, name="case"), tmp_path / "whole",
                     target=dataclasses.replace(target, stream=False))
    assert gen.segments and not whole.segments
    assert gen.arena_bytes < whole.arena_bytes
    assert segment_scratch_fits(list(gen.segments), list(gen.calls))  # the calls were lowered for the bands
    if name == "kws_ref_model":  # its segment's last stage, the average pool, writes over the input
        pool = next(op for op in gen.graph.ops if op.type_name == "AVERAGE_POOL_2D")
        x, y = gen.graph.inputs[0], pool.outputs[0]
        at = gen.plan.offset_of_tensor(x)
        assert at <= gen.plan.offset_of_tensor(y) < at + gen.graph.tensors[x].nbytes


def test_a_call_with_more_scratch_than_its_stage_is_caught(mlperf_models):
    """The guard stream_plan keeps a plan through: a segment planned with a depthwise stage's banded
    scratch (the general kernel's row of the zero point) does not fit the whole-tensor rows kernel's
    call (its ring); lowered for the segment's bands, it does, and the depthwise layers run the
    general kernel (``direct_dw_ops``: cheaper in bands of one and two rows, by the same estimate
    as the search's)."""
    from edgekit.codegen import lower_graph
    from edgekit.codegen.stream import build_segment, direct_dw_ops, stream_stage

    graph = read_tflite(mlperf_models / "kws_ref_model.tflite")
    calls = lower_graph(graph, DSP)
    stages = [st for c in calls if (st := stream_stage(graph, c, provisional=True)) is not None]
    for band in (1, 2):
        seg = build_segment(graph, stages[:10], band)
        assert not segment_scratch_fits([seg], calls)
        direct = direct_dw_ops(graph, [seg], calls)
        assert direct == {1, 3, 5, 7}
        banded = lower_graph(graph, dataclasses.replace(DSP, banded_ops=frozenset(seg.ops), direct_dw_ops=direct))
        assert segment_scratch_fits([seg], banded)
        assert {c.function for c in banded if c.op.index in direct} == {"ek_depthwise_dsp_s8"}


def test_kws_forced_into_one_segment_on_the_dsp_kernels(mlperf_models, runtime_lib, tmp_path, monkeypatch):
    """kws on the DSP kernels: its 5-pixel rows would end every band of a pointwise convolution in a
    block of one pixel; in place (64 -> 64 channels), the four pointwise convolutions compute
    blocks of four pixels across rows instead, their input rows in their output's row buffer. By
    default the search streams the whole chain in bands of one row, its depthwise layers on the
    general kernel (``direct_dw_ops``: the rows kernel would widen rows again for every band), its
    first convolution making the next row's first pixels ahead; in bands of one row without that,
    forced, too; both exact."""
    from edgekit.codegen import lower_graph
    from edgekit.codegen.stream import build_segment, stream_stage

    model = (mlperf_models / "kws_ref_model.tflite").read_bytes()
    graph = parse_tflite(model, name="kws")
    default = _bit_exact(model, DSP, runtime_lib, tmp_path / "default")
    (seg,) = default.segments
    assert (seg.ops[0], seg.ops[-1], seg.band) == (0, 9, 1)
    assert_ahead(seg, (default.out_dir / "model.c").read_text())
    assert {c.function for c in default.calls if c.op.type_name == "DEPTHWISE_CONV_2D"} == {"ek_depthwise_dsp_s8"}
    stages = [s for c in lower_graph(graph, DSP) if (s := stream_stage(graph, c)) is not None]
    seg = build_segment(graph, stages[:10], 2)
    assert [s.op for s in seg.stages if s.in_place] == [2, 4, 6, 8] and len(seg.aliases) == 4
    _force(monkeypatch, 1)
    gen = _bit_exact(model, DSP, runtime_lib, tmp_path / "forced")
    (seg,) = gen.segments
    assert seg.stages[-1].reduce  # the whole-map average pool fed row by row
    assert [s.op for s in seg.stages if s.in_place] == [2, 4, 6, 8] and not any(s.ahead for s in seg.stages)
    assert "ek_conv2d_dsp_s8_pixels(" in (gen.out_dir / "model.c").read_text()


def test_no_stream_keeps_todays_plan(mlperf_models, tmp_path):
    graph = read_tflite(mlperf_models / "pretrainedResnet_quant.tflite")
    gen = generate(graph, tmp_path / "a", target=dataclasses.replace(HOST, stream=False))
    assert not gen.segments and "ek_rows" not in (gen.out_dir / "model.c").read_text()
    assert len(gen.plan.buffers) > 0 and all(b.scratch_of is None or b.scratch_of < len(graph.ops)
                                             for b in gen.plan.buffers)


def test_plan_cli_shows_the_segments(mlperf_models, capsys, tmp_path):
    from edgekit.cli import main

    path = str(mlperf_models / "pretrainedResnet_quant.tflite")
    assert main(["plan", path, "--board", "qemu-mps2-an386", "--plot", str(tmp_path / "t.png")]) == 0
    out = capsys.readouterr().out
    assert "STREAMED 0-" in out and "streamed segment 0: ops 0-" in out
    assert "made over in place)" in out and "made over in place in whole t" in out  # the two ADDs
    assert "op 2 in row pairs from row 1 (row 0 alone)" in out  # its second Winograd convolution
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plan", path, "--board", "qemu-mps2-an386", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (seg,) = doc["streamed_segments"]
    assert all(b["rows"] >= 1 for b in seg["row_buffers"])
    assert sum(len(b["also_holds"]) for b in seg["row_buffers"]) == 1
    assert [(p["op"], p["first_row_alone"]) for p in seg["row_pairs"]] == [(1, False), (2, True), (5, False)]
    (kept,) = seg["made_over_in_whole_outputs"]
    assert kept["in"] in seg["whole_outputs"] and kept["tensor"] not in [b["tensor"] for b in seg["row_buffers"]]
    gen = generate(read_tflite(path), tmp_path / "gen", target=target_for_cpu("cortex-m4"))
    assert doc["arena_bytes"] == gen.arena_bytes  # plan --board plans what generate generates
    assert main(["plan", path, "--board", "qemu-mps2-an386", "--json", "--no-stream"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["streamed_segments"] == [] and whole["arena_bytes"] > doc["arena_bytes"]
    # kws: what its stages keep from step to step, where in the block
    assert main(["plan", str(mlperf_models / "kws_ref_model.tflite"), "--board", "qemu-mps2-an386", "--json"]) == 0
    (seg,) = json.loads(capsys.readouterr().out)["streamed_segments"]
    ahead, sums = seg["state"]
    assert (ahead["op"], ahead["what"], ahead["bytes"]) == (0, "next row's first pixels", 3 * 64)
    assert (sums["op"], sums["what"], sums["bytes"]) == (9, "sums", 64 * 4)
    ends = sorted([(b["offset"], b["offset"] + b["bytes"]) for b in seg["row_buffers"]] +
                  [(x["offset"], x["offset"] + x["bytes"]) for x in seg["state"]] + [(seg["scratch_offset"], None)])
    assert all(end <= nxt for (_, end), (nxt, _) in zip(ends, ends[1:]))  # apart, the scratch last


# ---------------------------------------------------------------------------- the DSP build's scratch

def test_small_map_depthwise_needs_no_ring_of_widened_rows(runtime_lib, tmp_path):
    """A 3x3 depthwise convolution on a 1x3 map of 192 channels: the DSP rows kernel's ring of
    widened rows (3 rows x 192 channels of int16) would be several times the tensors. Only the
    filter's middle row ever reads the image, so the call has a 1x3 filter, which the general DSP
    kernel takes with a scratch of one row of the zero point: less than the 576-byte tensor."""
    import keras
    from opmodels import keras_graph

    def build(x):
        a = keras.layers.Conv2D(192, 1, activation="relu")(x)
        b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(a)
        return keras.layers.Conv2D(16, 1)(b)

    model = keras_graph(build, [(1, 3, 8)], seed=7)
    gen = _bit_exact(model, DSP, runtime_lib, tmp_path)
    (dw,) = [c for c in gen.calls if c.op.type_name == "DEPTHWISE_CONV_2D"]
    assert dw.function == "ek_depthwise_dsp_s8" and (dw.params.filter_h, dw.params.filter_w) == (1, 3)
    assert dw.scratch_bytes < 1 * 3 * 192


# ---------------------------------------------------------------------------- the input pulled in rows

PULLED_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"

static int8_t input[MODEL_INPUT_SIZE];
static int asked[MODEL_INPUT_SIZE], calls, fail_at = -1;

static int pull(int32_t row, int8_t *dst, void *ctx)
{
    (void)ctx;
    asked[calls++] = (int)row;
    if (row == fail_at) {
        return 1;
    }
    memcpy(dst, input + row * (MODEL_INPUT_SIZE / ROWS), MODEL_INPUT_SIZE / ROWS);
    return 0;
}

int main(void)
{
    static int8_t a[MODEL_OUTPUT_SIZE], b[MODEL_OUTPUT_SIZE];
    for (int i = 0; i < MODEL_INPUT_SIZE; i++) {
        input[i] = (int8_t)((i * 37 + 11) % 251 - 125);
    }
    if (model_invoke(input, a) != MODEL_OK || model_run_rows(pull, NULL) != MODEL_OK) {
        return 2;
    }
    memcpy(b, model_arena + MODEL_OUTPUT_ARENA_OFFSET, MODEL_OUTPUT_SIZE);
    printf("same %d\n", memcmp(a, b, MODEL_OUTPUT_SIZE) == 0);
    printf("rows");
    for (int i = 0; i < calls; i++) {
        printf(" %d", asked[i]);
    }
    printf("\n");
    calls = 0;
    fail_at = 5;
    const int failed = model_run_rows(pull, NULL) == MODEL_ERROR_INPUT;
    printf("failed %d after %d\n", failed, calls);
    return 0;
}
"""


ROWS_KEEP_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ek_stream.h"

/* Every case: rows [first, end) of row_bytes bytes at base (malloc'd to the byte, at an offset of
 * 0..3 from an aligned address), ek_rows_keep(keep, end), then rows [keep, end) must be at base
 * and row `keep` its first. Prints the cases run and the ones that went wrong. */
int main(void)
{
    int cases = 0, bad = 0;
    for (int32_t row_bytes = 1; row_bytes <= 70; row_bytes++) {
        for (int32_t offset = 0; offset < 4; offset++) {
            for (int32_t drop = 1; drop <= 3; drop++) {
                for (int32_t kept = 0; kept <= 4; kept++) {
                    const int32_t first = 5, keep = first + drop, end = keep + kept;
                    const int32_t n = (end - first) * row_bytes;
                    int8_t *mem = malloc((size_t)(n + offset)), *base = mem + offset;
                    for (int32_t i = 0; i < n; i++) {
                        base[i] = (int8_t)(i * 7 + 3);
                    }
                    ek_rows b = {base, row_bytes, first};
                    ek_rows_keep(&b, keep, end);
                    int ok = b.first == keep && b.base == base;
                    for (int32_t i = 0; i < kept * row_bytes; i++) {
                        ok &= base[i] == (int8_t)((i + drop * row_bytes) * 7 + 3);
                    }
                    ek_rows_keep(&b, keep, end); /* nothing more to drop: nothing moves */
                    for (int32_t i = 0; i < kept * row_bytes; i++) {
                        ok &= base[i] == (int8_t)((i + drop * row_bytes) * 7 + 3);
                    }
                    cases++;
                    bad += !ok;
                    free(mem);
                }
            }
        }
    }
    printf("%d %d\n", cases, bad);
    return 0;
}
"""


def test_rows_keep_moves_the_kept_rows_down_at_any_alignment(runtime_lib, tmp_path):
    """ek_rows_keep copies eight words at a time where both ends are word-aligned (the rows
    overlap when more are kept than dropped), the rest bytewise: every row width from 1 to 70
    bytes, each misalignment, under ASan (a byte past the rows is caught)."""
    from edgekit.target import toolchain

    kernels = Path(__file__).resolve().parents[1] / "firmware" / "kernels"
    (tmp_path / "main.c").write_text(ROWS_KEEP_MAIN)
    exe = toolchain.compile_host([tmp_path / "main.c", runtime_lib], [kernels], tmp_path / "keep",
                                 sanitize=True, opt="-O1")
    cases, bad = map(int, subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split())
    assert cases == 70 * 4 * 3 * 5 and bad == 0


@pytest.mark.parametrize("target", [HOST, DSP], ids=["portable", "dsp"])
def test_pulled_input_leaves_the_arena_and_stays_exact(target, mlperf_models, runtime_lib, tmp_path):
    model = (mlperf_models / "vww_96_int8.tflite").read_bytes()
    gen = _bit_exact(model, dataclasses.replace(target, pull_input=True), runtime_lib, tmp_path)
    (pulled,) = [s.pulled for s in gen.segments if s.pulled is not None]
    assert pulled == gen.inputs[0].tensor.index
    whole = generate(parse_tflite(model, name="case"), tmp_path / "whole", target=target)
    assert gen.arena_bytes < whole.arena_bytes
    assert gen.arena_bytes < gen.inputs[0].nbytes  # smaller than the input alone: the input is not whole in it
    header = (gen.out_dir / "model.h").read_text()
    assert "MODEL_INPUT_ARENA_OFFSET" not in header and "model_run_rows" in header


def test_pull_api_asks_each_row_once_in_order_and_stops_on_error(mlperf_models, tmp_path):
    from edgekit.target import toolchain

    graph = read_tflite(mlperf_models / "pretrainedResnet_quant.tflite")
    gen = generate(graph, tmp_path / "model", target=dataclasses.replace(HOST, pull_input=True))
    assert any(s.pulled is not None for s in gen.segments)
    rows = gen.inputs[0].shape[1]
    (tmp_path / "main.c").write_text(PULLED_MAIN)
    exe = toolchain.compile_host([*gen.sources, tmp_path / "main.c"], gen.include_dirs, tmp_path / "pulled",
                                 sanitize=True, opt="-O1", defines=[f"ROWS={rows}"])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "same 1"  # pulled rows give what the whole input gives
    assert out[1].split()[1:] == [str(r) for r in range(rows)]
    assert out[2] == "failed 1 after 6"  # rows 0..5 asked, the failing one last


@needs_board
def test_pulled_input_on_the_emulated_cortex_m4(mlperf_models, tmp_path):
    from edgekit.harness.deploy import connect
    from edgekit.harness.profile import profile
    from edgekit.target.boards import load_board
    from edgekit.target.build import build_firmware

    path = mlperf_models / "vww_96_int8.tflite"
    board = load_board("qemu-mps2-an386")
    fw = build_firmware(path, board, tmp_path / "fw",
                        target=dataclasses.replace(target_for_cpu(board.cpu), pull_input=True))
    assert any(s.pulled is not None for s in fw.generated.segments)
    with connect(board, None, fw.elf, log=lambda m: None) as dev:
        rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift,
                      samples=2, seed=1)
    assert rep.reference == "tflite-micro" and rep.passed


# ---------------------------------------------------------------------------- the emulated board

@needs_board
@pytest.mark.parametrize("name", ["residual", "window", "dwbands", "branches", "padded"])
def test_forced_segments_on_the_emulated_cortex_m4(name, small_models, tmp_path, monkeypatch):
    from test_kernels_dsp import assert_bit_exact_on_board

    _force(monkeypatch, 1)
    fw = assert_bit_exact_on_board(small_models[name], tmp_path, "qemu-mps2-an386", "CONV_2D",
                                   winograd_min_pixels=0, banded_ops=frozenset(range(8)),
                                   direct_dw_ops=frozenset(range(8)))
    assert fw.generated.segments
    assert_add_in_place(name, fw.generated.segments[0], fw.generated.calls)
    if name == "residual":  # its Winograd convolutions in pairs, the second's a row later
        assert_odd_pairs(fw.generated.segments[0])
    if name == "dwbands":  # the kernels and the in-place stage the docstring names
        dws = [c for c in fw.generated.calls if c.op.type_name == "DEPTHWISE_CONV_2D"]
        assert [c.function for c in dws] == ["ek_depthwise_dsp_s8", "ek_depthwise_rows_dsp_s8"]
        assert dws[1].params.group == dws[1].params.channels == 18
        (seg,) = fw.generated.segments
        assert [s.op for s in seg.stages if s.in_place] == [2] and len(seg.aliases) == 1


@needs_board
@pytest.mark.parametrize("name", ["pretrainedResnet_quant", "kws_ref_model"])
def test_real_models_stream_on_the_emulated_cortex_m4(name, mlperf_models, tmp_path):
    """By default (kws: its depthwise layers on the general kernel's assembly, in bands of one
    row, its first convolution making the next row's first pixels ahead)."""
    from test_kernels_dsp import assert_bit_exact_on_board

    fw = assert_bit_exact_on_board((mlperf_models / f"{name}.tflite").read_bytes(), tmp_path,
                                   "qemu-mps2-an386", "CONV_2D")
    assert fw.generated.segments
    if name == "kws_ref_model":
        (seg,) = fw.generated.segments
        assert_ahead(seg, (fw.generated.out_dir / "model.c").read_text())


@needs_board
def test_forced_ahead_segment_on_the_emulated_cortex_m4(small_models, tmp_path, monkeypatch):
    """The ahead stage on the M4 (rows of 13 pixels, bands of two rows)."""
    from test_kernels_dsp import assert_bit_exact_on_board

    _force(monkeypatch, 2, ahead=True)
    fw = assert_bit_exact_on_board(small_models["residual"], tmp_path, "qemu-mps2-an386", "CONV_2D",
                                   winograd_min_pixels=None, banded_ops=frozenset(range(8)))
    (seg,) = fw.generated.segments
    assert_ahead(seg, (fw.generated.out_dir / "model.c").read_text())

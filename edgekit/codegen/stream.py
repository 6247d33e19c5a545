"""Which lowered operators can run a band of rows at a time, and which segments to stream.

The kernels that take bands are listed here with the wrapper that runs them on output rows
[from, to) (``firmware/kernels/ek_stream.h``, ``dsp/ek_stream_dsp.h``): the wrapper gives the
unchanged kernel the band's input rows, its top padding and its height, so a kernel joins this
table once its parameter struct has those three sizes. The segment arithmetic (steps, row
buffers, their verification) is the planner's (``edgekit/plan/stream.py``).

The search (:func:`choose_segments`) is greedy on the plan's peak: while the step that sets the
arena is an operator that can stream, every run of consecutive streamable operators through it
(and bands of 1, 2 and 4 rows) within the cycle budget is ranked by its plan's peak step
requirement (the fewest kernel calls among equals), the best few are packed, the smallest arena
is kept, and the new peak looked at; it stops when nothing lowers the arena.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..ir import DType, Graph
from ..ir.analysis import op_macs
from ..plan import OpMemory, buffers_for, plan_graph, step_requirements, variables
from ..plan.stream import PULL, RowMap, Segment, Stage, StreamViolation, plan_segment, planning_graph
from . import kernel_facts
from .lowering import KernelCall, ScratchRef, TensorRef
from .ops.dsp_depthwise import DW_RING_BYTES_BANDED, DWR_MIN_OUTPUT_W, rows_group

#: kernel -> (its band wrapper, the parameter fields: input rows, stride, top padding, filter rows,
#: dilation; a number stands for a fixed value)
WINDOW_KERNELS = {
    "ek_conv2d_s8": ("ek_conv2d_s8_rows", ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_conv2d_pal_s8": ("ek_conv2d_pal_s8_rows", ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_depthwise_conv2d_s8": ("ek_depthwise_conv2d_s8_rows",
                               ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_max_pool_s8": ("ek_max_pool_s8_rows", ("in_h", "stride_h", "pad_h", "filter_h", 1)),
    "ek_avg_pool_s8": ("ek_avg_pool_s8_rows", ("in_h", "stride_h", "pad_h", "filter_h", 1)),
    "ek_max_pool_dsp_s8": ("ek_max_pool_dsp_s8_rows", ("in_h", "stride_h", "pad_h", "filter_h", 1)),
    "ek_avg_pool_dsp_s8": ("ek_avg_pool_dsp_s8_rows", ("in_h", "stride_h", "pad_h", "filter_h", 1)),
    "ek_conv2d_dsp_s8": ("ek_conv2d_dsp_s8_rows", ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_conv2d_int4_dsp_s8": ("ek_conv2d_int4_dsp_s8_rows",
                              ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_conv3x3_wino_dsp_s8": ("ek_conv3x3_wino_dsp_s8_rows", ("input_h", 1, "pad_top", 3, 1)),
    "ek_depthwise_dsp_s8": ("ek_depthwise_dsp_s8_rows", ("input_h", "stride_h", "pad_top", "filter_h", "dilation_h")),
    "ek_depthwise_rows_dsp_s8": ("ek_depthwise_rows_dsp_s8_rows", ("input_h", "stride_h", "pad_top", 3, 1)),
    "ek_pad_s8": ("ek_pad_s8_rows", ("in_h", 1, "pad_top", 1, 1)),  # output row r: input row r - pad_top
}
#: element-wise kernels of two equal-shape inputs -> their band wrapper
ELEMENTWISE_KERNELS = {"ek_add_s8": "ek_add_s8_rows", "ek_add_dsp_s8": "ek_add_dsp_s8_rows"}
#: average pool kernels -> their whole-map form fed row by row
GLOBAL_POOLS = {"ek_avg_pool_s8": "ek_global_avg_pool_s8_rows", "ek_avg_pool_dsp_s8": "ek_global_avg_pool_dsp_s8_rows"}
#: kernels computing 2x2 output tiles: their bands are made in pairs of rows
PAIRS = {"ek_conv3x3_wino_dsp_s8"}
#: kernels that can make a 1x1 convolution over in place (its input's rows in its output's row
#: buffer) -> their wrapper, which computes blocks of pixels across rows (``in_place_stage``)
IN_PLACE = {"ek_conv2d_dsp_s8": "ek_conv2d_dsp_s8_pixels"}
#: kernels that can make a band's rows in blocks of pixels across rows, the next row's first pixels
#: into their state, where their inputs are whole (``ahead_stage``) -> their wrapper
AHEAD = {"ek_conv2d_dsp_s8": "ek_conv2d_dsp_s8_ahead"}
HEADERS = {False: "ek_stream.h", True: "ek_stream_dsp.h"}
BANDS = (1, 2, 4)
#: candidates (the lowest peak requirements) packed at each step of the search
PACKED = 6

# ---------------------------------------------------------------------------- what bands cost
# A rough account in "work units" (about a multiply-accumulate of the DSP kernels each), enough to
# keep a segment inside the cycle budget (``Target.stream_cycles_budget``); benchmarks/target.py
# measures the real figure. What a band costs beyond the whole-tensor call:
#  - every call: the wrapper and the kernel's set-up (CALL_UNITS);
#  - ek_conv2d_dsp_s8 computes output pixels four at a time, a last block of one pixel in a loop
#    of its own at about half a block (TAIL_PIXELS): a band of 5 pixels costs 6 (the int4 kernel
#    has no such loop: 8); in place or ahead, blocks run across rows and no band has a tail;
#  - Winograd computes 2x2 tiles in blocks (of 2 or 4: its block_tiles), the same way;
#  - ek_depthwise_rows_dsp_s8 widens every input row its band's windows read, again for each
#    band (WIDEN_UNITS per element; in channel groups, for each output row), where the
#    whole-tensor call widens each row once, and sets up each channel group's loop for every band
#    (GROUP_UNITS);
#  - but with channels a multiple of 4 a banded 3x3 depthwise layer runs ek_depthwise_dsp_s8
#    where that costs less on the segment's bands (``direct_dw_ops``), which widens nothing and
#    costs DW_DIRECT_UNITS per multiply-accumulate, in bands or whole;
#  - before a step writes a row buffer, the rows it keeps move down (KEEP_UNITS per byte).
# Measured on kws (benchmarks/target.py, streamed in bands of one row: 1.18x the whole-tensor
# cycles): widening about 5 cycles per element in bands (channel groups of 8), a group's set-up
# about 200, the moves about 0.8 a byte (ek_rows_keep's eight-word copy: 69,547 cycles for kws's
# 87,680 bytes in bands of one row), where a unit is about 1.6 cycles of the whole model.
CALL_UNITS = 400
WIDEN_UNITS = 3
GROUP_UNITS = 120
KEEP_UNITS = 0.5
#: ek_depthwise_dsp_s8's units per MAC on 3x3 filters (1.27 M cycles for kws's four layers in
#: bands, where the rows kernel takes 0.96 M whole): set so that the estimate of kws streamed
#: matched its measured cycles (benchmarks/target.py: 1.094x the whole-tensor build's in bands of
#: two rows, estimated 1.095x); since, in bands of one row, 1.090x measured and 1.097x estimated
#: with the first convolution ahead, 1.107x and 1.12x without
DW_DIRECT_UNITS = 1.85
BLOCKED = {"ek_conv2d_dsp_s8", "ek_conv2d_int4_dsp_s8"}
#: what a last block of 0-3 pixels costs, in pixels of a block of four (ek_conv2d_dsp_s8; measured
#: on a 1x1 64->64 layer: 1 pixel 0.48 of a block, with the call's set-up; benchmarks/conv_tail.py)
TAIL_PIXELS = {"ek_conv2d_dsp_s8": (0, 2, 4, 4)}


@dataclass(frozen=True)
class StreamStage:
    """A call that can run on bands: its rows and its wrapper (``call`` None: the pulled input)."""

    stage: Stage
    wrapper: str
    call: KernelCall | None


def pull_stage(graph: Graph, calls: list[KernelCall]) -> StreamStage | None:
    """The model's input as rows the caller gives one at a time (``Target.pull_input``): a model of
    one int8 NHWC input whose every reader can run on bands; None otherwise."""
    if len(graph.inputs) != 1:
        return None
    t = graph.inputs[0]
    shape = _image(graph, TensorRef(t))
    readers = [op.index for op in graph.ops if t in op.inputs]
    streamable = {c.op.index for c in calls if stream_stage(graph, c) is not None}
    if shape is None or not readers or not set(readers) <= streamable or t in graph.outputs:
        return None
    return StreamStage(Stage(PULL, t, shape[0], ()), "pull", None)


def _image(graph: Graph, ref) -> tuple[int, int, int] | None:
    """(rows, width, channels) of an int8 activation in NHWC with batch 1, else None."""
    if not isinstance(ref, TensorRef):
        return None
    t = graph.tensors[ref.index]
    if t.dtype != DType.INT8 or len(t.shape) != 4 or t.shape[0] != 1 or t.variable:
        return None
    return t.shape[1], t.shape[2], t.shape[3]


def stream_stage(graph: Graph, call: KernelCall, provisional: bool = False) -> StreamStage | None:
    """``call`` as a segment stage, or None when its kernel cannot run on bands. ``provisional``:
    ``call`` is the whole-tensor lowering, and the stage has the scratch of the call that would run
    it in bands where that is known to be smaller (a depthwise layer's, ``direct_dw_ops``): the
    segments chosen so are lowered for bands before they are kept (``codegen.stream_plan``)."""
    f, p, args = call.function, call.params, call.args
    if f in ELEMENTWISE_KERNELS:
        if getattr(p, "broadcast", 0) or len(args) != 3:
            return None
        shapes = [_image(graph, a) for a in args]
        if None in shapes or len(set(shapes)) != 1:
            return None
        maps = tuple(RowMap(a.index) for a in args[:2])
        return StreamStage(Stage(call.op.index, args[2].index, shapes[2][0], maps), ELEMENTWISE_KERNELS[f], call)
    if f not in WINDOW_KERNELS or p is None:
        return None
    src, dst = _image(graph, args[0]), _image(graph, args[1])
    if src is None or dst is None:
        return None
    wrapper, names = WINDOW_KERNELS[f]
    rows, stride, pad, filt, dil = (getattr(p, n) if isinstance(n, str) else n for n in names)
    scratch = call.scratch_bytes
    if f in GLOBAL_POOLS and dst[:2] == (1, 1) and p.filter_h >= src[0] and p.filter_w >= src[1] \
            and p.pad_h == 0 and p.pad_w == 0:  # the whole map into one pixel: summed row by row
        return StreamStage(Stage(call.op.index, args[1].index, src[0], (RowMap(args[0].index),), reduce=True,
                                 state_bytes=scratch), GLOBAL_POOLS[f], call)
    if rows != src[0]:
        return None
    if provisional and f == "ek_depthwise_rows_dsp_s8" and p.channels % 4 == 0:
        # in bands ek_depthwise_dsp_s8 where it costs less (direct_dw_ops, the usual case), with its scratch
        scratch = min(scratch, kernel_facts.scratch_bytes("ek_depthwise_dsp_s8", p.channels, 3, 3))
    span = (filt - 1) * dil + 1
    return StreamStage(Stage(call.op.index, args[1].index, dst[0], (RowMap(args[0].index, stride, pad, span),),
                             pairs=f in PAIRS, scratch_bytes=scratch), wrapper, call)


def in_place_stage(s: StreamStage, buffered: set[int], made: set[int], readers: dict[int, set[int]]) -> StreamStage:
    """``s`` made over in place where that saves work: a 1x1 stride-1 convolution keeping its
    channel count (ek_conv2d_dsp.h: such a call may run in place) on rows whose pixels are not a
    multiple of 4 (else a band has no last block of fewer pixels to spare), whose input is a row
    buffer made in the segment and read by it alone. In place, its input's rows share its output's
    buffer (one row more than the output's own, where the input had a buffer of its own) and it
    computes blocks of four pixels across rows; a band then needs the next input row too."""
    call = s.call
    if call is None or call.function not in IN_PLACE or s.stage.pairs or s.stage.reduce:
        return s
    p = call.params
    x = call.args[0].index
    if (p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.groups) != (1, 1, 1, 1, 0, 0, 1) \
            or p.input_c != p.output_c or p.input_w % 4 == 0:
        return s
    if x not in buffered or x not in made or s.stage.output not in buffered or readers.get(x) != {call.op.index}:
        return s
    stage = dataclasses.replace(s.stage, inputs=(RowMap(x, 1, 0, 2),), in_place=True)
    return StreamStage(stage, IN_PLACE[call.function], call)


def in_place_inputs(s: StreamStage, buffered: set[int], made: set[int], readers: dict[int, set[int]]) -> list[int]:
    """The inputs an element-wise stage could make over in place (``Stage.in_place_input``): its
    kernel may write its output over that input (the call declares an overlap with no lead), and
    the input is made in the segment, read by this stage alone, so that it needs no row buffer of
    its own: its producer writes its rows where the stage's output rows go."""
    call = s.call
    if call is None or call.function not in ELEMENTWISE_KERNELS or s.stage.in_place:
        return []
    overlaps = {o.input for o in call.overlaps if o.lead == 0}
    tensors = [m.tensor for m in s.stage.inputs]
    return [k for k, x in enumerate(tensors) if k in overlaps and tensors.count(x) == 1 and x in buffered
            and x in made and readers.get(x) == {call.op.index}]


def ahead_stage(s: StreamStage, made: set[int]) -> StreamStage | None:
    """``s`` making the next row's first pixels ahead, where that saves work: a convolution whose
    kernel computes blocks of four pixels across rows (AHEAD) on rows of at least 4 pixels but not
    a multiple of 4 (else a band has no last block of fewer pixels to spare), whose inputs are all
    whole (none made in the segment: the next row's windows are there); None otherwise. Its state
    holds the up to 3 pixels a call makes of the next row."""
    call = s.call
    if call is None or call.function not in AHEAD or s.stage.pairs or s.stage.reduce or s.stage.in_place:
        return None
    w = call.params.output_w
    if w < 4 or w % 4 == 0 or any(m.tensor in made for m in s.stage.inputs):
        return None
    stage = dataclasses.replace(s.stage, ahead=True, state_bytes=3 * call.params.output_c)
    return StreamStage(stage, AHEAD[call.function], call)


def build_segment(graph: Graph, stages: list[StreamStage], band: int, pull: StreamStage | None = None,
                  ahead: bool = False) -> Segment | None:
    """The segment of these consecutive stages, or None when it keeps no tensor as rows or
    cannot be streamed (a whole-map reduction before its end). ``pull``: the pulled input's
    stage, which leads the segment when the segment holds every reader of the input. ``ahead``:
    the stages that can make the next row's first pixels ahead do (``ahead_stage``; None if none
    can): less work, a little more memory, a choice for the search."""
    if len(stages) < 2 or any(s.stage.reduce for s in stages[:-1]):
        return None
    ops = {s.stage.op for s in stages}
    if pull is not None and {op.index for op in graph.ops if pull.stage.output in op.inputs} <= ops:
        stages = [pull, *stages]
    made = {s.stage.output for s in stages}
    readers: dict[int, set[int]] = {}
    for op in graph.ops:
        for t in op.inputs:
            if t >= 0:
                readers.setdefault(t, set()).add(op.index)
    keep_whole = set(graph.outputs) | set(variables(graph))
    buffered = {t for t in made if t not in keep_whole and readers.get(t) and readers[t] <= ops}
    if not buffered:
        return None
    made_by_ops = {s.stage.output for s in stages if s.call is not None}
    stages = [in_place_stage(s, buffered, made_by_ops, readers) for s in stages]
    if ahead:
        faster = [ahead_stage(s, made) for s in stages]  # (the pulled input is rows too)
        if not any(faster):
            return None
        stages = [f or s for f, s in zip(faster, stages)]
    rows = {t.index: t.shape[1] for t in graph.tensors if len(t.shape) == 4}
    row_bytes = {t.index: t.shape[2] * t.shape[3] for t in graph.tensors if len(t.shape) == 4}

    def planned(trial: list[Stage]) -> Segment:
        try:
            return plan_segment(tuple(trial), rows, row_bytes, buffered, band)
        except StreamViolation as exc:  # the schedule or the sizing is wrong: a bug, say it loudly
            raise AssertionError(f"streamed segment of ops {sorted(ops)}: {exc}") from None

    # element-wise stages in place, one at a time, each on the input whose rows then cost least
    # (an input made over in place no longer lags in a buffer of its own; in a row buffer, the
    # output's buffer may grow by the rows it held)
    best = planned([s.stage for s in stages])
    for k, s in enumerate(stages):
        hosts = {st.output for st in best.stages if st.in_place}  # one tensor in another's rows, no chains
        if s.stage.output in best.aliases:
            continue
        for i in in_place_inputs(s, buffered - hosts, made_by_ops, readers):
            trial = list(best.stages)
            trial[k] = dataclasses.replace(s.stage, in_place=True, in_place_input=i)
            seg = planned(trial)
            if seg.block_bytes < best.block_bytes:
                best = seg
    # stages of pairs with their pairs a row later (``Stage.odd_pairs``) where the block shrinks: the
    # best single change at a time while one shrinks it (resnet: the second Winograd stage's, whose
    # consumers' windows then hold a row fewer of its input and of its output)
    while True:
        trials = [dataclasses.replace(st, odd_pairs=not st.odd_pairs) for st in best.stages if st.pairs]
        changed = [planned([t if t.op == st.op else st for st in best.stages]) for t in trials]
        seg = min(changed, key=lambda c: c.block_bytes, default=best)
        if seg.block_bytes >= best.block_bytes:
            return best
        best = seg


def with_state(graph: Graph, seg: Segment, extra: dict[int, int]) -> Segment:
    """``seg`` planned again with ``extra[op]`` bytes of state for those stages (memory kept from the
    segment's first step to its last, at ``state_offsets``: the weights ``--stage-weights`` copies in
    before the loop); they must have none of their own (a reduction's sums)."""
    if not any(s.op in extra for s in seg.stages):
        return seg
    assert not any(s.state_bytes for s in seg.stages if s.op in extra), "a stage's state given twice"
    stages = tuple(dataclasses.replace(s, state_bytes=extra[s.op]) if s.op in extra else s for s in seg.stages)
    rows = {t.index: t.shape[1] for t in graph.tensors if len(t.shape) == 4}
    try:
        return plan_segment(stages, rows, seg.row_bytes, seg.buffered, seg.band)
    except StreamViolation as exc:  # as build_segment: a bug, say it loudly
        raise AssertionError(f"streamed segment of ops {list(seg.ops)}: {exc}") from None


def peak_requirement(graph: Graph, memory: dict[int, OpMemory], segments: list[Segment]
                     ) -> tuple[int, list[int], list[list[int]]]:
    """The largest step requirement of the plan with these segments, per step, and the
    original operators of each step."""
    pg, facts, members = planning_graph(graph, memory, segments)
    buffers, shared = buffers_for(pg, facts)
    need = step_requirements(buffers, shared, len(pg.ops) + 1)
    return max(need), need, members


def _units(graph: Graph, s: StreamStage, bands: list[tuple[int, int]]) -> float:
    """Work units of one stage run on these bands of output rows ([(from, to), ...])."""
    op = s.call.op
    macs = op_macs(graph, op)
    out = graph.tensors[op.outputs[0]]
    width = out.shape[2] if len(out.shape) == 4 else 1
    f = s.call.function
    units = CALL_UNITS * len(bands)
    if (s.stage.in_place and f in IN_PLACE) or s.stage.ahead:
        return units + macs  # blocks of four pixels across rows: a last block of fewer at the end alone
    if f in BLOCKED:
        tail = TAIL_PIXELS.get(f, (0, 4, 4, 4))
        pixels = sum((b - a) * width // 4 * 4 + tail[(b - a) * width % 4] for a, b in bands)
        return units + macs * pixels / max(1, out.shape[1] * width)
    if f == "ek_conv3x3_wino_dsp_s8":
        tiles_w, block = -(-width // 2), s.call.params.block_tiles
        tiles = sum(-(-(-(-(b - a) // 2) * tiles_w) // block) * block for a, b in bands)
        whole = -(-out.shape[1] // 2) * tiles_w
        return units + macs / 2.25 * tiles / max(1, whole)
    if f == "ek_depthwise_dsp_s8" and _dw_direct_3x3(s.call.params):
        q = s.call.params
        if bands == [(0, s.stage.rows)] and q.output_w >= DWR_MIN_OUTPUT_W.get(q.stride_w, q.output_w + 1):
            # a banded operator's whole call, as the whole-tensor build runs it: the rows kernel's ring
            x = graph.tensors[op.inputs[0]]
            return units + macs + WIDEN_UNITS * x.shape[1] * x.shape[2] * x.shape[3] + GROUP_UNITS
        return _dw_direct_units(graph, op, bands)
    if f == "ek_depthwise_rows_dsp_s8":
        rows_units = _dw_rows_units(graph, s, bands)
        if bands != [(0, s.stage.rows)] and s.call.params.channels % 4 == 0:
            # in bands: ek_depthwise_dsp_s8 where it costs less (direct_dw_ops)
            return min(rows_units, _dw_direct_units(graph, op, bands))
        return rows_units
    return units + macs


def _dw_direct_units(graph: Graph, op, bands: list[tuple[int, int]]) -> float:
    """Work units of ek_depthwise_dsp_s8's 3x3 assembly on these bands."""
    return CALL_UNITS * len(bands) + DW_DIRECT_UNITS * op_macs(graph, op)


def stage_bands(seg: Segment, k: int) -> list[tuple[int, int]]:
    """The bands of output rows stage ``k`` of ``seg`` makes, one per step that makes any."""
    made = [m[k] for m in seg.made]
    return [(a, b) for a, b in zip(made, made[1:]) if b > a]


def _dw_rows_units(graph: Graph, s: StreamStage, bands: list[tuple[int, int]]) -> float:
    """Work units of ek_depthwise_rows_dsp_s8 on these bands."""
    op = s.call.op
    x = graph.tensors[op.inputs[0]]
    m = s.stage.inputs[0]
    q = s.call.params
    whole = bands == [(0, s.stage.rows)]  # the whole-tensor call: the ring, one group (dsp_depthwise.py)
    # in bands, the groups the banded lowering takes (dsp_depthwise.lower_depthwise_rows)
    groups = 1 if whole else q.channels // min(q.group, rows_group(q.channels, q.row_len, DW_RING_BYTES_BANDED))
    if groups == 1:  # the ring: a call widens each row its windows read once
        rows = sum(m.rows_for(b, x.shape[1]) - m.first_for(a) for a, b in bands)
    else:  # channel groups: every output row widens its window's rows again
        rows = sum(m.rows_for(r + 1, x.shape[1]) - m.first_for(r) for a, b in bands for r in range(a, b))
    return CALL_UNITS * len(bands) + op_macs(graph, op) + WIDEN_UNITS * rows * x.shape[2] * x.shape[3] + \
        GROUP_UNITS * groups * len(bands)


def direct_dw_ops(graph: Graph, segments: list[Segment], calls: list[KernelCall]) -> frozenset[int]:
    """The depthwise stages of ``segments`` on the rows kernel that cost less on
    ek_depthwise_dsp_s8 in the segment's bands (``_units``: the same choice as the search's
    estimate; ``Target.direct_dw_ops``)."""
    stages = {c.op.index: st for c in calls if (st := stream_stage(graph, c)) is not None}
    out = set()
    for seg in segments:
        for k, st in enumerate(seg.stages):
            s = stages.get(st.op)
            if s is None or s.call is None or s.call.function != "ek_depthwise_rows_dsp_s8" \
                    or s.call.params.channels % 4:
                continue
            bands = stage_bands(seg, k)
            if _dw_direct_units(graph, s.call.op, bands) < _dw_rows_units(graph, dataclasses.replace(s, stage=st),
                                                                           bands):
                out.add(st.op)
    return frozenset(out)


def _dw_direct_3x3(q) -> bool:
    """An ek_depthwise_dsp_s8 call its 3x3 assembly takes (ek_depthwise_dsp.h)."""
    return (q.filter_h, q.filter_w, q.dilation_h, q.dilation_w) == (3, 3, 1, 1)


def extra_units(graph: Graph, seg: Segment, stages: dict[int, StreamStage]) -> float:
    """What running ``seg`` in bands adds, in work units, to its whole-tensor calls (the pulled
    input's rows cost what copying the input into the arena did)."""
    extra = 0.0
    for k, o in enumerate(s.op for s in seg.stages):
        if o == PULL:
            continue
        st = dataclasses.replace(stages[o], stage=seg.stages[k])  # in place or not, as the segment has it
        bands = stage_bands(seg, k)
        if st.stage.reduce:
            extra += CALL_UNITS * (len(bands) - 1)
            continue
        extra += _units(graph, st, bands) - _units(graph, stages[o], [(0, st.stage.rows)])
    return extra + KEEP_UNITS * moved_bytes(seg)


def moved_bytes(seg: Segment) -> int:
    """Bytes ek_rows_keep moves over the segment's steps: before a step, a buffer that drops rows
    moves the rows it keeps (up to the last one made) to its start."""
    producer = {st.output: k for k, st in enumerate(seg.stages)}
    moved, first = 0, [0] * len(seg.buffers)
    for s in range(1, len(seg.made)):
        for j, t in enumerate(seg.buffers):
            keep = seg.keep[s - 1][j]
            end = max(seg.made[s - 1][producer[u]] for u in (t, *seg.sharing(t)))
            if keep > first[j]:
                moved += max(0, end - keep) * seg.row_bytes[t]
                first[j] = keep
    return moved


def _whole_units(graph: Graph, call: KernelCall) -> float:
    """Work units of ``call`` as one whole-tensor call (``_units`` on a single band)."""
    st = stream_stage(graph, call)
    return _units(graph, st, [(0, st.stage.rows)]) if st and not st.stage.reduce else \
        CALL_UNITS + op_macs(graph, call.op)


def model_units(graph: Graph, calls: list[KernelCall]) -> float:
    """Work units of the whole-tensor model (every call once)."""
    return sum(_whole_units(graph, c) for c in calls)


def call_units(graph: Graph, call: KernelCall) -> float:
    """Work units of ``call`` run whole on the kernel it names (``model_units`` costs a whole
    ek_depthwise_dsp_s8 call on wide rows as the rows kernel its banded stage stands for; this, as
    itself: a lean call, ``codegen.leaner``)."""
    if call.function == "ek_depthwise_dsp_s8" and _dw_direct_3x3(call.params):
        return _dw_direct_units(graph, call.op, [(0, 1)])
    return _whole_units(graph, call)


def arena_with(graph: Graph, memory: dict[int, OpMemory], segments: list[Segment]) -> int:
    """The packed arena of the plan with these segments."""
    pg, facts, _ = planning_graph(graph, memory, segments)
    return plan_graph(pg, facts).arena_bytes


def worth_it(whole: int, arena: int, extra: float) -> bool:
    """Whether a plan whose arena is ``arena`` (``whole`` without segments) at ``extra`` times the
    model's work more is worth streaming: the arena falls by at least as large a fraction as the
    work grows (3 % less arena for 8 % more cycles is not a trade to make unasked; under an arena
    limit the limit decides: ``Target.stream_if_worth_it``)."""
    return whole - arena >= extra * whole


def choose_segments(graph: Graph, calls: list[KernelCall], memory: dict[int, OpMemory],
                    budget: float = 0.10, pull: bool = False, if_worth_it: bool = True,
                    provisional: bool = False) -> list[Segment]:
    """Segments that lower the plan's arena (greedy, see the module's text): the candidates are
    ranked by their plan's peak step requirement, and the few best are packed; a set of
    segments whose estimated extra work exceeds ``budget`` times the model's, or (``if_worth_it``)
    that lowers the arena by a smaller fraction than it adds work (``worth_it``), is not taken.
    ``provisional``: ``calls`` are the whole-tensor lowering (``stream_stage``)."""
    stages = {c.op.index: s for c in calls if (s := stream_stage(graph, c, provisional)) is not None}
    units = model_units(graph, calls)
    allowed = budget * units
    puller = pull_stage(graph, calls) if pull else None
    segments: list[Segment] = []
    arena = whole = arena_with(graph, memory, segments)
    best, need, members = peak_requirement(graph, memory, segments)
    built: dict[tuple, Segment | None] = {}  # a candidate is the same in every round: built once
    while True:
        peak_ops = {o for step, n in enumerate(need[:len(members)]) if n == best for o in members[step]}
        lo, hi = min(peak_ops, default=0), max(peak_ops, default=-1)
        if not peak_ops or not set(range(lo, hi + 1)) <= stages.keys():  # no one run of stages holds the peak
            return segments
        while lo - 1 in stages:
            lo -= 1
        while hi + 1 in stages:
            hi += 1
        ranked = []
        for i in range(lo, min(peak_ops) + 1):
            for j in range(max(peak_ops), hi + 1):
                others = [s for s in segments if s.ops[-1] < i or s.ops[0] > j]
                # with --pull-input, the chain without the pulled input too (pulling may cost more
                # work); with and without stages that make the next row's first pixels ahead
                for band, pulled, ahead in ((b, p, a) for b in BANDS for p in ((puller, None) if puller else (None,))
                                            for a in (False, True)):
                    key = (i, j, band, pulled is not None, ahead)
                    if key not in built:
                        built[key] = build_segment(graph, [stages[o] for o in range(i, j + 1)], band, pulled, ahead)
                    seg = built[key]
                    if seg is None:
                        continue
                    trial = sorted(others + [seg], key=lambda s: s.ops[0])
                    extra = sum(extra_units(graph, t, stages) for t in trial)
                    if extra > allowed:
                        continue
                    peak, *_ = peak_requirement(graph, memory, trial)
                    if peak < best:
                        ranked.append((peak, seg.calls(), len(ranked), trial, extra))
        packed = sorted((arena_with(graph, memory, t), calls, k, t, extra)
                        for _, calls, k, t, extra in sorted(ranked)[:PACKED])
        if if_worth_it:
            packed = [c for c in packed if worth_it(whole, c[0], c[4] / units)]
        if not packed or packed[0][0] >= arena:
            return segments
        arena, _, _, segments, _ = packed[0]
        best, need, members = peak_requirement(graph, memory, segments)


def stage_calls(segment: Segment, calls: list[KernelCall], graph: Graph) -> list[StreamStage]:
    by_op = {c.op.index: c for c in calls}
    out = []
    for s in segment.stages:
        if s.op == PULL:
            out.append(StreamStage(s, "pull", None))
        elif s.in_place and by_op[s.op].function in IN_PLACE:
            out.append(StreamStage(s, IN_PLACE[by_op[s.op].function], by_op[s.op]))
        elif s.ahead:
            out.append(StreamStage(s, AHEAD[by_op[s.op].function], by_op[s.op]))
        else:  # (an element-wise stage in place runs its usual wrapper on the shared rows)
            out.append(dataclasses.replace(stream_stage(graph, by_op[s.op]), stage=s))
    return out


def stage_args(s: StreamStage, rows_of, scratch: str, state: str) -> list[str]:
    """The wrapper's arguments after its parameter struct: row views of the tensors, the shared
    scratch, the reduction's sums or an ahead stage's pixels (``rows_of(tensor)``: the C name of a
    tensor's ek_rows)."""
    a = s.call.args
    if s.wrapper in GLOBAL_POOLS.values():
        return [f"&{rows_of(a[0].index)}", f"T{a[1].index}", f"(int32_t *)({state})"]
    out = [f"&{rows_of(r.index)}" for r in a if isinstance(r, TensorRef)]
    if any(isinstance(r, ScratchRef) for r in a):
        out.append(scratch)
    if s.stage.ahead:  # the next row's first pixels
        out.append(f"(int8_t *)({state})")
    return out


__all__ = ["BANDS", "ELEMENTWISE_KERNELS", "GLOBAL_POOLS", "HEADERS", "StreamStage", "WINDOW_KERNELS",
           "build_segment", "choose_segments", "peak_requirement", "stage_args", "stage_calls", "stream_stage",
           "with_state"]

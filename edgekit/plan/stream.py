"""Streamed segments (loop buffering): a chain of operators run band by band, its inner tensors
kept as a few rows.

A *segment* is a run of consecutive operators of the schedule whose outputs are made row by
row: sliding windows (convolutions, depthwise convolutions, pools; a PAD is a window of one row
shifted by its top padding), element-wise operators (ADD), and a whole-map reduction at its end (a global average pool); its first stage may be the
model's input, pulled from the caller a row at a time (``PULL``). It runs in steps
(:func:`schedule_rows`): the first stage makes ``band`` rows a step, every other, producer before
consumer, as many as its inputs allow but no more than its share of the band. A tensor made and
read only inside the segment (a *row buffer*) holds the rows not yet read by all its consumers
plus those just written; before its producer writes, the rows no consumer needs any more are
dropped (the C moves the rest down, ``ek_rows_keep`` in ``firmware/kernels/ek_stream.h``).
Every other tensor the segment touches is whole.

The planner sees a segment as one operator (:func:`planning_graph`): its whole inputs and
outputs, and one block of scratch holding the row buffers, the accumulators of a reduction
and the kernels' scratch (shared: one kernel runs at a time). What is here is plain data and
arithmetic on rows; which kernels take bands is the code generator's fact
(``edgekit/codegen/stream.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..ir import Graph, Op
from .buffers import OpMemory, Overlap, align_up


#: the op of a segment's first stage when it pulls the model's input from the caller row by row
PULL = -1


class StreamViolation(AssertionError):
    """A segment's schedule reads a row its buffer no longer (or not yet) holds."""


@dataclass(frozen=True)
class RowMap:
    """How an operator's output rows read one of its inputs: output row ``r`` reads input rows
    ``r * stride - pad_top`` .. ``+ span - 1`` (clipped to the image). Element-wise: 1, 0, 1."""

    tensor: int
    stride: int = 1
    pad_top: int = 0
    span: int = 1

    def rows_for(self, n: int, input_rows: int) -> int:
        """How many input rows (from row 0) the first ``n`` output rows read."""
        if n <= 0:
            return 0
        return min(input_rows, (n - 1) * self.stride - self.pad_top + self.span)

    def first_for(self, n: int) -> int:
        """The first input row output row ``n`` reads."""
        return max(0, n * self.stride - self.pad_top)


@dataclass(frozen=True)
class Stage:
    """One operator of a segment, as rows.

    ``rows``: the rows it makes (a reduction: the rows of its input it adds up; its output is
    written at the end). ``pairs``: it makes rows two at a time (Winograd's 2x2 tiles; a last odd
    row alone); ``odd_pairs``: its first row alone, then the pairs (1, 2), (3, 4), ... (a kernel of
    pairs computes them from any row: where a consumer's windows straddle the usual pairs, its
    buffer then holds a row fewer). ``scratch_bytes``: its kernel's scratch during a call;
    ``state_bytes``: memory it keeps from the first step to the last (a reduction's sums). ``in_place``: its input
    ``inputs[in_place_input]`` is a tensor made in the segment that only it reads, with rows as
    long as its output's, and the two share storage: its producer writes row r where the stage's
    output row r will be, and the stage makes it over in place (a pointwise convolution whose
    kernel reads a block of pixels before writing it; an element-wise operator, which reads
    element i before it writes output element i). The output is a row buffer, or a whole tensor:
    the input then needs no buffer at all. ``ahead``: its inputs are whole, and a band's call also
    makes the next row's first pixels, into its state (``state_bytes``), which the next call moves
    into place (a convolution computing blocks of four pixels across rows, as its whole-tensor
    call does): no buffer holds more rows for it."""

    op: int
    output: int
    rows: int
    inputs: tuple[RowMap, ...]
    reduce: bool = False
    pairs: bool = False
    scratch_bytes: int = 0
    state_bytes: int = 0
    in_place: bool = False  # an input's rows live where its output's rows go, made over in place
    in_place_input: int = 0  # which input (with ``in_place``)
    ahead: bool = False  # makes the next row's first pixels into its state (whole inputs only)
    odd_pairs: bool = False  # with pairs: row 0 alone, then pairs from row 1

    @property
    def shared_input(self) -> int | None:
        """The tensor whose rows this stage makes over in place, if any."""
        return self.inputs[self.in_place_input].tensor if self.in_place else None


@dataclass(frozen=True)
class Segment:
    """A planned segment: its stages, the rows each has made after every step, and its row
    buffers' sizes and places in its block."""

    stages: tuple[Stage, ...]
    band: int
    made: tuple[tuple[int, ...], ...]  # made[s][k]: rows stage k has made after step s (made[0]: 0s)
    keep: tuple[tuple[int, ...], ...]  # keep[s - 1][j]: before step s, the first row buffer j keeps
    buffers: tuple[int, ...]  # the row-buffered tensors, in stage order
    buffer_rows: tuple[int, ...]  # rows each row buffer holds at most
    row_bytes: dict[int, int] = field(default_factory=dict)  # tensor -> bytes per row
    offsets: tuple[int, ...] = ()  # each row buffer's offset in the block
    state_offsets: tuple[int, ...] = ()  # per stage with state_bytes, its offset (else -1)
    scratch_offset: int = 0  # the kernels' shared scratch
    block_bytes: int = 0
    inputs: tuple[int, ...] = ()  # whole tensors read
    outputs: tuple[int, ...] = ()  # whole tensors written
    overlaps: tuple[Overlap, ...] = ()  # how far each whole output may overlap a whole input (indices above)
    aliases: dict[int, int] = field(default_factory=dict)  # an in-place stage's input -> its output (shared rows)

    def sharing(self, t: int) -> tuple[int, ...]:
        """The tensors whose rows live in row buffer or whole output ``t`` besides its own (in-place
        stages' inputs)."""
        return tuple(x for x, y in self.aliases.items() if y == t)

    @property
    def buffered(self) -> set[int]:
        """The tensors kept as rows (``plan_segment``'s ``buffered``): those with a row buffer and
        those made over in place in a stage's rows."""
        return set(self.buffers) | set(self.aliases)

    @property
    def in_whole(self) -> dict[int, int]:
        """The tensors made over in place in a whole output -> that output."""
        return {x: y for x, y in self.aliases.items() if y in self.outputs}

    @property
    def steps(self) -> int:
        return len(self.made) - 1

    @property
    def ops(self) -> tuple[int, ...]:
        """The operators the segment runs (not the pulled input's stage)."""
        return tuple(s.op for s in self.stages if s.op >= 0)

    @property
    def pulled(self) -> int | None:
        """The model input this segment pulls row by row from the caller (a stage with op PULL)."""
        return next((s.output for s in self.stages if s.op == PULL), None)

    def calls(self) -> int:
        """Kernel calls that do work: (step, stage) pairs that make rows."""
        return sum(1 for s in range(1, len(self.made)) for k in range(len(self.stages))
                   if self.made[s][k] > self.made[s - 1][k])


def _consumers(stages: tuple[Stage, ...]) -> dict[int, list[tuple[int, RowMap]]]:
    out: dict[int, list[tuple[int, RowMap]]] = {}
    for k, st in enumerate(stages):
        for m in st.inputs:
            out.setdefault(m.tensor, []).append((k, m))
    return out


def schedule_rows(stages: tuple[Stage, ...], tensor_rows: dict[int, int], band: int) -> list[list[int]]:
    """Rows each stage has made after each step (row 0: none). The first stage makes ``band`` rows
    a step; every other makes as many as the rows its inputs hold allow, but no more a step than
    its share of the band (``band`` times its rows over the first stage's, at least one row; at
    least its producers' share, scaled to its rows, so that it takes a pair a Winograd stage makes
    in the step it is made; in pairs where it must, a last odd row alone, with ``odd_pairs`` the
    first row alone too): no stage runs ahead of what its consumers take, and none makes a burst
    of rows at the end that its consumer's buffer would have to hold."""
    if band < 1:
        raise ValueError("band is a number of rows >= 1")
    producer = {st.output: k for k, st in enumerate(stages)}
    first = stages[0]
    cap = []
    for st in stages:
        c = max(1, -(-band * st.rows // first.rows))
        for m in st.inputs:  # a burst of rows its producer makes in one step may be taken in that step
            if m.tensor in producer:
                k = producer[m.tensor]
                c = max(c, -(-cap[k] * st.rows // stages[k].rows))
        cap.append(c + c % 2 if st.pairs else c)
    made = [[0] * len(stages)]
    while any(made[-1][k] < st.rows for k, st in enumerate(stages)):
        now = list(made[-1])
        now[0] = min(first.rows, now[0] + band)
        for k in range(1, len(stages)):
            st = stages[k]
            n = now[k]
            while n < min(st.rows, made[-1][k] + cap[k]):
                step = 2 if st.pairs and n + 2 <= st.rows and not (st.odd_pairs and n == 0) else 1
                if n + step > made[-1][k] + cap[k]:  # (after an odd first row: the pair in the next step)
                    break
                ok = True
                for m in st.inputs:
                    have = now[producer[m.tensor]] if m.tensor in producer else tensor_rows[m.tensor]
                    want = n + step if st.reduce else m.rows_for(n + step, tensor_rows[m.tensor])
                    ok = ok and want <= have
                if not ok:
                    break
                n += step
            now[k] = n
        if now == made[-1]:
            raise AssertionError(f"segment of ops {[st.op for st in stages]}: no stage can make a row")
        made.append(now)
    return made


def _first_needed(stage: Stage, m: RowMap, done: int) -> int:
    """The first row of ``m``'s input that ``stage`` still reads once it has made ``done`` rows."""
    if done >= stage.rows:
        return 1 << 30
    return done if stage.reduce else m.first_for(done)


def plan_segment(stages: tuple[Stage, ...], tensor_rows: dict[int, int], row_bytes: dict[int, int],
                 buffered: set[int], band: int = 1) -> Segment:
    """Steps, row-buffer sizes and the block's layout of a segment; ``buffered``: the tensors
    made and read only inside it (the others are whole)."""
    made = schedule_rows(stages, tensor_rows, band)
    cons = _consumers(stages)
    producer = {st.output: k for k, st in enumerate(stages)}
    aliases = {st.shared_input: st.output for st in stages if st.in_place}
    for x, y in aliases.items():
        if not (x in buffered and x in producer and row_bytes[x] == row_bytes[y] and len(cons[x]) == 1):
            raise ValueError(f"tensor {x} cannot share the rows of tensor {y}")
    order = [st.output for st in stages if st.output in buffered and st.output not in aliases]
    members = {t: [t, *(x for x, y in aliases.items() if y == t)] for t in order}  # tensors sharing t's buffer
    keep: list[tuple[int, ...]] = []
    most = dict.fromkeys(order, 0)
    # per buffer: the stages reading its tensors (their index, rows, reduce, map) and the stages writing them
    reading = {t: [(c, stages[c].rows, stages[c].reduce, m) for u in members[t] for c, m in cons.get(u, [])]
               for t in order}
    writing = {t: [producer[u] for u in members[t]] for t in order}
    for s in range(1, len(made)):
        before, after = made[s - 1], made[s]
        row = []
        for t in order:
            first = before[producer[t]]  # nothing beyond what was made
            for c, rows, reduce, m in reading[t]:  # the first row each reader still reads (_first_needed)
                done = before[c]
                if done < rows:
                    first = min(first, done if reduce else m.first_for(done))
            row.append(first)
            most[t] = max(most[t], max(after[k] for k in writing[t]) - first)
        keep.append(tuple(row))
    offsets, at = [], 0
    for t in order:
        offsets.append(at)
        at += align_up(max(most[t], 1) * row_bytes[t])
    state_offsets = []
    for st in stages:
        if st.state_bytes:
            state_offsets.append(at)
            at += align_up(st.state_bytes)
        else:
            state_offsets.append(-1)
    scratch = max((st.scratch_bytes for st in stages), default=0)
    scratch_offset = at
    at += align_up(scratch) if scratch else 0
    made_here = {st.output for st in stages}
    inputs = tuple(dict.fromkeys(m.tensor for st in stages for m in st.inputs if m.tensor not in made_here))
    outputs = tuple(st.output for st in stages if st.output not in buffered)
    overlaps = []
    for i, x in enumerate(inputs):
        for o, y in enumerate(outputs):
            writers = [producer[y], *(producer[u] for u, v in aliases.items() if v == y)]
            lead = output_lead(stages, made, x, writers, row_bytes[x], row_bytes[y])
            if lead is not None:
                overlaps.append(Overlap(input=i, lead=lead, output=o))
    seg = Segment(tuple(stages), band, tuple(tuple(r) for r in made), tuple(keep), tuple(order),
                  tuple(most[t] for t in order), dict(row_bytes), tuple(offsets), tuple(state_offsets),
                  scratch_offset, at, inputs, outputs, tuple(overlaps), aliases)
    verify_segment(seg, tensor_rows)
    return seg


def output_lead(stages: tuple[Stage, ...], made: list[list[int]], x: int, writers: list[int], x_row: int,
                y_row: int) -> int | None:
    """How far a whole output may overlap whole input ``x`` (``Overlap.lead``: the output starts at
    least that many bytes below x) so that no row of it is written over a row of x a stage still
    reads; ``writers``: the stages that write its rows, its producer first (then those whose
    output it makes over in place: they write its row r earlier). A reduction's output is one row,
    written by the call that takes its input's last rows (ek_stream.h), after that call's reads.
    None when it would gain nothing."""
    reduce = stages[writers[0]].reduce
    readers = [(k, m) for k, st in enumerate(stages) for m in st.inputs if m.tensor == x]
    lead = 0
    for s in range(1, len(made)):
        for w in writers:
            lo, hi = made[s - 1][w], made[s][w]
            if reduce:  # the rows it has summed: its one output row once they are all
                lo, hi = int(lo == stages[w].rows), int(hi == stages[w].rows)
            if hi == lo:
                continue
            # the lowest row of x any stage reads from this write on: the stages before the
            # writer have made this step's rows, the writer and those after it have not
            first = min((_first_needed(stages[k], m, made[s][k] if k < w else made[s - 1][k])
                         for k, m in readers), default=1 << 30)
            lead = max(lead, hi * y_row - min(first, 1 << 24) * x_row)
    return lead if lead < (1 if reduce else stages[writers[0]].rows) * y_row else None


def verify_segment(seg: Segment, tensor_rows: dict[int, int]) -> None:
    """Replay the segment row by row: every row a stage reads from a row buffer is there (made,
    not yet dropped), no buffer holds more rows than its size, the buffers and the state and
    scratch areas do not share bytes, and every stage has made all its rows by the end."""
    stages = seg.stages
    index = {t: j for j, t in enumerate(seg.buffers)}
    index.update({x: index[y] for x, y in seg.aliases.items() if y in index})  # one buffer: one first row
    producer = {st.output: k for k, st in enumerate(stages)}
    first = [0] * len(seg.buffers)
    areas = [(o, o + align_up(max(r, 1) * seg.row_bytes[t])) for t, o, r in zip(seg.buffers, seg.offsets,
                                                                             seg.buffer_rows)]
    areas += [(o, o + align_up(st.state_bytes)) for st, o in zip(stages, seg.state_offsets) if o >= 0]
    areas = sorted(areas)
    for (a0, a1), (b0, b1) in zip(areas, areas[1:]):
        if b0 < a1:
            raise StreamViolation(f"segment of ops {seg.ops}: areas [{a0}, {a1}) and [{b0}, {b1}) share bytes")
    if areas and areas[-1][1] > seg.scratch_offset:
        raise StreamViolation(f"segment of ops {seg.ops}: the scratch at {seg.scratch_offset} meets a row buffer")
    for s in range(1, len(seg.made)):
        for j, t in enumerate(seg.buffers):
            k = seg.keep[s - 1][j]
            if k < first[j]:
                raise StreamViolation(f"step {s}: buffer of tensor {t} would keep row {k}, already dropped")
            first[j] = k
        for k, st in enumerate(stages):
            lo, hi = seg.made[s - 1][k], seg.made[s][k]
            if hi < lo or hi > st.rows:
                raise StreamViolation(f"step {s}: op {st.op} makes rows [{lo}, {hi}) of {st.rows}")
            if hi == lo:
                continue
            if st.output in index and hi - first[index[st.output]] > seg.buffer_rows[index[st.output]]:
                raise StreamViolation(f"step {s}: op {st.op} writes row {hi - 1} into a buffer of "
                                      f"{seg.buffer_rows[index[st.output]]} rows from row {first[index[st.output]]}")
            for m in st.inputs:
                if m.tensor not in producer:  # a whole input of the segment: all its rows are there
                    continue
                rows_in = tensor_rows[m.tensor]
                need_lo = lo if st.reduce else m.first_for(lo)
                need_hi = hi if st.reduce else m.rows_for(hi, rows_in)
                have = seg.made[s][producer[m.tensor]]
                held = first[index[m.tensor]] if m.tensor in index else 0  # whole: no row dropped
                if need_lo < held or need_hi > have:
                    raise StreamViolation(f"step {s}: op {st.op} reads rows [{need_lo}, {need_hi}) of tensor "
                                          f"{m.tensor}, which holds [{held}, {have})")
            if st.in_place and hi > seg.made[s][producer[st.shared_input]]:
                raise StreamViolation(f"step {s}: op {st.op} makes row {hi - 1} in place before its input row")
    for k, st in enumerate(stages):
        if seg.made[-1][k] != st.rows:
            raise StreamViolation(f"op {st.op} made {seg.made[-1][k]} of its {st.rows} rows")


def planning_graph(graph: Graph, memory: dict[int, OpMemory], segments: list[Segment]
                   ) -> tuple[Graph, dict[int, OpMemory], list[list[int]]]:
    """The graph the planner packs: each segment one operator (``STREAMED i-j``) reading its whole
    inputs and writing its whole outputs, with its block as scratch. Returns that graph, its
    operators' memory facts, and for each of its operators the original operators it stands for."""
    starts = {seg.ops[0]: seg for seg in segments}
    pulled = {seg.pulled for seg in segments} - {None}
    inside = {o for seg in segments for o in seg.ops}
    ops: list[Op] = []
    facts: dict[int, OpMemory] = {}
    members: list[list[int]] = []
    for op in graph.ops:
        if op.index in starts:
            seg = starts[op.index]
            n = len(ops)
            ops.append(Op(n, None, f"STREAMED {seg.ops[0]}-{seg.ops[-1]}", seg.inputs, seg.outputs))
            facts[n] = OpMemory(None, seg.block_bytes, seg.overlaps)
            members.append(list(seg.ops))
        elif op.index not in inside:
            n = len(ops)
            ops.append(Op(n, op.kind, op.type_name, op.inputs, op.outputs, op.options))
            if op.index in memory:
                facts[n] = memory[op.index]
            members.append([op.index])
    inputs = tuple(t for t in graph.inputs if t not in pulled)  # pulled rows live in their segment's block
    return replace(graph, ops=tuple(ops), inputs=inputs), facts, members


__all__ = ["PULL", "RowMap", "Segment", "Stage", "StreamViolation", "plan_segment", "planning_graph",
           "schedule_rows", "verify_segment"]

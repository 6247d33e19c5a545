"""Code generation: a lowered, planned graph rendered into C from the Jinja templates.

Output files in DIR (prefix ``model`` by default):
  model.h          the API a firmware engineer calls, shapes/scales/arena size as constants
  model.c          the arena, one parameter struct and one kernel call per operator
  model_weights.c  weights and per-channel constants, ``const`` so they stay in flash (those
                   ``--ram-weights`` places in RAM without it: ``.data``, copied at start-up)
  model_weights.h  their declarations
  metadata.json    what a harness needs to know about the build (shapes, hash, arena)
  ek/              the runtime kernels the model calls (copied from firmware/kernels)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import EdgekitError, UnsupportedModelError
from ..files import KERNELS
from ..folders import LOCK_NAME
from ..ir import DType, Graph, Tensor
from ..plan import OpMemory, Plan, Schedule, buffers_for, no_overlap_requirements, plan_graph, reorder, variables
from ..plan.stream import Segment, planning_graph
from .core import HOST, RAM_WEIGHTS_ALL, Target
from .lower import lower_graph, lowering_for, supported_kinds
from . import placement, stream
from .lowering import CArray, KernelCall, LowerCtx, ScratchRef, TensorRef, shape_str, short_name
from .render import array_symbol, c_comment, environment

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double",
               "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
               "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
               "switch", "typedef", "union", "unsigned", "void", "volatile", "while"}

IO_TYPES = {DType.INT8, DType.UINT8, DType.INT16, DType.INT32, DType.FLOAT32}


@dataclass(frozen=True)
class IOTensor:
    """A model input or output as the generated API exposes it."""

    c_name: str  # "input", "output"; with several, the Keras names, or "input0", "input1", ...
    tensor: Tensor

    @property
    def c_type(self) -> str:
        return self.tensor.dtype.c_type

    @property
    def quantized_range(self) -> tuple[int, int] | None:
        """(lowest, highest) integer of a quantized int8 / uint8 / int16 tensor: the API then has
        float helpers for it; None for any other."""
        ranges = {DType.INT8: (-128, 127), DType.UINT8: (0, 255), DType.INT16: (-32768, 32767)}
        q = self.tensor.quant
        return ranges.get(self.tensor.dtype) if q is not None and q.scale and len(q.scale) == 1 else None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensor.shape

    @property
    def size(self) -> int:
        return self.tensor.num_elements

    @property
    def nbytes(self) -> int:
        return self.tensor.nbytes

    @property
    def scale(self) -> float:
        return self.tensor.quant.scale[0] if self.tensor.quant else 0.0

    @property
    def zero_point(self) -> int:
        return self.tensor.quant.zero_point[0] if self.tensor.quant else 0

    def to_json(self) -> dict:
        return {"name": self.c_name, "tensor": self.tensor.name, "shape": list(self.shape),
                "dtype": self.tensor.dtype.np_name, "scale": self.scale,
                "zero_point": self.zero_point, "bytes": self.nbytes}


@dataclass(frozen=True)
class GeneratedModel:
    out_dir: Path
    prefix: str
    graph: Graph
    calls: tuple[KernelCall, ...]
    plan: Plan
    inputs: tuple[IOTensor, ...]
    outputs: tuple[IOTensor, ...]
    weight_bytes: int
    invoke_stack: object = None  # the target's StackUse of P_invoke, when generate was given a measure
    segments: tuple = ()  # streamed segments (``edgekit.plan.stream.Segment``); the plan packs each as one step
    ram_arrays: frozenset[str] = frozenset()  # constant arrays copied to RAM at start-up (``placement``)
    ram_weight_bytes: int = 0  # their bytes
    staged_ops: tuple[int, ...] = ()  # operators whose arrays are copied into the arena before they run
    staged_bytes: int = 0  # the arrays' bytes, all of them (each operator's copies live while it runs)
    limit_note: str | None = None  # what ``fit_arena`` gave up to fit the arena limit

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    @property
    def sources(self) -> list[Path]:
        """C files to compile (the model and the runtime kernels it ships with)."""
        return sorted(self.out_dir.glob("*.c")) + sorted((self.out_dir / "ek").glob("*.c"))

    @property
    def include_dirs(self) -> list[Path]:
        return [self.out_dir, self.out_dir / "ek"]


def check_prefix(prefix: str) -> str:
    if not _C_IDENT.match(prefix) or prefix in _C_KEYWORDS:
        raise EdgekitError(f"prefix {prefix!r} is not a valid C identifier")
    return prefix


def io_tensors(graph: Graph) -> tuple[tuple[IOTensor, ...], tuple[IOTensor, ...]]:
    """The model's inputs and outputs as the C API names them: ``input`` and ``output`` for a
    model with one of each; otherwise the names the Keras model gave them (its signature), where
    they make distinct C identifiers, else ``input0``, ``input1``, ..."""
    signature = dict(graph.io_names)

    def named(indices, base):
        ts = [graph.tensors[i] for i in indices]
        for t in ts:
            if t.dtype not in IO_TYPES:
                raise UnsupportedModelError(f"model {base} {t.name!r} has type {t.dtype.name}")
        if len(ts) == 1:
            return (IOTensor(base, ts[0]),)
        keras = [signature.get(i, "") for i in indices]
        if (all(_C_IDENT.match(n) and n not in _C_KEYWORDS for n in keras) and len(set(keras)) == len(keras)
                and not set(keras) & {"input", "output", "arena"}):
            return tuple(IOTensor(n, t) for n, t in zip(keras, ts))
        return tuple(IOTensor(f"{base}{k}", t) for k, t in enumerate(ts))

    ins, outs = named(graph.inputs, "input"), named(graph.outputs, "output")
    if {io.c_name for io in ins} & {io.c_name for io in outs}:  # an input and an output of one name
        ins = tuple(IOTensor(f"input{k}", io.tensor) for k, io in enumerate(ins)) if len(ins) > 1 else ins
        outs = tuple(IOTensor(f"output{k}", io.tensor) for k, io in enumerate(outs)) if len(outs) > 1 else outs
    return ins, outs


def op_memory(calls: list[KernelCall]) -> dict[int, OpMemory]:
    """What the planner needs to know about each lowered operator, as plain data."""
    return {c.op.index: OpMemory(c.alias_input, c.scratch_bytes, tuple(c.overlaps)) for c in calls}


def memory_facts(graph: Graph, target: Target | None = None) -> tuple[dict[int, OpMemory], list[str]]:
    """Planner facts of every operator edgekit can lower for ``target`` (default: the host), and a
    note for each it cannot (those are planned with no scratch and no overlap): lets ``edgekit
    plan`` run on any model."""
    ctx = LowerCtx(graph, target)
    facts: dict[int, OpMemory] = {}
    notes: list[str] = []
    for op in graph.ops:
        fn = lowering_for(op.kind) if op.kind is not None else None
        if fn is None:
            notes.append(f"op {op.index} {op.type_name}: no kernel")
            continue
        try:
            facts.update(op_memory([fn(ctx, op)]))
        except EdgekitError as exc:
            notes.append(f"op {op.index} {op.type_name}: {exc}")
    return facts, notes


def schedule_for(graph: Graph, calls: list[KernelCall],
                 target: Target | None = None) -> tuple[Graph, list[KernelCall], Schedule]:
    """Reorder the operators for the smallest peak memory. If the order changes, the graph's
    operators are renumbered and lowered again (constants are named after operator indices)."""
    schedule = reorder(graph, op_memory(calls))
    if schedule.changed:
        graph = schedule.graph
        calls = share_identical_arrays(lower_graph(graph, target))
    return graph, calls, schedule


# ---------------------------------------------------------------------------- kernels chosen by memory
# Where an operator's scratch sets the arena, a variant of its kernel with less scratch
# (``Target.lean_ops``), if it has one, makes the arena smaller for more cycles
# (``ek_fully_connected_lean_dsp_s8``: one instruction more per 16 MACs; a 3x3 depthwise layer on
# ek_depthwise_dsp_s8 instead of the rows kernel's ring: about 1.3x its cycles). The choice needs
# the plan: lower, plan, then lower the operators at the arena's peak step whose call has scratch
# lean and plan again; keep that while the arena shrinks by at least the fraction the estimated
# work grows (``stream.worth_it``, the streaming rule; under an arena limit, while it shrinks).


def peak_scratch_ops(plan: Plan, calls: list[KernelCall], lean: frozenset[int]) -> set[int]:
    """Operators at a step whose requirement is the largest, with scratch, not yet lean."""
    need = plan.step_requirements
    top = max(need[:len(calls)], default=0)
    return {i for i, c in enumerate(calls) if need[i] == top and c.scratch_bytes > 0 and i not in lean}


def leaner(graph: Graph, calls: list[KernelCall], plan: Plan, target: Target,
           schedule: Schedule | None = None) -> tuple[list[KernelCall], Plan, Target]:
    """``calls`` and ``plan`` with lean kernels where they shrink the arena (and the target that
    lowers the graph to them); unchanged when no operator at the peak has a lean variant."""
    while True:
        wanted = peak_scratch_ops(plan, calls, target.lean_ops)
        if not wanted or not target.dsp or not target.lean_kernels:
            return calls, plan, target
        trial_target = dataclasses.replace(target, lean_ops=target.lean_ops | wanted)
        trial_calls = share_identical_arrays(lower_graph(graph, trial_target))
        if all(trial_calls[i].scratch_bytes >= calls[i].scratch_bytes for i in wanted):
            return calls, plan, target  # no lean variant for any of them
        trial_plan = plan_graph(graph, op_memory(trial_calls), schedule=schedule)
        extra = sum(stream.call_units(graph, trial_calls[i]) - stream.call_units(graph, calls[i]) for i in wanted)
        if trial_plan.arena_bytes >= plan.arena_bytes or (target.stream_if_worth_it and not stream.worth_it(
                plan.arena_bytes, trial_plan.arena_bytes, extra / stream.model_units(graph, calls))):
            return calls, plan, target
        calls, plan, target = trial_calls, trial_plan, trial_target


def stage(graph: Graph, calls: list[KernelCall], target: Target, segments: list[Segment]
          ) -> tuple[list[KernelCall], list[Segment], dict[int, tuple[CArray, ...]], frozenset[str]]:
    """Weights staged by ``Target.stage_weights`` (``placement.stage_candidates``): the calls with their
    scratch grown by their copies, the segments with their stages' state grown by theirs, the arrays
    staged per operator, and the arrays placed in RAM at start-up (``Target.ram_weights``), which are
    not staged. Every candidate is taken if the arena then grows by at most the budget; else they are
    tried one at a time, the most used per byte first, each kept while the arena stays within it."""
    in_ram = placement.ram_arrays(graph, calls, target.ram_weights)
    if target.stage_weights == 0:
        return calls, segments, {}, in_ram
    keeps_state = frozenset(st.op for seg in segments for st in seg.stages if st.state_bytes)
    candidates = placement.stage_candidates(graph, calls, in_ram, keeps_state)
    in_segments = {o for seg in segments for o in seg.ops}

    def staged_with(chosen: dict) -> tuple[list[KernelCall], list[Segment]]:
        extra = {o: placement.staged_bytes(a) for o, a in chosen.items() if o in in_segments}
        return (placement.with_staging(calls, {o: a for o, a in chosen.items() if o not in in_segments}),
                [stream.with_state(graph, seg, extra) for seg in segments])

    if not candidates:
        return calls, segments, {}, in_ram
    limit = None if target.stage_weights == RAM_WEIGHTS_ALL else \
        stream.arena_with(graph, op_memory(calls), segments) + target.stage_weights
    def arena(trial: tuple[list[KernelCall], list[Segment]]) -> int:
        return stream.arena_with(graph, op_memory(trial[0]), trial[1])

    trial = staged_with(candidates)
    if limit is None or arena(trial) <= limit:
        return *trial, candidates, in_ram
    chosen: dict[int, tuple[CArray, ...]] = {}
    for op, arrays in candidates.items():
        trial = staged_with({**chosen, op: arrays})
        if arena(trial) <= limit:
            chosen[op] = arrays
    return *staged_with(chosen), chosen, in_ram


def plan_for(graph: Graph, calls: list[KernelCall], ram_limit: int | None = None,
             schedule: Schedule | None = None) -> Plan:
    """The verified memory plan of ``graph`` in its current operator order."""
    return plan_graph(graph, op_memory(calls), ram_limit=ram_limit, schedule=schedule)


@dataclass(frozen=True)
class MemoryPlan:
    """What ``edgekit plan`` shows: the plan of a model in its planned operator order."""

    graph: Graph  # operators in the planned order
    plan: Plan
    file_order_bound: int  # peak bytes without overlaps in the file's operator order
    notes: tuple[str, ...]  # operators planned without kernel facts (no kernel, or an error)
    lean_ops: frozenset[int] = frozenset()  # operators lowered to a kernel without scratch (``leaner``)
    segments: tuple = ()  # streamed segments (``edgekit.plan.stream.Segment``)
    plan_graph: Graph | None = None  # the graph the plan's steps belong to: one STREAMED operator a segment
    step_of: tuple[int, ...] = ()  # per operator of ``graph``, its step in the plan
    file_order: tuple[int, ...] = ()  # per operator of ``graph``, its index in the model file
    staged: tuple[tuple[int, int], ...] = ()  # (operator, bytes) whose weights are copied into the arena (``stage``)
    #: the plan's estimated work (``stream.model_units`` of its calls plus its segments' ``extra_units``);
    #: None where an operator could not be lowered
    work_units: float | None = None
    limit_note: str | None = None  # what ``fit_arena`` gave up to fit the arena limit

    @property
    def steps_graph(self) -> Graph:
        return self.plan_graph or self.graph


def work_units(graph: Graph, calls: list[KernelCall], segments: list[Segment]) -> float:
    """Estimated work of running ``calls`` (``graph``'s operators, before segments are folded into
    steps) with ``segments`` streamed, in the streaming search's units (``codegen/stream.py``)."""
    stages = {c.op.index: st for c in calls if (st := stream.stream_stage(graph, c)) is not None}
    return stream.model_units(graph, calls) + sum(stream.extra_units(graph, seg, stages) for seg in segments)


#: streaming budgets ``fit_arena`` tries, in turn, past the target's own (``--stream-cycles-budget``)
LIMIT_BUDGETS = (0.25, 0.5, 1.0, 2.0, 10.0)


def fit_arena(graph: Graph, target: Target, ram_limit: int, reorder_ops: bool = True
              ) -> tuple[Target, str | None, MemoryPlan | None]:
    """The target to plan ``graph`` with under an arena limit: ``target`` itself when its plan fits;
    else the one with the least estimated work among those that fit, trading cycles for arena:
    larger streaming budgets (LIMIT_BUDGETS), and on DSP cores Winograd in blocks of two tiles
    where the target has four (half the scratch; the weights read twice as often) and direct 3x3
    convolutions instead of Winograd (its tiles need more rows in a band and more scratch): on the
    smaller maps only (the least work where their scratch set the arena), or on all. The note says
    what was given up and what it costs; the third item is the chosen target's plan. When none
    fits, the one with the smallest arena (no note, no plan): planning it then refuses the limit in
    one line, naming the least it found."""
    base = plan_model(graph, target, None, reorder_ops)
    if base.plan.arena_bytes <= ram_limit:
        return target, None, base
    wino, sizes = [target.winograd_min_pixels], []
    if target.dsp and target.winograd_min_pixels is not None:
        # direct below each map size Winograd takes, the smallest first, then everywhere
        sizes = sorted({graph.tensors[c.op.outputs[0]].shape[1] * graph.tensors[c.op.outputs[0]].shape[2]
                        for c in lower_graph(graph, target) if c.function in stream.PAIRS})  # (Winograd's)
        wino += ([n + 1 for n in sizes[:-1]] + [None]) if sizes else []
    fits, smallest = [], (base.plan.arena_bytes, target)
    for w, tiles in [(w, t) for w in wino for t in dict.fromkeys((target.winograd_block_tiles, 2))
                     if t == target.winograd_block_tiles or (w is not None and sizes)]:
        budgets = [b for b in LIMIT_BUDGETS if b > target.stream_cycles_budget] if target.stream else []
        if (w, tiles) != (target.winograd_min_pixels, target.winograd_block_tiles) or \
                (target.stream and target.stream_if_worth_it):
            budgets = [target.stream_cycles_budget] + budgets  # (its own budget, as a requirement: any trade)
        if not budgets:
            continue

        def planned(b: float) -> tuple[Target, MemoryPlan]:
            trial = dataclasses.replace(target, winograd_min_pixels=w, winograd_block_tiles=tiles,
                                        stream_cycles_budget=b, stream_if_worth_it=False)
            return trial, plan_model(graph, trial, None, reorder_ops)

        found = planned(budgets[-1])  # the largest first: if it does not fit, no smaller one does
        smallest = min(smallest, (found[1].plan.arena_bytes, found[0]), key=lambda a: a[0])
        if found[1].plan.arena_bytes > ram_limit:
            continue
        for b in budgets[:-1]:  # then the smallest that fits: a larger one only costs more
            trial, mp = planned(b)
            if mp.plan.arena_bytes <= ram_limit:
                found = trial, mp
                break
        trial, mp = found
        fits.append((mp.work_units if mp.work_units is not None else float("inf"), len(fits), trial, mp))
    if not fits:
        return smallest[1], None, None
    units, _, chosen, mp = min(fits)
    gave = []
    if chosen.stream_cycles_budget != target.stream_cycles_budget:
        gave.append(f"streaming budget {chosen.stream_cycles_budget:g}")
    elif target.stream and target.stream_if_worth_it:
        gave.append("streaming that lowers the arena by less than it adds work")
    if chosen.winograd_block_tiles != target.winograd_block_tiles:
        gave.append(f"Winograd in blocks of {chosen.winograd_block_tiles} tiles (its weights read more often)")
    if chosen.winograd_min_pixels is None and target.winograd_min_pixels is not None:
        gave.append("3x3 convolutions direct, not Winograd")
    elif chosen.winograd_min_pixels != target.winograd_min_pixels:
        gave.append(f"3x3 convolutions on maps of at most {chosen.winograd_min_pixels - 1:,} pixels direct, "
                    "not Winograd")
    cost = f", estimated {units / base.work_units:.2f}x the work" if base.work_units and units != float("inf") else ""
    note = (f"to fit the {ram_limit:,}-byte arena limit ({base.plan.arena_bytes:,} bytes without it): "
            f"{' and '.join(gave)} (arena {mp.plan.arena_bytes:,} bytes{cost})")
    return chosen, note, dataclasses.replace(mp, limit_note=note)


def plan_model(graph: Graph, target: Target | None = None, ram_limit: int | None = None,
               reorder_ops: bool = True) -> MemoryPlan:
    """Plan ``graph`` for ``target``'s kernels (their scratch and overlaps) as ``generate`` would,
    tolerating operators edgekit cannot lower (each gets a note and no kernel facts); under
    ``ram_limit``, with what ``fit_arena`` gives up to fit it."""
    if ram_limit is not None and target is not None:
        target, _, fitted = fit_arena(graph, target, ram_limit, reorder_ops)
        if fitted is not None:  # planned without the limit, and within it: the plan under it
            return fitted
    facts, notes = memory_facts(graph, target)
    file_bound = max(no_overlap_requirements(buffers_for(graph, facts)[0], len(graph.ops) + 1))
    schedule = reorder(graph, facts) if reorder_ops else None
    planned = schedule.graph if schedule else graph
    memory = schedule.remap(facts) if schedule else facts
    lean_ops: frozenset[int] = frozenset()
    plan = None
    units = None
    segments: list[Segment] = []
    staged_list: tuple[tuple[int, int], ...] = ()
    operators, members = planned, [[op.index] for op in planned.ops]
    file_order = schedule.order if schedule else tuple(range(len(graph.ops)))
    if not notes and target is not None and (target.dsp or target.stream):  # as generate chooses
        calls = share_identical_arrays(lower_graph(planned, target))
        calls, plan, chosen = leaner(planned, calls, plan_graph(planned, memory, schedule=schedule), target, schedule)
        memory, lean_ops = op_memory(calls), chosen.lean_ops
        whole = (calls, chosen, plan)
        (segments, members, calls, chosen, _), (staged_calls, staged_segments, staged, _) = stage_or_whole(
            planned, whole, stream_plan(planned, calls, plan, chosen))
        units = work_units(planned, calls, segments)
        if staged and (ram_limit is None or stream.arena_with(planned, op_memory(staged_calls), staged_segments) <= ram_limit):
            # as generate: none staged over the limit
            calls, segments, memory, plan = staged_calls, staged_segments, op_memory(staged_calls), None
            staged_list = tuple((op, sum(a.nbytes for a in arrays)) for op, arrays in sorted(staged.items()))
        if segments:  # the planner's graph: each segment one STREAMED operator
            planned, memory, _ = planning_graph(planned, op_memory(calls), segments)
            schedule = dataclasses.replace(schedule or Schedule(graph, file_order, "the file's order", False, 0, 0),
                                           graph=planned, order=tuple(file_order[m[0]] for m in members))
            plan = None
    if plan is None or ram_limit is not None:  # the limit is checked (and refused in one line) here
        plan = plan_graph(planned, memory, ram_limit=ram_limit, schedule=schedule)
    step_of = tuple(step for op in operators.ops for step, m in enumerate(members) if op.index in m)
    return MemoryPlan(operators, plan, file_bound, tuple(notes), lean_ops, tuple(segments),
                      planned if segments else None, step_of, tuple(file_order), staged_list, units)


def check_generatable(graph: Graph) -> None:
    """A float model cannot be generated: every operator's tensors must be integer."""
    runnable = supported_kinds()  # an operator with no kernel is reported as such, float or not
    float_ops = [op for op in graph.ops if op.kind in runnable and op.type_name not in ("DEQUANTIZE", "QUANTIZE")
                 and any(t is not None and t.dtype == DType.FLOAT32 and not t.is_constant
                         for t in (*graph.op_inputs(op), *graph.op_outputs(op)))]
    if float_ops:
        raise UnsupportedModelError(
            f"{graph.name}: float model ({len(float_ops)} float operators, first op "
            f"{float_ops[0].index} {float_ops[0].type_name}); convert it with full-integer "
            "quantization: edgekit convert MODEL -o OUT.tflite --calib DATA")


def share_identical_arrays(calls: list[KernelCall]) -> list[KernelCall]:
    """One flash array for each set of identical constants (the same C type and values): the steps
    of an unrolled GRU, or layers that share a weight tensor, whose lowerings each lay out a copy."""
    canon: dict[tuple, CArray] = {}

    def one(a: CArray) -> CArray:
        return canon.setdefault((a.c_type, a.values.dtype.str, a.values.shape, a.values.tobytes()), a)

    out = []
    for call in calls:
        params = call.params
        if params is not None:
            shared = {name: one(v) for name, v in params.c_fields() if isinstance(v, CArray)}
            params = dataclasses.replace(params, **{k: v for k, v in shared.items() if v is not getattr(params, k)})
        args = tuple(one(a) if isinstance(a, CArray) else a for a in call.args)
        out.append(dataclasses.replace(call, params=params, args=args))
    return out


def stream_plan(graph: Graph, calls: list[KernelCall], plan: Plan, target: Target,
                schedule: Schedule | None = None
                ) -> tuple[list[Segment], list[list[int]], list[KernelCall], Target, Plan]:
    """The streamed segments for ``target`` (none unless ``target.stream``), kept only when their
    plan's arena is smaller than ``plan``'s; per step of the plan, the operators it runs; the
    calls and target they were chosen with; and the plan of all that (``plan`` itself without
    segments). The segments are chosen on the whole-tensor calls, then again on calls lowered for
    their bands (``Target.banded_ops``, ``direct_dw_ops``), until the segments chosen are the ones
    the calls were lowered for: only such a plan is kept (at most three rounds)."""
    whole = [[op.index] for op in graph.ops]
    if not target.stream:
        return [], whole, calls, target, plan
    best = ([], whole, calls, target, plan)
    trial_target, trial_calls = target, calls
    for attempt in range(3):
        memory = op_memory(trial_calls)
        segments = stream.choose_segments(graph, trial_calls, memory, target.stream_cycles_budget, target.pull_input,
                                          target.stream_if_worth_it, provisional=attempt == 0)
        if not segments:
            break
        banded = frozenset(o for seg in segments for o in seg.ops)
        direct = stream.direct_dw_ops(graph, segments, trial_calls) | (trial_target.direct_dw_ops & banded)
        want = dataclasses.replace(target, banded_ops=target.banded_ops | banded,
                                   direct_dw_ops=target.direct_dw_ops | direct)
        if attempt and want == trial_target:  # the calls were lowered for these segments' bands
            if not segment_scratch_fits(segments, trial_calls):
                raise AssertionError("a streamed segment's block leaves a kernel less scratch than it needs")
            pg, facts, members = planning_graph(graph, memory, segments)
            trial = plan_graph(pg, facts, schedule=schedule)
            if trial.arena_bytes < best[-1].arena_bytes:
                best = (segments, members, trial_calls, trial_target, trial)
            break
        trial_target = want
        trial_calls = share_identical_arrays(lower_graph(graph, want))
    return best


def stage_or_whole(graph: Graph, whole: tuple, streamed: tuple) -> tuple[tuple, tuple]:
    """``streamed`` (``stream_plan``'s result), or the whole-tensor plan (``whole``: its calls,
    target and plan) where the board stages weights (``Target.stage_weights``) and the streamed
    plan's arena with its copies is no smaller than the whole-tensor plan's with its own: a segment
    keeps its stages' copies for its whole loop, a whole-tensor build one operator's at a time, so
    staging may take back what streaming saved (and the cycles it buys: kws on nucleo-l4r5zi,
    streamed, 1.29x the staged whole-tensor build's). Returns the plan kept and ``stage`` of it."""
    segments, _, calls, target, _ = streamed
    staged = stage(graph, calls, target, segments)
    if not segments or target.stage_weights == 0:
        return streamed, staged
    w_calls, w_target, w_plan = whole
    w_staged = stage(graph, w_calls, w_target, [])
    if stream.arena_with(graph, op_memory(w_staged[0]), []) <= \
            stream.arena_with(graph, op_memory(staged[0]), staged[1]):
        return ([], [[op.index] for op in graph.ops], w_calls, w_target, w_plan), w_staged
    return streamed, staged


def segment_scratch_fits(segments: list[Segment], calls: list[KernelCall]) -> bool:
    """Every call of a segment's stages has at most the scratch its stage was planned with (a
    reduction's: its state, the sums)."""
    by_op = {c.op.index: c for c in calls}
    return all(by_op[st.op].scratch_bytes <= (st.state_bytes if st.reduce else st.scratch_bytes)
               for seg in segments for st in seg.stages if st.op in by_op)


def segment_lines(k: int, seg: Segment, calls: list[KernelCall], graph: Graph, op_line) -> dict:
    """What the template writes for segment ``k``: its row views, tables and one call per stage."""
    names = {}
    views = []

    def also(t: int) -> str:  # the tensors made over in place in t's rows
        return "".join(f" (first {short_name(graph.tensors[x].name)}, made over in place)" for x in seg.sharing(t))

    for t in seg.inputs + seg.outputs:
        tensor = graph.tensors[t]
        names[t] = f"t{t}"
        views.append({"name": f"t{t}", "base": f"T{t}", "row_bytes": tensor.shape[2] * tensor.shape[3],
                      "desc": c_comment(f"whole: {short_name(tensor.name)} {shape_str(tensor.shape)}{also(t)}")})
    for t, off, rows in zip(seg.buffers, seg.offsets, seg.buffer_rows):
        names[t] = f"r{t}"
        views.append({"name": f"r{t}", "base": f"(SEG{k} + {off})", "row_bytes": seg.row_bytes[t],
                      "desc": c_comment(f"{rows} rows of {short_name(graph.tensors[t].name)} "
                                        f"{shape_str(graph.tensors[t].shape)}{also(t)}, {rows * seg.row_bytes[t]} bytes")})
    keep_col = {t: j for j, t in enumerate(seg.buffers)}
    for x, y in seg.aliases.items():  # the input's producer writes first in a step: it drops the rows
        names[x] = names[y]
        if y in keep_col:  # (a whole tensor drops none)
            keep_col[x] = keep_col[y]
    lines = []
    for i, s in enumerate(stream.stage_calls(seg, calls, graph)):
        if s.call is None:  # the model's input, pulled from the caller a row at a time
            lines.append({"stage": i, "pull": True, "out": names[s.stage.output], "keep": keep_col[s.stage.output],
                          "row_bytes": seg.row_bytes[s.stage.output], "args": [], "copies": []})
            continue
        line = op_line(s.call)
        state = f"SEG{k} + {seg.state_offsets[i]}" if seg.state_offsets[i] >= 0 else ""
        line.update(stage=i, function=s.wrapper, keep=None if s.stage.in_place else keep_col.get(s.stage.output),
                    out=names.get(s.stage.output),
                    args=stream.stage_args(s, names.get, f"(SEG{k} + {seg.scratch_offset})", state))
        lines.append(line)
    used = {a for line in lines for a in line["args"]}
    return {"index": k, "first": seg.ops[0], "last": seg.ops[-1], "steps": seg.steps, "band": seg.band,
            "driver": "the input" if seg.pulled is not None else f"op {seg.ops[0]}'s output",
            "stages": lines, "views": [v for v in views if f"&{v['name']}" in used], "made": seg.made, "keep": seg.keep,
            "row_type": "uint8_t" if max(max(r) for r in seg.made) < 256 else "uint16_t",
            "block_bytes": seg.block_bytes, "buffers": len(seg.buffers)}


def generate(graph: Graph, out_dir: str | Path, prefix: str = "model",
             ram_limit: int | None = None, source: str = "", reorder_ops: bool = True,
             target: Target | None = None, stack=None) -> GeneratedModel:
    """Lower for ``target`` (default: the host, portable kernels), reorder (unless
    ``reorder_ops`` is False), plan and render ``graph`` into ``out_dir``. The generated
    model's graph is the reordered one.

    ``stack(out_dir, prefix)``, if given, compiles the written C and returns the worst-case stack
    of ``P_invoke`` (``target.build.invoke_stack``); the header then states it."""
    check_prefix(prefix)
    check_generatable(graph)
    target = target or HOST
    limit_note = None
    if ram_limit is not None:
        target, limit_note, _ = fit_arena(graph, target, ram_limit, reorder_ops)
    calls = share_identical_arrays(lower_graph(graph, target))
    schedule = None
    if reorder_ops:
        graph, calls, schedule = schedule_for(graph, calls, target)
    plan = plan_for(graph, calls, None, schedule)
    calls, plan, target = leaner(graph, calls, plan, target, schedule)
    whole_calls, whole_target, whole_plan = calls, target, plan
    segments, members, calls, target, plan = stream_plan(graph, calls, plan, target, schedule)
    (segments, members, calls, target, plan), copies = stage_or_whole(
        graph, (whole_calls, whole_target, whole_plan), (segments, members, calls, target, plan))
    calls_before, segments_before = {c.op.index: c for c in calls}, segments  # the kernels' own scratch first
    calls, segments, staged, in_ram = copies  # then the copies

    def planned(calls: list[KernelCall], limit: int | None) -> Plan:  # refused in one line when over the limit
        if segments:
            pg, facts, _ = planning_graph(graph, op_memory(calls), segments)
            return plan_graph(pg, facts, ram_limit=limit, schedule=schedule)
        return plan_for(graph, calls, limit, schedule)

    if staged:
        plan = planned(calls, None)
        if ram_limit is not None and plan.arena_bytes > ram_limit:  # the copies do not fit: none staged
            calls, segments, staged = list(calls_before.values()), segments_before, {}
    if ram_limit is not None:
        plan = planned(calls, ram_limit)
    inputs, outputs = io_tensors(graph)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, CArray] = {}
    for call in calls:
        for arr in call.arrays:
            arrays.setdefault(arr.name, arr)

    def arg(a) -> str:
        if isinstance(a, TensorRef):
            return f"T{a.index}"
        if isinstance(a, ScratchRef):
            return f"S{a.op_index}"
        if isinstance(a, CArray):
            return array_symbol(prefix, a)
        return str(a)

    seg_of_step = {n: k for k, seg in enumerate(segments) for n, ops in enumerate(members) if ops == list(seg.ops)}
    pulled = {seg.pulled for seg in segments} - {None}
    tensor_slots = []
    for b, off in zip(plan.buffers, plan.offsets):
        for t in b.tensors:
            tensor = graph.tensors[t]
            tensor_slots.append({"index": t, "offset": off, "c_type": tensor.dtype.c_type,
                                 "desc": c_comment(f"{short_name(tensor.name)} {shape_str(tensor.shape)} "
                                                   f"{tensor.dtype.np_name}, {tensor.nbytes} bytes")})
        if b.scratch_of is not None and b.scratch_of in seg_of_step:
            tensor_slots.append({"segment": seg_of_step[b.scratch_of], "offset": off, "size": b.size})
        elif b.scratch_of is not None:
            tensor_slots.append({"scratch": members[b.scratch_of][0], "offset": off, "size": b.size})
    tensor_slots.sort(key=lambda s: (s.get("index", 1 << 30), s.get("scratch", s.get("segment", 0))))

    # where each operator's copies go: after its kernel's scratch, or in its stage's state (segment k)
    stage_at = {c.op.index: (f"S{c.op.index}", c.scratch_bytes) for c in calls_before.values()}
    stage_at.update({st.op: (f"SEG{k}", seg.state_offsets[i]) for k, seg in enumerate(segments)
                     for i, st in enumerate(seg.stages) if st.op in staged})

    def staging(call: KernelCall) -> tuple[dict[str, str], list[dict]]:
        """Where the call reads its staged arrays (array name -> C expression), and the copies."""
        arrays = staged.get(call.op.index, ())
        base, start = stage_at[call.op.index]
        offsets = placement.stage_offsets(start, arrays)
        where = {a.name: f"(const {a.c_type} *)({base} + {offsets[a.name]})" for a in arrays}
        copies = [{"dst": f"{base} + {offsets[a.name]}", "src": array_symbol(prefix, a), "bytes": a.nbytes}
                  for a in arrays]
        return where, copies

    def shown_params(call: KernelCall):
        where, _ = staging(call)
        return placement.point_to(call.params, where) if where and call.params is not None else call.params

    def op_line(call: KernelCall) -> dict:
        op = call.op
        outs = ", ".join(shape_str(t.shape) for t in graph.op_outputs(op))
        comment = c_comment(f"{op.index}: {op.type_name} -> {outs} ({short_name(graph.tensors[op.outputs[0]].name)})")
        where, copies = staging(call)
        return {"index": op.index, "comment": comment, "alias": call.alias_input is not None,
                "function": call.function, "params": shown_params(call), "copies": copies,
                "args": [where[a.name] if isinstance(a, CArray) and a.name in where else arg(a) for a in call.args]}

    by_op = {c.op.index: c for c in calls}
    op_lines = []
    for n, ops in enumerate(members):
        if n in seg_of_step:
            op_lines.append({"segment": segment_lines(seg_of_step[n], segments[seg_of_step[n]], calls, graph,
                                                      op_line)})
        else:
            op_lines.append(op_line(by_op[ops[0]]))

    PREFIX = prefix.upper()
    switches = config_switches(calls)
    ctx = {
        "version": __version__, "source": c_comment(source or graph.name), "prefix": prefix,
        "PREFIX": PREFIX, "arena_bytes": plan.arena_bytes, "num_ops": len(calls),
        "inputs": inputs, "outputs": outputs, "tensors": tensor_slots, "ops": op_lines,
        "op_params": [{"index": c.op.index, "params": shown_params(c)} for c in calls if c.params is not None],
        "headers": sorted({c.header for c in calls if c.header} | {stream.HEADERS[target.dsp] for _ in segments[:1]}),
        "arrays": list(arrays.values()),
        "weight_bytes": sum(a.nbytes for a in arrays.values()), "plan_algorithm": plan.algorithm,
        "ram": in_ram, "ram_weight_bytes": sum(a.nbytes for a in arrays.values() if a.name in in_ram),
        "staged_ops": len(staged), "staged_max": max((sum(a.nbytes for a in v) for v in staged.values()), default=0),
        "io_offsets": {io.c_name: plan.offset_of_tensor(io.tensor.index) for io in (*inputs, *outputs)
                       if io.tensor.index not in pulled},
        "pulled": [{"io": io, "row_bytes": io.tensor.shape[2] * io.tensor.shape[3], "rows": io.tensor.shape[1]}
                   for io in inputs if io.tensor.index in pulled],
        "needed_switches": [name for name, on, _ in switches if on], "labels": list(graph.labels),
        "state": [{"index": t, "size": graph.tensors[t].num_elements, "c_type": graph.tensors[t].dtype.c_type,
                   # as TFLM resets variable tensors: int8 ones to their zero point, others to 0
                   "zero_point": graph.tensors[t].zero_point
                   if graph.tensors[t].quant and graph.tensors[t].dtype == DType.INT8 else 0,
                   "desc": c_comment(short_name(graph.tensors[t].name))} for t in variables(graph)],
    }
    env = environment()
    files: dict[str, str | Path] = {}  # what this run writes: relative path -> text, or the kernel file to copy
    for folder in ("", *target.kernel_dirs):
        for src in sorted((KERNELS / folder).iterdir()):
            if src.suffix in (".c", ".h"):
                files[f"ek/{src.name}"] = src
    ctx["runtime_id"] = runtime_id([p for rel, p in files.items() if rel.endswith(".h")])
    ctx["stack"] = None
    for template, name in (("model.h.j2", f"{prefix}.h"), ("model.c.j2", f"{prefix}.c"),
                           ("weights.h.j2", f"{prefix}_weights.h"),
                           ("weights.c.j2", f"{prefix}_weights.c")):
        files[name] = env.get_template(template).render(ctx)
    files["ek/ek_config.h"] = env.get_template("ek_config.h.j2").render(
        version=__version__, source=ctx["source"], switches=switches, runtime_id=ctx["runtime_id"])
    files["metadata.json"] = ""  # written last, from the GeneratedModel
    written = claim_folder(out_dir, files)
    for rel, content in files.items():
        if isinstance(content, Path):
            shutil.copy2(content, out_dir / rel)
        elif rel != "metadata.json":
            (out_dir / rel).write_text(content)

    invoke_stack = None
    if stack is not None:  # compiles what was just written; the header then says what it needs
        ctx["stack"] = invoke_stack = stack(out_dir, prefix)
        (out_dir / f"{prefix}.h").write_text(env.get_template("model.h.j2").render(ctx))
    gen = GeneratedModel(out_dir, prefix, graph, tuple(calls), plan, inputs, outputs,
                         ctx["weight_bytes"], invoke_stack, tuple(segments), in_ram, ctx["ram_weight_bytes"],
                         tuple(sorted(staged)), sum(a.nbytes for v in staged.values() for a in v), limit_note)
    (out_dir / "metadata.json").write_text(json.dumps(metadata(gen), indent=2) + "\n")
    (out_dir / MANIFEST).write_text(json.dumps({"files": sorted(written | files.keys())}, indent=1) + "\n")
    return gen


#: in a generated folder: every file edgekit wrote there (so it touches no file it did not write)
MANIFEST = ".edgekit-files.json"


def _generated_before(out_dir: Path) -> bool:
    """A folder an edgekit older than the manifest generated (its metadata.json says so)."""
    try:
        return "edgekit_version" in json.loads((out_dir / "metadata.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def foreign_files(out_dir: Path) -> list[str]:
    """Files under ``out_dir`` that its manifest does not list (all of them if it has none)."""
    try:
        listed = set(json.loads((out_dir / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        if _generated_before(out_dir):  # by an edgekit older than the manifest: all of it
            return []
        listed = set()
    return sorted(rel for p in out_dir.rglob("*") if p.is_file()
                  and (rel := p.relative_to(out_dir).as_posix()) not in listed | {MANIFEST, LOCK_NAME})


def claim_folder(out_dir: Path, files: dict) -> set[str]:
    """Make ``out_dir`` ready for ``files``: refuse it if it holds, where edgekit writes, files
    edgekit did not write (``ek/`` is edgekit's alone; a top-level file is overwritten only if
    edgekit wrote it); remove the runtime files of an earlier run that this one does not write.
    Returns what earlier runs wrote and is still there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runtime = out_dir / "ek"
    present = {f"ek/{p.name}" for p in runtime.iterdir()} if runtime.is_dir() else set()
    try:
        earlier = set(json.loads((out_dir / MANIFEST).read_text())["files"])
    except FileNotFoundError:
        earlier = ({f for f in present | files.keys() if (out_dir / f).is_file()} if _generated_before(out_dir)
                   else set())
    except (OSError, ValueError, KeyError, TypeError):
        raise EdgekitError(f"{out_dir / MANIFEST}: unreadable; remove {out_dir} or choose another folder") from None
    foreign = sorted((present - earlier) | {f for f in files if (out_dir / f).exists() and f not in earlier
                                            and not f.startswith("ek/")})
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise EdgekitError(f"{out_dir}: holds {', '.join(foreign[:3])}{more}, which edgekit did not write; "
                           "move them or choose another folder")
    for stale in sorted(present - files.keys()):  # an earlier run's kernels this one does not need
        if (out_dir / stale).is_file():
            (out_dir / stale).unlink()
    runtime.mkdir(exist_ok=True)
    return {f for f in earlier if (out_dir / f).exists()}


# the build switches of ek_config.h (firmware/kernels/dsp/ek_dsp.h), and what each one keeps
CONFIG_SWITCHES = {
    "EK_REQUANT_BELOW_ZERO_POINT": "the requantization's sign term, for ek_conv2d_dsp_s8 and the "
                                   "depthwise DSP kernels' outputs not clamped at their zero point",
    "EK_FC_PLAIN_WEIGHTS": "the fully connected DSP kernels' loops for weights not in the paired layout",
    "EK_WINO_BLOCKS_2": "the Winograd DSP kernel's code for blocks of two tiles",
    "EK_WINO_BLOCKS_4": "the Winograd DSP kernel's code for blocks of four tiles",
}


def runtime_id(headers: list[Path]) -> int:
    """32 bits of the SHA-256 of the runtime's headers (names and contents): the interface every
    kernel call of a generated model relies on. ek/ek_config.h states it, the model checks it."""
    h = hashlib.sha256()
    for p in sorted(headers, key=lambda p: p.name):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return int.from_bytes(h.digest()[:4], "big")


def config_switches(calls: list[KernelCall]) -> list[tuple[str, int, str]]:
    """(name, value, comment) of every build switch: on when some call needs it."""
    needed = set().union(*(c.features for c in calls))
    unknown = needed - CONFIG_SWITCHES.keys()
    if unknown:
        raise AssertionError(f"calls need unknown build switches: {sorted(unknown)}")
    out = []
    for name, what in CONFIG_SWITCHES.items():
        users = [f"op {c.op.index}" for c in calls if name in c.features]
        more = " ..." if len(users) > 6 else ""
        why = (f"1: {what} ({', '.join(users[:6])}{more})" if users else f"0: no operator needs {what}")
        out.append((name, int(bool(users)), c_comment(why)))
    return out


def metadata(gen: GeneratedModel) -> dict:
    return {
        "edgekit_version": __version__,
        "model": gen.graph.name,
        "model_sha256": gen.graph.digest,
        "prefix": gen.prefix,
        "arena_bytes": gen.arena_bytes,
        "weight_bytes": gen.weight_bytes, "ram_weight_bytes": gen.ram_weight_bytes,
        "staged_operators": list(gen.staged_ops), "staged_weight_bytes": gen.staged_bytes,
        "plan_algorithm": gen.plan.algorithm,
        "invoke_stack_bytes": getattr(gen.invoke_stack, "bytes", None),
        "inputs": [io.to_json() for io in gen.inputs],
        "outputs": [io.to_json() for io in gen.outputs],
        "ops": [{"index": c.op.index, "type": c.op.type_name, "function": c.function or None,
                 "file_index": gen.plan.schedule.order[c.op.index] if gen.plan.schedule else c.op.index}
                for c in gen.calls],
    }

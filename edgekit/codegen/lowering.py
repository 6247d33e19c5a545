"""Lowering: each IR operator becomes one kernel call with a constant parameter struct.

A lowering function (one per :class:`~edgekit.ir.OpKind`, registered with :func:`lowers`)
computes every constant the kernel needs -- requantization multipliers and shifts, clamp bounds,
folded zero-point terms, lookup tables -- and returns a :class:`KernelCall`. It does not know
where tensors live: it names them symbolically (``ctx.ptr``) and the renderer resolves the
names from the memory plan. A parameter struct is a frozen dataclass subclassing
:class:`CStruct` whose fields mirror the C struct one for one.

An operator with several kernels (portable C, the DSP family, compressed weights, Winograd)
lists them in one table of :class:`Candidate` rows in its lowering module, in the order they
are tried; the portable kernel is the last row. The lowering builds the portable call (every
constant exactly as TFLM computes it) and :func:`choose` walks the table.
``edgekit.codegen.lower`` drives it all: every operator through its lowering.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np

from ..errors import UnsupportedModelError
from ..ir import DType, Graph, Op, OpKind, Tensor
from ..plan import Overlap
from .core import HOST, Target


@dataclass(frozen=True, eq=False)
class CArray:
    """A constant array emitted into flash (``static const``/``const`` in the weights file)."""

    name: str
    c_type: str  # "int8_t", "int32_t", "int16_t", "uint8_t", ...
    values: np.ndarray = field(repr=False)
    comment: str = ""

    @property
    def nbytes(self) -> int:
        return int(self.values.size * self.values.dtype.itemsize)


class CStruct:
    """Base of kernel parameter structs. Subclasses are frozen dataclasses with ``C_TYPE``.

    Field values may be ``int``, ``float``, ``bool``, a :class:`CArray` (rendered as its
    name), a tuple of ints (rendered as a brace list, for fixed-size array members), a nested
    ``CStruct`` (a member struct, rendered with designated initialisers) or a string (C text,
    ``"NULL"``).
    """

    C_TYPE: ClassVar[str] = ""

    def c_fields(self) -> list[tuple[str, object]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]

    def c_arrays(self) -> list[CArray]:
        """The constant arrays the struct points to, nested structs' included."""
        out: list[CArray] = []
        for _, v in self.c_fields():
            if isinstance(v, CArray):
                out.append(v)
            elif isinstance(v, CStruct):
                out += v.c_arrays()
        return out


@dataclass(frozen=True)
class TensorRef:
    """A symbolic pointer to an activation tensor; resolved by the renderer from the plan."""

    index: int


@dataclass(frozen=True)
class ScratchRef:
    """A symbolic pointer to this operator's scratch buffer in the arena."""

    op_index: int


Arg = TensorRef | ScratchRef | CArray | str


@dataclass(frozen=True)
class KernelCall:
    """One line of ``model.c``: ``function(&params, args...)``.

    ``alias_input``: the operator only reinterprets its input (RESHAPE, SQUEEZE, ...); no call
    is emitted and the output tensor shares the storage of input number ``alias_input``.
    ``overlaps``: how far the kernel's output may overlap an input that dies at this operator
    (``edgekit.plan.Overlap``: ``output_start <= input_start - lead``), computed by the kernel
    family's overlap function next to its lowering and documented in its C header. Empty: the
    output never overlaps an input.
    ``features``: build switches of ``ek_config.h`` (``firmware/kernels/dsp/ek_dsp.h``) the
    call needs on; the generator turns off the ones no call of the model needs.
    """

    op: Op
    function: str = ""
    header: str = ""
    params: CStruct | None = None
    args: tuple[Arg, ...] = ()
    scratch_bytes: int = 0
    alias_input: int | None = None
    overlaps: tuple[Overlap, ...] = ()
    features: frozenset[str] = frozenset()

    @property
    def arrays(self) -> list[CArray]:
        out = self.params.c_arrays() if self.params is not None else []
        out += [a for a in self.args if isinstance(a, CArray)]
        return out


class LowerCtx:
    """What a lowering function may ask of the code generator."""

    def __init__(self, graph: Graph, target: Target | None = None):
        self.graph = graph
        self.target = target or HOST  # which kernel variants and weight layouts to use

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    def ptr(self, tensor: Tensor) -> Arg:
        """The C argument for a tensor: its arena slot, or its constant array."""
        if tensor.is_constant:
            return self.const_array(tensor)
        return TensorRef(tensor.index)

    def const_array(self, tensor: Tensor, c_type: str | None = None) -> CArray:
        c_type = c_type or tensor.dtype.c_type
        return CArray(f"tensor{tensor.index}", c_type, np.ascontiguousarray(tensor.data).reshape(-1),
                      comment=f"{short_name(tensor.name)} {shape_str(tensor.shape)}")

    def array(self, op: Op, suffix: str, c_type: str, values, comment: str = "") -> CArray:
        """A constant array that belongs to one operator (``op<N>_<suffix>``)."""
        np_type = {"int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16,
                   "uint16_t": np.uint16, "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64,
                   "float": np.float32}[c_type]
        vals = np.asarray(values)
        if vals.size and np.issubdtype(np_type, np.integer):
            info = np.iinfo(np_type)
            if vals.min() < info.min or vals.max() > info.max:
                raise UnsupportedModelError(f"op {op.index} ({op.type_name}): its {suffix.replace('_', ' ')} "
                                            f"values leave the range of {c_type}")
        return CArray(f"op{op.index}_{suffix}", c_type, vals.astype(np_type).reshape(-1), comment)

    def scratch(self, op: Op) -> ScratchRef:
        return ScratchRef(op.index)


def shape_str(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def short_name(name: str, limit: int = 48) -> str:
    """A tensor name fit for a comment: the converter joins fused names with ';', keep the first."""
    first = name.split(";")[0]
    return first if len(first) <= limit else "..." + first[-(limit - 3):]


Lowering = Callable[[LowerCtx, Op], KernelCall]
LOWERINGS: dict[OpKind, Lowering] = {}
#: the kinds whose lowering also takes int16 activations (16x8); any other is refused with them
INT16_KINDS: set[OpKind] = set()
#: the kernel tables registered for each kind (:func:`kernel_table`): what ``edgekit ops`` lists
KERNEL_TABLES: dict[OpKind, list[tuple["Candidate", ...]]] = {}


def lowers(*kinds: OpKind, int16: bool | tuple[OpKind, ...] = False) -> Callable[[Lowering], Lowering]:
    """Register a lowering function for one or more operator kinds; ``int16``: it also takes
    int16 activations (the 16x8 scheme) for all of them (True) or for those listed."""
    takes16 = set(kinds) if int16 is True else set(int16 or ())
    if not takes16 <= set(kinds):
        raise AssertionError("int16 names a kind the lowering does not register")

    def register(fn: Lowering) -> Lowering:
        for k in kinds:
            if k in LOWERINGS:
                raise AssertionError(f"two lowerings for {k.name}")
            LOWERINGS[k] = fn
        INT16_KINDS.update(takes16)
        return fn

    return register


def kernel_table(kinds: tuple[OpKind, ...], *rows: "Candidate") -> tuple["Candidate", ...]:
    """An operator's kernel table (the rows :func:`choose` tries, portable last), registered
    under ``kinds`` so that ``edgekit ops`` names the kernel families each kind has."""
    if not rows or rows[-1].lower is not _keep:
        raise AssertionError("the last row of a kernel table must be the portable kernel")
    for k in kinds:
        KERNEL_TABLES.setdefault(k, []).append(rows)
    return rows


def require_int16(t: Tensor, what: str, op: Op) -> None:
    """An int16 activation of the 16x8 scheme: quantized, zero point 0 (TFLM checks it)."""
    if t.dtype != DType.INT16 or t.quant is None:
        raise UnsupportedModelError(f"op {op.index} ({op.type_name}): {what} tensor {t.name!r} is {t.dtype.name}, "
                                    "not int16 like the operator's input (16x8)")
    if any(z != 0 for z in t.quant.zero_point):
        raise UnsupportedModelError(f"op {op.index} ({op.type_name}): {what} tensor {t.name!r} has zero point "
                                    f"{t.quant.zero_point[0]}; int16 activations take 0")


def require_int8(t: Tensor, what: str, op: Op) -> None:
    if t.dtype != DType.INT8 or t.quant is None:
        raise UnsupportedModelError(
            f"op {op.index} ({op.type_name}): {what} tensor {t.name!r} is {t.dtype.name}, "
            "edgekit kernels take int8 quantized tensors (convert with full-integer quantization)"
        )


def exact_inputs(ctx: LowerCtx, op: Op, count: int) -> list[Tensor]:
    """The operator's input tensors, refused in one line unless there are ``count``, all present."""
    ins = ctx.graph.op_inputs(op)
    if len(ins) != count or None in ins:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: {len(ins)} inputs, it takes {count}")
    return ins


# ---------------------------------------------------------------------------- kernel tables


@dataclass(frozen=True)
class Candidate:
    """One row of an operator's kernel table (as CMSIS-NN's ``arm_convolve_wrapper_s8`` picks a
    variant in one place): a kernel, the cheap test on the target and the portable call's
    parameters that says whether it may take the operator, and the lowering to it, which
    returns None when the operator's data rules the kernel out (bounds proved from the actual
    weights, a compression that saves too little)."""

    kernel: str  # the C function the row lowers to (for the reader of the table)
    applies: Callable[[LowerCtx, KernelCall], bool]
    lower: Callable[[LowerCtx, KernelCall], "KernelCall | None"]


def _always(ctx: LowerCtx, call: KernelCall) -> bool:
    return True


def _keep(ctx: LowerCtx, call: KernelCall) -> KernelCall:
    return call


def portable(kernel: str, applies: Callable[[LowerCtx, KernelCall], bool] = _always) -> Candidate:
    """The portable C kernel the lowering built: the last row of every table (always possible),
    or an earlier row where it wins on ``applies``."""
    return Candidate(kernel, applies, _keep)


def choose(table: tuple[Candidate, ...], ctx: LowerCtx, call: KernelCall) -> KernelCall:
    """The first candidate, in table order, that applies and lowers ``call`` (the portable
    kernel's call, whose constants every variant starts from)."""
    for cand in table:
        if cand.applies(ctx, call):
            chosen = cand.lower(ctx, call)
            if chosen is not None:
                return chosen
    raise AssertionError(f"op {call.op.index}: no kernel in its table takes it (the last row must be portable)")

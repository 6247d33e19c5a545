"""What edgekit runs, read from the lowerings' own registrations: every operator kind with a
lowering (``lowering.lowers``), the activation types it takes (int8; int16 where the lowering
says so: the 16x8 scheme) and its kernel families (the rows of the kernel tables registered with
``lowering.kernel_table``; every kind has the portable C99 kernel). ``edgekit ops`` prints it and
the README's operator table is its Markdown form, kept equal by a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core import DSP_CPUS
from .lower import supported_kinds
from .lowering import INT16_KINDS, KERNEL_TABLES

#: kernel families by the C function's name (the first mark found names it)
FAMILIES = (("_wino_dsp_", "DSP Winograd"), ("_int4_dsp_", "DSP int4"), ("_sparse_dsp_", "DSP block-sparse"),
            ("_pal_dsp_", "DSP palettized"), ("_dsp_", "DSP"), ("_pal_", "palettized"))
PORTABLE = "portable"
#: the order a row lists them
LISTED = (PORTABLE, "DSP", "DSP Winograd", "DSP int4", "DSP block-sparse", "DSP palettized", "palettized")


def family(kernel: str) -> str:
    """The family of a kernel table row, from its C function's name."""
    return next((name for mark, name in FAMILIES if mark in kernel), PORTABLE)


@dataclass(frozen=True)
class OperatorRow:
    name: str  # the TFLite builtin operator
    activations: tuple[str, ...]  # "int8", "int16"
    kernels: tuple[str, ...]  # families: portable first

    def to_json(self) -> dict:
        return {"operator": self.name, "activations": list(self.activations), "kernels": list(self.kernels)}


def operator_rows() -> list[OperatorRow]:
    rows = []
    for kind in sorted(supported_kinds(), key=lambda k: k.name):
        found = {family(c.kernel) for table in KERNEL_TABLES.get(kind, ()) for c in table} | {PORTABLE}
        rows.append(OperatorRow(kind.name, ("int8", "int16") if kind in INT16_KINDS else ("int8",),
                                tuple(f for f in LISTED if f in found)))
    return rows


def text(rows: list[OperatorRow]) -> str:
    width = max(len(r.name) for r in rows)
    lines = [f"{'operator':<{width}}  {'activations':<12} kernels"]
    lines += [f"{r.name:<{width}}  {', '.join(r.activations):<12} {', '.join(r.kernels)}" for r in rows]
    int16 = sum("int16" in r.activations for r in rows)
    lines.append(f"{len(rows)} operators; {int16} also with int16 activations (convert --mode int16x8); "
                 f"DSP kernels on cores with the DSP extension ({', '.join(sorted(DSP_CPUS))})")
    return "\n".join(lines)


def markdown(rows: list[OperatorRow]) -> str:
    lines = ["| operator | activations | kernels |", "|---|---|---|"]
    lines += [f"| `{r.name}` | {', '.join(r.activations)} | {', '.join(r.kernels)} |" for r in rows]
    return "\n".join(lines) + "\n"

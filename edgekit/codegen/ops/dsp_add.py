"""ADD of equal shapes on the DSP kernel ``ek_add_dsp_s8`` (ek_add_dsp.h): both inputs rescaled
through 256-entry tables, four elements per word, SMMLAR requantization."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..arith import multiply_by_quantized_multiplier
from ..lowering import CArray, CStruct, KernelCall, LowerCtx
from .dsp_common import INT32_LIMIT, activation_fields, requant_table


@dataclass(frozen=True)
class AddDspParams(CStruct):
    C_TYPE = "ek_add_dsp_params"
    size: int
    table1: CArray
    table2: CArray
    out_m: int
    out_c: int
    out_right: int
    act_full: int
    act_min: int
    act_max: int


def add_input_table(offset: int, left_shift: int, multiplier: int, shift: int) -> np.ndarray:
    """TFLite's rescaled ADD input for every int8 value (index value + 128)."""
    x = np.arange(-128, 128, dtype=np.int64)
    return multiply_by_quantized_multiplier((x + offset) * (1 << left_shift), multiplier, shift)


#: the kernel's two 256-entry int32 tables take 2 KB of flash per ADD: below this many elements
#: (8 bytes of table per element) the portable kernel's few hundred cycles more are the better buy
#: (an unrolled GRU's 16-element ADDs took 2 KB each)
ADD_DSP_MIN_SIZE = 256


def add_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    """A DSP core and an ADD (not SUB) without broadcasting, of at least ADD_DSP_MIN_SIZE elements."""
    return (ctx.target.dsp and call.function == "ek_add_s8" and not call.params.broadcast
            and call.params.size >= ADD_DSP_MIN_SIZE)


def lower_add_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_add_dsp_s8 for ``call`` (an ek_add_s8 call), None when the rescaled inputs or the
    requantization are outside the kernel's bounds."""
    p = call.params
    t1 = add_input_table(p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift)
    t2 = add_input_table(p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift)
    raw_max = int(np.abs(t1).max() + np.abs(t2).max())
    rows = requant_table(np.zeros(1), np.array([p.output_multiplier]), np.array([p.output_shift]),
                         p.output_offset, np.array([raw_max]))
    if rows is None or np.abs(t1).max() >= INT32_LIMIT // 4 or np.abs(t2).max() >= INT32_LIMIT // 4:
        return None
    _, m, c, right = (int(v) for v in rows[0])
    op = call.op
    params = AddDspParams(
        size=p.size,
        table1=ctx.array(op, "table1", "int32_t", t1, "input 1 rescaled to the common scale, by value + 128"),
        table2=ctx.array(op, "table2", "int32_t", t2, "input 2 rescaled to the common scale, by value + 128"),
        out_m=m, out_c=c, out_right=right, **activation_fields(p))
    return dataclasses.replace(call, function="ek_add_dsp_s8", header="ek_add_dsp.h", params=params)

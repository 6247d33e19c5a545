"""BATCH_MATMUL on the DSP kernel ``ek_batch_matmul_dsp_s8`` (ek_batch_matmul_dsp.h): the right
operand widened once per output matrix, four columns at a time against each widened left row.

The portable call's constants are kept whole (the kernel embeds its parameter struct); this adds
the padded sizes and, when ``dsp_common.requant_table`` proves it exact for every reachable sum,
the folded ``ek_requant2`` constants of the doubled accumulator. Otherwise (a real multiplier of
0.5 or more) the kernel requantizes as the portable one does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import kernel_facts
from ..lowering import CStruct, KernelCall, LowerCtx
from .dsp_common import requant_table, round_up


@dataclass(frozen=True)
class BatchMatMulDspParams(CStruct):
    C_TYPE = "ek_batch_matmul_dsp_params"
    base: CStruct  # the portable kernel's BatchMatMulParams
    depth_pad: int
    cols_pad: int
    doubled: int
    rq_multiplier: int
    rq_c: int
    rq_right: int


def batch_matmul_dsp_applies(ctx: LowerCtx, call: KernelCall) -> bool:
    return ctx.target.dsp


def lower_batch_matmul_dsp(ctx: LowerCtx, call: KernelCall) -> KernelCall | None:
    """ek_batch_matmul_dsp_s8 for ``call`` (an ek_batch_matmul_s8 call)."""
    p = call.params
    # |lhs - zp| and |rhs - zp| <= 255: the doubled sum within 2 * depth * 255^2
    table = requant_table(np.zeros(1), np.array([p.multiplier]), np.array([p.shift]), p.output_offset,
                          np.array([p.depth * 255 * 255]))
    doubled, m, c, right = (1, *(int(v) for v in table[0, 1:])) if table is not None else (0, 0, 0, 0)
    depth_pad, cols_pad = round_up(p.depth, 4), round_up(p.cols, 4)
    params = BatchMatMulDspParams(base=p, depth_pad=depth_pad, cols_pad=cols_pad, doubled=doubled,
                                  rq_multiplier=m, rq_c=c, rq_right=right)
    return dataclasses.replace(call, function="ek_batch_matmul_dsp_s8", header="ek_batch_matmul_dsp.h",
                               params=params, args=(*call.args, ctx.scratch(call.op)),
                               scratch_bytes=kernel_facts.scratch_bytes("ek_batch_matmul_dsp_s8", depth_pad,
                                                                        cols_pad))

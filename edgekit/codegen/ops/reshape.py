"""RESHAPE, SQUEEZE, EXPAND_DIMS: the bytes do not move, the output shares the input's storage."""

from __future__ import annotations

from ...errors import UnsupportedModelError
from ...ir import Op, OpKind
from ..lowering import KernelCall, LowerCtx, lowers


@lowers(OpKind.RESHAPE, OpKind.SQUEEZE, OpKind.EXPAND_DIMS, int16=True)
def lower_reshape(ctx: LowerCtx, op: Op) -> KernelCall:
    x = ctx.graph.op_inputs(op)[0]
    y = ctx.graph.op_outputs(op)[0]
    if x.num_elements != y.num_elements or x.dtype != y.dtype:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: input and output differ in size")
    # No quantization check: TFLM (and LiteRT) copy the bytes even when the converter gave the
    # output other quantization parameters, so sharing the storage is what they compute.
    if x.is_constant:
        raise UnsupportedModelError(f"op {op.index} {op.type_name}: reshape of a constant")
    return KernelCall(op, alias_input=0)

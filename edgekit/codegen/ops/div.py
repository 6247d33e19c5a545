"""DIV: int8 x1 / x2 with broadcasting, bit-exact with the tflite-micro interpreter.

The walk is ADD's (``binary.broadcast_plan``) and the parameters MUL's (``ek_mul_params``):
TFLM's Prepare computes one multiplier, scale 1 / (scale 2 * output scale) in float32 and then
converted to double; the reciprocal of each divisor is computed by the kernel, in integers, as
TFLite's ``GetReciprocal`` does (``ek_div.h``). Keras's softsign (x / (1 + |x|)) and any division
of two activations reach it.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import ElementwiseOptions, Op, OpKind
from ..arith import quantize_multiplier, tensor_activation_range
from ..lowering import KernelCall, LowerCtx, choose, lowers, portable
from .binary import MulParams
from .pairwise import _pair

DIV_KERNELS = (portable("ek_div_s8"),)

#: the largest output shift taken: beyond it, the kernel's last left shift could pass 31 places
#: (the quotient's headroom is at least 22 bits for int8 values)
MAX_OUTPUT_SHIFT = 22


@lowers(OpKind.DIV)
def lower_div(ctx: LowerCtx, op: Op) -> KernelCall:
    x1, x2, y, shape, overlaps = _pair(ctx, op)
    opts: ElementwiseOptions = op.options
    f32 = np.float32
    real = float(f32(x1.scale) / (f32(x2.scale) * f32(y.scale)))  # float32, then double, as TFLM
    m, s = quantize_multiplier(real)
    if s > MAX_OUTPUT_SHIFT:
        raise UnsupportedModelError(
            f"op {op.index} DIV: output rescale {real:g} is beyond 2^{MAX_OUTPUT_SHIFT}")
    act_min, act_max = tensor_activation_range(opts.activation, y)
    params = MulParams(broadcast=shape.broadcast, size=shape.size, dims=shape.dims,
                       in1_strides=shape.in1_strides, in2_strides=shape.in2_strides,
                       input1_offset=-x1.zero_point, input2_offset=-x2.zero_point,
                       output_multiplier=m, output_shift=s, output_offset=y.zero_point,
                       act_min=act_min, act_max=act_max)
    call = KernelCall(op, "ek_div_s8", "ek_div.h", params, (ctx.ptr(x1), ctx.ptr(x2), ctx.ptr(y)),
                      overlaps=overlaps)
    return choose(DIV_KERNELS, ctx, call)

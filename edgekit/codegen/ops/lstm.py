"""UNIDIRECTIONAL_SEQUENCE_LSTM, int8 weights, int16 gates and cell state (``ek_lstm.h``), as TFLM's
integer LSTM computes it: int8 activations (``ek_lstm_s8``) or int16 ones (``ek_lstm_s16``, the
16x8 scheme: TFLM's ``EvalLstm<int16_t, int8_t, int16_t, int64_t>``, whose gate biases are int64
and whose gates' fully connected layers accumulate in int64 and requantize by the 64-bit rule).

Every constant is the one TFLM's Prepare computes (``lstm_eval_common.cc``): each gate's two
fully connected layers output int16 at the fixed scale 2^-12 (Q3.12, the sigmoid's and tanh's
input), the gates' activations output Q0.15 (scale 2^-15), and the three elementwise products
(forget x cell, input x cell gate, output x tanh(cell)) are requantized to the cell state's and
the output state's scales. The output state (int8) and cell state (int16) are variable tensors:
they persist across invokes (the planner keeps them alive over the whole invoke, so nothing else
ever shares their bytes) and the generated ``P_reset_state`` sets them as TFLM resets them
(the output state to its zero point, the int16 cell state to 0). Unlike the other 16x8
operators, TFLM's LSTM takes int16 input and output state with any zero point (the converter's
LSTM gives its output one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import Activation, DType, Op, OpKind, SequenceLSTMOptions, Tensor
from .. import kernel_facts
from ..arith import check_accumulator, max_abs_acc, quantize_multiplier, reduced_multiplier, tfl_round
from ..lowering import CArray, CStruct, KernelCall, LowerCtx, choose, lowers, portable, require_int8
from .fully_connected import output_scales
from .unary import sigmoid_table_q16

GATE_INPUT_SCALE = 2.0 ** -12  # the fully connected layers' int16 output: Q3.12
GATE_OUTPUT_SCALE = 2.0 ** -15  # the sigmoid's and tanh's int16 output: Q0.15
GATES = ("input", "forget", "cell", "output")  # the kernel's gate order
# TFLite's input positions of the four gates' weights and biases
INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
HIDDEN_STATE, CELL_STATE = 18, 19
ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)  # peepholes, projection, layer normalization


@dataclass(frozen=True)
class LstmParams(CStruct):
    C_TYPE = "ek_lstm_params"
    batches: int
    time_steps: int
    time_major: int
    input_size: int
    units: int
    input_weights: CArray
    input_bias: CArray  # int32_t (ek_lstm_s8) or int64_t (ek_lstm_s16)
    recurrent_weights: CArray
    recurrent_bias: CArray
    input_multiplier: tuple[int, ...]  # ek_lstm_s16: reduced multipliers, right shifts
    input_shift: tuple[int, ...]
    recurrent_multiplier: tuple[int, ...]
    recurrent_shift: tuple[int, ...]
    cell_gate_tanh: int
    gate_act_multiplier: int
    gate_act_shift: int
    cell_act_multiplier: int
    cell_act_shift: int
    forget_multiplier: int
    forget_shift: int
    input_gate_multiplier: int
    input_gate_shift: int
    hidden_multiplier: int
    hidden_shift: int
    hidden_zero_point: int
    cell_clip: int
    sigmoid_table: CArray  # [256] uint16, unary.sigmoid_table_q16 (shared with int16 LOGISTIC/TANH)


LSTM_KERNELS = (portable("ek_lstm_s8"),)
LSTM_S16_KERNELS = (portable("ek_lstm_s16"),)


def activation_rescale(scale_power: int) -> tuple[int, int]:
    """(multiplier, right shift) of the int16 tanh's input for a Q(3-p).(12+p)-ish input of scale
    2^scale_power, as TFLM's lstm Tanh picks them and the reference int16 Tanh then rewrites
    them (a zero multiplier is the power-of-two case: 3 << shift, no shift)."""
    left = 15 + scale_power - 3
    multiplier, shift = (3, -left) if left < 0 else (0, left)
    if multiplier == 0:
        multiplier, shift = 3 << shift, 0
    return multiplier, shift


def checked_log2(x: float) -> int:
    """TFLite's CheckedLog2 result: log2 in float32, rounded half away from zero."""
    return tfl_round(float(np.float32(math.log(np.float32(x))) * np.float32(1.0 / np.float32(math.log(2.0)))))


def inter_gate_multiplier(scale1: float, scale2: float, out_scale: float) -> tuple[int, int]:
    """TFLM's CreateInterGateMulParams: the double product of the two input scales over the
    output scale."""
    return quantize_multiplier(float(np.float64(scale1) * np.float64(scale2) / np.float64(out_scale)))


def _weights(op: Op, t: Tensor | None, what: str) -> Tensor:
    if t is None or not t.is_constant or t.dtype != DType.INT8 or t.quant is None:
        raise UnsupportedModelError(f"op {op.index} UNIDIRECTIONAL_SEQUENCE_LSTM: {what} must be constant "
                                    "int8 (a full-integer model; CIFG LSTMs without input gate weights are not run)")
    if t.quant.per_channel or any(z != 0 for z in t.quant.zero_point):
        raise UnsupportedModelError(f"op {op.index} UNIDIRECTIONAL_SEQUENCE_LSTM: {what} must be "
                                    "per-tensor symmetric int8")
    return t


@lowers(OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM, int16=True)
def lower_lstm(ctx: LowerCtx, op: Op) -> KernelCall:
    opts: SequenceLSTMOptions = op.options
    where = f"op {op.index} UNIDIRECTIONAL_SEQUENCE_LSTM"
    ins = (ctx.graph.op_inputs(op) + [None] * 24)[:24]
    if len(op.inputs) != 24:
        raise UnsupportedModelError(f"{where}: {len(op.inputs)} inputs, it takes 24")
    present = [k for k in ABSENT if ins[k] is not None]
    if present:
        raise UnsupportedModelError(f"{where}: peephole, projection or layer-normalization inputs "
                                    f"({', '.join(map(str, present))}) are not supported")
    x, y = ins[0], ctx.graph.op_outputs(op)[0]
    h, c = ins[HIDDEN_STATE], ins[CELL_STATE]
    wide = x.dtype == DType.INT16  # the 16x8 scheme
    act = DType.INT16 if wide else DType.INT8
    if wide:
        for t, what in ((x, "input"), (y, "output")):
            if t.dtype != DType.INT16 or t.quant is None:
                raise UnsupportedModelError(f"{where}: {what} tensor {t.name!r} is {t.dtype.name}, not int16 "
                                            "like the input")
    else:
        require_int8(x, "input", op)
        require_int8(y, "output", op)
    if h is None or not h.variable or h.dtype != act or h.quant is None:
        raise UnsupportedModelError(f"{where}: the output state must be an {act.name.lower()} variable tensor")
    if c is None or not c.variable or c.dtype != DType.INT16 or c.quant is None:
        raise UnsupportedModelError(f"{where}: the cell state must be an int16 variable tensor "
                                    "(TFLM's integer LSTM)")
    if opts.activation != Activation.TANH:
        raise UnsupportedModelError(f"{where}: cell gate activation {opts.activation.name}; edgekit runs TANH")
    if len(x.shape) != 3 or len(y.shape) != 3 or len(h.shape) != 2:
        raise UnsupportedModelError(f"{where}: input {list(x.shape)}, output {list(y.shape)} and state "
                                    f"{list(h.shape)} are not 3-D, 3-D and 2-D")
    time_steps, batches = (x.shape[0], x.shape[1]) if opts.time_major else (x.shape[1], x.shape[0])
    in_size, units = x.shape[2], h.shape[1]
    w_in = [_weights(op, ins[k], f"input weights {k}") for k in INPUT_WEIGHTS]
    w_rec = [_weights(op, ins[k], f"recurrent weights {k}") for k in RECURRENT_WEIGHTS]
    biases = [ins[k] for k in BIASES]
    if (any(w.shape != (units, in_size) for w in w_in) or any(w.shape != (units, units) for w in w_rec)
            or h.shape != (batches, units) or c.num_elements != batches * units
            or y.shape[:2] != x.shape[:2] or y.shape[2] != units):
        raise UnsupportedModelError(f"{where}: weight, state or output shapes do not fit input {list(x.shape)} "
                                    f"and {units} units")
    bias_type = DType.INT64 if wide else DType.INT32
    for b in biases:
        if b is None or not b.is_constant or b.dtype != bias_type or b.num_elements != units:
            raise UnsupportedModelError(
                f"{where}: gate biases must be constant {bias_type.name.lower()}, {units} values" +
                (" (TFLM reads an int16 LSTM's biases as int64)" if wide else ""))

    in_reals = [output_scales(x.scale, w.quant.scale, GATE_INPUT_SCALE, False)[0] for w in w_in]
    rec_reals = [output_scales(h.scale, w.quant.scale, GATE_INPUT_SCALE, False)[0] for w in w_rec]
    in_bias = [b.data.astype(np.int64).reshape(-1) - x.zero_point * w.data.astype(np.int64).sum(axis=1)
               for w, b in zip(w_in, biases)]
    rec_bias = [-h.zero_point * w.data.astype(np.int64).sum(axis=1) for w in w_rec]
    if wide:  # TFLM's FullyConnected<int16_t, int8_t, int16_t, int64_t>: int64 sum, the 64-bit rule
        for k, (reals, bias, t, ws) in enumerate(((in_reals, in_bias, x, w_in), (rec_reals, rec_bias, h, w_rec))):
            for g, (real, bb, w) in enumerate(zip(reals, bias, ws)):
                check_accumulator(f"{where} {GATES[g]} gate", max_abs_acc(bb, w.data, 32768 + abs(t.zero_point)),
                                  [real], acc_bits=48)
        in_q = [quantize_multiplier(r) for r in in_reals]
        rec_q = [quantize_multiplier(r) for r in rec_reals]
        if any(sh >= 8 for _, sh in in_q + rec_q):
            raise UnsupportedModelError(f"{where}: a gate's scale ratio is above 2^7 (TFLM's 16x8 "
                                        "requantization takes less)")
        in_q = [reduced_multiplier(m, sh) for m, sh in in_q]
        rec_q = [reduced_multiplier(m, sh) for m, sh in rec_q]
    else:
        in_q = [quantize_multiplier(r) for r in in_reals]
        rec_q = [quantize_multiplier(r) for r in rec_reals]
    in_bias, rec_bias = np.concatenate(in_bias), np.concatenate(rec_bias)
    bias_c = "int64_t" if wide else "int32_t"
    cell_power = checked_log2(c.scale)
    clip = 0
    if opts.cell_clip > 0:
        clip = int(min(max(float(np.float64(opts.cell_clip) / np.float64(c.scale)), -32768.0), 32767.0))
        if clip <= 0:
            raise UnsupportedModelError(f"{where}: cell clip {opts.cell_clip} rounds to 0 at the cell state's scale")
    gate_act = activation_rescale(-12)
    cell_act = activation_rescale(cell_power)
    forget = inter_gate_multiplier(GATE_OUTPUT_SCALE, c.scale, c.scale)
    input_gate = inter_gate_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, c.scale)
    hidden = inter_gate_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, h.scale)
    params = LstmParams(
        batches=batches, time_steps=time_steps, time_major=int(opts.time_major), input_size=in_size, units=units,
        input_weights=ctx.array(op, "input_weights", "int8_t", np.concatenate([w.data.reshape(-1) for w in w_in]),
                                "input, forget, cell, output gates"),
        input_bias=ctx.array(op, "input_bias", bias_c, in_bias, "gate bias with the input offset folded in"),
        recurrent_weights=ctx.array(op, "recurrent_weights", "int8_t",
                                    np.concatenate([w.data.reshape(-1) for w in w_rec]),
                                    "input, forget, cell, output gates"),
        recurrent_bias=ctx.array(op, "recurrent_bias", bias_c, rec_bias, "the output state's offset folded in"),
        input_multiplier=tuple(m for m, _ in in_q), input_shift=tuple(s for _, s in in_q),
        recurrent_multiplier=tuple(m for m, _ in rec_q), recurrent_shift=tuple(s for _, s in rec_q),
        cell_gate_tanh=1,
        gate_act_multiplier=gate_act[0], gate_act_shift=gate_act[1],
        cell_act_multiplier=cell_act[0], cell_act_shift=cell_act[1],
        forget_multiplier=forget[0], forget_shift=forget[1],
        input_gate_multiplier=input_gate[0], input_gate_shift=input_gate[1],
        hidden_multiplier=hidden[0], hidden_shift=hidden[1], hidden_zero_point=h.zero_point,
        cell_clip=clip,
        sigmoid_table=ctx.array(op, "sigmoid", "uint16_t", sigmoid_table_q16(), "sigmoid(i / 24) in Q0.16"),
    )
    kernel = "ek_lstm_s16" if wide else "ek_lstm_s8"
    call = KernelCall(op, kernel, "ek_lstm.h", params,
                      (ctx.ptr(x), ctx.ptr(y), ctx.ptr(h), ctx.ptr(c), ctx.scratch(op)),
                      scratch_bytes=kernel_facts.scratch_bytes(kernel, units))
    return choose(LSTM_S16_KERNELS if wide else LSTM_KERNELS, ctx, call)

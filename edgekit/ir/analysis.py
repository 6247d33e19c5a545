"""Static facts about a graph: MACs per operator, weight and activation bytes."""

from __future__ import annotations

from dataclasses import dataclass

from . import Graph, Op, OpKind


def op_macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of one operator (convolutions and matrix products; 0 otherwise, and 0
    for one whose weights are not of the shape its kind has)."""
    if op.kind == OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM and len(op.inputs) > 8 and min(op.inputs[1:9]) >= 0:
        # every step: four gates, each a product with the input and one with the output state
        x = graph.tensors[op.inputs[0]]
        steps = x.num_elements // x.shape[-1] if x.shape and x.shape[-1] else 0
        return steps * sum(graph.tensors[op.inputs[k]].num_elements for k in range(1, 9))
    if op.kind not in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED,
                       OpKind.TRANSPOSE_CONV) or len(op.inputs) < 2:
        return 0
    w = graph.tensors[op.inputs[1]]
    y = graph.tensors[op.outputs[0]]
    if op.kind == OpKind.TRANSPOSE_CONV and len(op.inputs) >= 3 and op.inputs[2] >= 0 and len(w.shape) == 4:
        # every input value meets every tap of every filter: taps that land in the padding count too
        x = graph.tensors[op.inputs[2]]
        return x.num_elements * w.shape[0] * w.shape[1] * w.shape[2]
    if op.kind == OpKind.CONV_2D and len(w.shape) == 4:
        _, kh, kw, cin = w.shape
        return y.num_elements * kh * kw * cin
    if op.kind == OpKind.DEPTHWISE_CONV_2D and len(w.shape) == 4:
        return y.num_elements * w.shape[1] * w.shape[2]
    if op.kind == OpKind.FULLY_CONNECTED and len(w.shape) >= 1:
        return y.num_elements * w.shape[-1]
    return 0


@dataclass(frozen=True)
class GraphTotals:
    macs: int
    weight_bytes: int
    activation_bytes: int


def totals(graph: Graph) -> GraphTotals:
    used_consts = {i for op in graph.ops for i in op.inputs if i >= 0 and graph.tensors[i].is_constant}
    return GraphTotals(
        macs=sum(op_macs(graph, op) for op in graph.ops),
        weight_bytes=sum(graph.tensors[i].data.nbytes for i in used_consts),
        activation_bytes=sum(t.nbytes for t in graph.activation_tensors),
    )


def source_scope(graph: Graph, op: Op) -> str:
    """The name scope of the layer ``op`` came from, as the converter names tensors: the second
    part of its first output's name ("functional_1/up_1/Repeat/Tile" -> "up_1"; Keras 3 adds the
    "_1", Keras 2 does not); "" when the name carries none ("tfl.quantize", a model output)."""
    for t in graph.op_outputs(op):
        parts = t.name.split(";")[0].split("/")
        if len(parts) >= 3 and parts[1]:
            return parts[1]
    return ""

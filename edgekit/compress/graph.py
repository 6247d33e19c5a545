"""The wiring of a Keras 3 functional model: which operation feeds which.

Layers and operations (``x[..., :c]`` slices are operations, not layers) are listed in
topological order; each is expected to be called once in the model (zoo models are).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedModelError


@dataclass(frozen=True)
class OpNode:
    op: object  # keras Operation / Layer
    inputs: tuple[str, ...]  # names of the producing operations, in call order
    input_shapes: tuple[tuple, ...]
    output_shape: tuple

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def kind(self) -> str:
        return type(self.op).__name__


def wiring(model) -> list[OpNode]:
    """Every operation of a functional ``model`` with the names of the operations it reads."""
    if not hasattr(model, "operations") or not hasattr(model, "_nodes_by_depth"):
        raise UnsupportedModelError(f"{model.name}: only functional Keras models can be rewritten")
    nodes = []
    seen = set()
    for op in model.operations:
        inbound = [n for n in op._inbound_nodes if _in_model(model, n)]
        if len(inbound) > 1:
            raise UnsupportedModelError(f"{model.name}: layer {op.name!r} is called {len(inbound)} times")
        if not inbound:
            continue
        node = inbound[0]
        ins = tuple(t._keras_history.operation.name for t in node.input_tensors)
        shapes = tuple(tuple(t.shape) for t in node.input_tensors)
        outs = node.output_tensors
        if len(outs) != 1:
            raise UnsupportedModelError(f"{model.name}: operation {op.name!r} has {len(outs)} outputs")
        nodes.append(OpNode(op, ins, shapes, tuple(outs[0].shape)))
        seen.add(op.name)
    return nodes


def _in_model(model, node) -> bool:
    for depth_nodes in model._nodes_by_depth.values():
        if node in depth_nodes:
            return True
    return False


def output_names(model) -> list[str]:
    return [t._keras_history.operation.name for t in model.outputs]


def rebuild(model, make_layer, skip: set[str] = frozenset(), name: str | None = None):
    """A new functional model with the same wiring: ``make_layer(op)`` gives the operation to
    call in place of ``op`` (return ``op`` itself to share it); operations named in ``skip``
    are dropped (their single input passes through)."""
    import keras

    tensors: dict[int, object] = {}
    new_inputs = []
    for t in model.inputs:
        ni = keras.Input(shape=t.shape[1:], batch_size=t.shape[0], dtype=t.dtype,
                         name=t._keras_history.operation.name)
        tensors[id(t)] = ni
        new_inputs.append(ni)
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            op = node.operation
            if isinstance(op, keras.layers.InputLayer):
                continue
            if op.name in skip:
                ins = node.arguments.keras_tensors
                tensors[id(node.outputs[0])] = tensors[id(ins[0])]
                continue
            args, kwargs = node.arguments.fill_in(tensors)
            out = make_layer(op)(*args, **kwargs)
            tensors[id(node.outputs[0])] = out
    outs = [tensors[id(t)] for t in model.outputs]
    return keras.Model(new_inputs, outs if len(outs) > 1 else outs[0], name=name or model.name)


def consumers(model) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in wiring(model):
        for i in n.inputs:
            out.setdefault(i, []).append(n.name)
    return out

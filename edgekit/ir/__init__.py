"""The graph IR, the bottom layer: what every later stage reads.

``graph``: the model as frozen dataclasses; ``read``: a ``.tflite`` flatbuffer into a graph,
checked against the invariants every later stage relies on (``checks``); ``analysis``: what a
graph costs (MACs, weight and activation bytes). Nothing here imports another edgekit
package.
"""

from .graph import (
    Activation,
    BlockOptions,
    ConcatenationOptions,
    Conv2DOptions,
    DType,
    DepthwiseConv2DOptions,
    ElementwiseOptions,
    FullyConnectedOptions,
    GatherOptions,
    Graph,
    LeakyReluOptions,
    NoOptions,
    Op,
    OpKind,
    PackOptions,
    Padding,
    Pool2DOptions,
    Quantization,
    ReducerOptions,
    ResizeOptions,
    SoftmaxOptions,
    SplitOptions,
    SqueezeOptions,
    StridedSliceOptions,
    Tensor,
    TransposeConvOptions,
    dequantize_values,
    quantize_values,
)
from .read import parse_tflite, read_tflite

# one name per line: branches that add options merge without conflicts
__all__ = [
    "Activation",
    "BlockOptions",
    "ConcatenationOptions",
    "Conv2DOptions",
    "DType",
    "DepthwiseConv2DOptions",
    "ElementwiseOptions",
    "FullyConnectedOptions",
    "GatherOptions",
    "Graph",
    "LeakyReluOptions",
    "NoOptions",
    "Op",
    "OpKind",
    "PackOptions",
    "Padding",
    "Pool2DOptions",
    "Quantization",
    "ReducerOptions",
    "ResizeOptions",
    "SoftmaxOptions",
    "SplitOptions",
    "SqueezeOptions",
    "StridedSliceOptions",
    "Tensor",
    "TransposeConvOptions",
    "dequantize_values",
    "parse_tflite",
    "quantize_values",
    "read_tflite",
]

"""The graph IR, the bottom layer: what every later stage reads.

``graph``: the model as frozen dataclasses; ``read``: a ``.tflite`` flatbuffer into a graph,
checked against the invariants every later stage relies on (``checks``); ``analysis``: what a
graph costs (MACs, weight and activation bytes). Nothing here imports another edgekit
package.
"""

from .graph import (
                    Activation,
                    ConcatenationOptions,
                    Conv2DOptions,
                    DepthwiseConv2DOptions,
                    DType,
                    ElementwiseOptions,
                    FullyConnectedOptions,
                    GeluOptions,
                    Graph,
                    LeakyReluOptions,
                    NoOptions,
                    Op,
                    OpKind,
                    Padding,
                    Pool2DOptions,
                    Quantization,
                    ReducerOptions,
                    SoftmaxOptions,
                    SqueezeOptions,
                    StridedSliceOptions,
                    Tensor,
                    dequantize_values,
                    quantize_values,
)
from .read import parse_tflite, read_tflite

__all__ = ["Activation", "ConcatenationOptions", "Conv2DOptions", "DepthwiseConv2DOptions", "DType",
           "ElementwiseOptions", "FullyConnectedOptions", "GeluOptions", "Graph", "LeakyReluOptions", "NoOptions",
           "Op", "OpKind", "Padding", "Pool2DOptions", "Quantization", "ReducerOptions", "SoftmaxOptions",
           "SqueezeOptions", "StridedSliceOptions", "Tensor", "dequantize_values", "parse_tflite", "quantize_values",
           "read_tflite"]

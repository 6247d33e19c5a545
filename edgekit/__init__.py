"""edgekit: from a Keras model to int8 C on a microcontroller, measured on the device.

The pipeline, one module (or package) per stage, imports pointing one way:
``ir`` -> ``convert`` -> ``plan`` -> ``codegen`` -> ``boards`` -> ``harness`` -> ``cli``.
"""

__version__ = "0.1.0"

"""Make a network fit a board: pruning, weight clustering, distillation, quantization-aware
training -- all on Keras 3 models, all ending in a plain int8 model edgekit deploys bit-exact.

    prune      magnitude (unstructured) pruning with a schedule; structured channel removal
    cluster    k-means weight sharing, stored palettized by the generated code
    distill    knowledge distillation from a teacher's softened outputs
    qat        quantization-aware fine-tuning (fake-quant), then ordinary int8 conversion
    data       data sets (scikit-learn's digits, .npz files), resizing
    deploy     int8 conversion at batch 1, int8 accuracy with tflite-micro, flash/arena/MACs

Keras and TensorFlow are imported inside the functions that need them.
"""

#!/usr/bin/env bash
# The main job, on the emulated Cortex-M4 (QEMU mps2-an386), after setting up what it needs.
#   scripts/demo.sh                          train a small CNN on scikit-learn's digits and deploy it
#   scripts/demo.sh MODEL --calib DATA.npy   deploy your own Keras model (.keras, .h5, SavedModel) or .tflite
# Extra arguments after MODEL go to `edgekit deploy` (e.g. --board qemu-mps2-an500, --samples 20).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p out
if [ $# -eq 0 ]; then
    python3 examples/digits.py --out out/digits
    # the held-out digits and their labels: accuracy on the device beside the float model's
    set -- out/digits/digits.keras --calib out/digits/digits_calib.npy \
        --inputs out/digits/digits_calib.npy --labels out/digits/digits_labels.npy --samples 0
fi
exec edgekit deploy "$1" --board qemu-mps2-an386 "${@:2}"

#!/usr/bin/env bash
# The test command: set up (idempotent), then run the whole suite on two workers.
# Needs no hardware: the emulated Cortex-M boards run under QEMU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
exec python3 -m pytest -n 2 -q "$@"

#!/usr/bin/env bash
# Installs what edgekit needs on a fresh Debian machine (run as root), and nothing twice:
# the Arm toolchain and QEMU from Debian, the Python packages from PyPI (edgekit editable).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v arm-none-eabi-gcc >/dev/null || need_apt+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib ] || [ -e /usr/lib/arm-none-eabi/lib/libc.a ] || need_apt+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v valgrind >/dev/null || need_apt+=(valgrind)  # the overlap tests record every load and store
command -v chromium >/dev/null || need_apt+=(chromium)  # the report test renders the HTML page in it
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" - <<'PYEOF' 2>/dev/null
import importlib.util as u, sys
mods = ["edgekit", "tensorflow", "ai_edge_litert", "tflite_micro", "tflite", "jinja2", "serial",
        "yaml", "pytest", "xdist", "hypothesis", "sklearn", "matplotlib", "PIL", "importlinter", "hatchling", "cmake"]
missing = [m for m in mods if u.find_spec(m) is None]
sys.exit(1 if missing else 0)
PYEOF
then
    echo "setup: pip install -e .[convert,reference,plot,test]" >&2
    "$PY" -m pip install -q --disable-pip-version-check -e ".[convert,reference,plot,test]"
elif ! (here=$(pwd -P); cd / && "$PY" -c "import edgekit, pathlib, sys; sys.exit(str(pathlib.Path(edgekit.__file__).resolve().parents[1]) != '$here')") 2>/dev/null; then
    # edgekit is installed, but from another checkout: point it at this one
    echo "setup: pip install -e . (this checkout)" >&2
    "$PY" -m pip install -q --disable-pip-version-check --no-deps -e .
fi

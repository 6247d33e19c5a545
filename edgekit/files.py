"""Where edgekit's non-Python files are: the one place that knows the checkout's layout.

The C kernels, harness and QEMU plugin (``firmware/``), the Jinja templates (``templates/``)
and the board files with their support code (``boards/``) sit beside the package; the fitted
cost model ships inside it (``data/``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
TEMPLATES = ROOT / "templates"
FIRMWARE = ROOT / "firmware"
KERNELS = FIRMWARE / "kernels"
QEMU_PLUGIN = FIRMWARE / "qemu_plugin"
BOARDS = ROOT / "boards"
BOARD_SUPPORT = BOARDS / "support"
DATA = PACKAGE / "data"

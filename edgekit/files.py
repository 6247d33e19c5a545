"""Where edgekit's non-Python files are: the one place that knows.

The C kernels, harness and QEMU plugin (``firmware/``), the Jinja templates (``templates/``)
and the board files with their support code (``boards/``) are package data, found through
``importlib.resources``: in an installed wheel they sit in ``edgekit/_data/`` (the build copies
them there: ``pyproject.toml``, ``force-include``); in a checkout (an editable install, the
tests) they are the repository's own folders beside the package. The fitted cost model ships
inside the package (``data/``).

Everything here is a real directory: the compiler reads the kernels by path, so edgekit cannot
run from a zipped package.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def _package_dir() -> Path:
    root = importlib.resources.files("edgekit")
    if not isinstance(root, Path):  # a zip import: gcc cannot read kernels from inside it
        raise ImportError("edgekit must be installed as files, not imported from a zip archive")
    return root.resolve()


PACKAGE = _package_dir()
SHIPPED = PACKAGE / "_data"  # in a wheel
ROOT = SHIPPED if (SHIPPED / "templates").is_dir() else PACKAGE.parent  # else a checkout
TEMPLATES = ROOT / "templates"
FIRMWARE = ROOT / "firmware"
KERNELS = FIRMWARE / "kernels"
QEMU_PLUGIN = FIRMWARE / "qemu_plugin"
BOARDS = ROOT / "boards"
BOARD_SUPPORT = BOARDS / "support"
DATA = PACKAGE / "data"

"""Facts about the C kernels, asked of the C kernels themselves.

A kernel that needs scratch says how much in a C function beside it,
``<kernel>_scratch_bytes(...)`` (as CMSIS-NN's ``*_get_buffer_size``); a kernel that reads a
stream of constants in a fixed layout names that layout in its header and exports it
(``ek_depthwise_rows_dsp_s8_record``). The generator compiles the kernels for the host once
(a shared library, cached by the sources' hash) and calls those functions at generation time,
so a change to a kernel's C is a change to what the planner and the weight layouts get, with no
Python copy to keep in step.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ToolchainError
from ..files import KERNELS

#: every kernel source, portable and DSP (the DSP ones build for the host with C twins)
SOURCE_DIRS = (KERNELS, KERNELS / "dsp")
FLAGS = ("-std=c99", "-O0", "-fPIC", "-shared", "-w")


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in d.iterdir() if p.suffix in (".c", ".h"))


def _cache_dir() -> Path:
    base = os.environ.get("EDGEKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "edgekit")
    return Path(base)


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise ToolchainError("no host C compiler (gcc): edgekit compiles its kernels for the host to read "
                             "their scratch sizes and layouts; install gcc")
    return cc


def _build(cc: str, out: Path) -> None:
    """Compile the kernels into ``out`` through a temporary file in the same folder, then rename
    (several processes may build at once)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        cmd = [cc, *FLAGS, *(f"-I{d}" for d in SOURCE_DIRS), *(str(p) for p in _sources() if p.suffix == ".c"),
               "-o", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise ToolchainError(f"compiling the kernels for the host failed: {proc.stderr.strip()[:400]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@functools.cache
def library() -> ctypes.CDLL:
    """The kernels as a host shared library, built on first use (then taken from the cache)."""
    cc = _compiler()
    h = hashlib.sha256(" ".join((cc, *FLAGS)).encode())
    for p in _sources():
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    path = _cache_dir() / f"libek_facts-{h.hexdigest()[:16]}.so"
    if not path.exists():
        try:
            _build(cc, path)
        except OSError:  # no writable cache: build into a private folder
            path = Path(tempfile.mkdtemp(prefix="edgekit-facts-")) / path.name
            _build(cc, path)
    return ctypes.CDLL(str(path))


def _call(name: str, *args: int) -> int:
    fn = getattr(library(), name)
    fn.restype = ctypes.c_int32
    fn.argtypes = [ctypes.c_int32] * len(args)
    return int(fn(*(int(a) for a in args)))


def scratch_bytes(kernel: str, *args: int) -> int:
    """What ``<kernel>_scratch_bytes(args...)`` returns: the scratch ``kernel`` needs."""
    n = _call(f"{kernel}_scratch_bytes", *args)
    if n < 0:
        raise AssertionError(f"{kernel}_scratch_bytes{args} = {n}")
    return n


@functools.cache
def depthwise_rows_record() -> tuple[int, int, int]:
    """(EK_DWR_PAIRS, EK_DWR_REQUANT, EK_DWR_WORDS): where a channel's weight pairs and its four
    requantization terms start in its record of ek_depthwise_rows_dsp_s8's weight stream, and
    the record's length, in int32 words (ek_depthwise_rows_dsp.h)."""
    pairs, requant, words = (_call("ek_depthwise_rows_dsp_s8_record", f) for f in range(3))
    if _call("ek_depthwise_rows_dsp_s8_record", 3) != -1 or min(pairs, requant, words) < 0:
        raise AssertionError("ek_depthwise_rows_dsp_s8_record has another number of fields")
    return pairs, requant, words


@functools.cache
def winograd_group(block_tiles: int) -> int:
    """The output channels ek_conv3x3_wino_dsp_s8's channel loop computes at once with blocks of
    ``block_tiles`` tiles: the weights' layout (ek_conv3x3_wino_dsp.h)."""
    group = _call("ek_conv3x3_wino_dsp_s8_group", block_tiles)
    if group < 1:
        raise AssertionError(f"ek_conv3x3_wino_dsp_s8 has no blocks of {block_tiles} tiles")
    return group

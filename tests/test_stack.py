"""The stack figure in a generated header: worst-case stack of P_invoke from gcc's own frame
sizes and call graph (-fcallgraph-info=su), the C library's frames read from its code, and no
figure where there is no bound (recursion, run-time-sized frames)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.target.build import compile_flags
from edgekit.target.boards import load_board
from edgekit.target.stack import library_frames, read_call_graph, worst_case

ROOT = Path(__file__).resolve().parents[1]

# Frames the test states from the C: leaf keeps 1000 bytes, mid 200, big 600 (locals that must
# live on the stack, volatile); every function but leaf is kept apart (noinline).
SOURCE = r"""
#include <stdint.h>
#include <string.h>
#define NOINLINE __attribute__((noinline))
void sink(volatile uint8_t *p);
static NOINLINE void leaf(int n) { volatile uint8_t buf[1000]; buf[n] = 1; sink(buf); }
NOINLINE void mid(int n) { volatile uint8_t b[200]; b[n] = 2; leaf(n); sink(b); }
void entry(int n, uint8_t *d) { memset(d, 0, (size_t)n); mid(n); }
void rec(int n) { volatile uint8_t b[16]; b[0] = 1; if (n) rec(n - 1); sink(b); }
void vla(int n) { volatile uint8_t b[n]; b[0] = 1; sink(b); }
typedef void (*fn)(int);
static NOINLINE void small(int n) { volatile uint8_t b[8]; b[0] = (uint8_t)n; sink(b); }
static NOINLINE void big(int n) { volatile uint8_t b[600]; b[0] = (uint8_t)n; sink(b); }
void through_pointer(int n, int k) { fn f = k ? small : big; f(n); }
void calls_unknown(void) { extern void elsewhere(void); elsewhere(); }
"""
SINK = "#include <stdint.h>\nvoid sink(volatile uint8_t *p) { p[1] = 0; }\n"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    out = tmp_path_factory.mktemp("stack")
    (out / "a.c").write_text(SOURCE)
    (out / "b.c").write_text(SINK)
    board = load_board("qemu-mps2-an386")
    flags = [f for f in compile_flags(board) if not f.startswith("-W")]
    subprocess.run(["arm-none-eabi-gcc", *flags, "-c", "a.c", "b.c"], cwd=out, check=True)
    return read_call_graph([out / "b.ci", out / "a.ci"])  # a file that defines a callee may come first


def test_deepest_path_holds_every_frame_on_it(graph):
    use = worst_case(graph, "entry", {"memset": 16})
    assert use.path == ("entry", "mid", "a.c:leaf", "sink")
    # at least the locals the C keeps alive at once; the rest is saved registers and alignment
    assert 1200 <= use.bytes <= 1200 + 96


def test_library_frames_count_on_a_shallow_path(graph):
    shallow = worst_case(graph, "sink", {})
    assert shallow.bytes is not None and shallow.path == ("sink",)
    use = worst_case(graph, "entry", {"memset": 5000})
    assert use.path == ("entry", "memset") and use.bytes > 5000


def test_a_call_through_a_pointer_counts_the_deepest_static_function_of_its_file(graph):
    """The pointer may hold small or big; the analysis cannot tell which static function of a.c
    it points to, so it takes the deepest of them all: leaf (1000 bytes), not only big (600)."""
    use = worst_case(graph, "through_pointer", {})
    assert use.path[:2] == ("through_pointer", "a.c:leaf") and 1000 <= use.bytes <= 1000 + 64


@pytest.mark.parametrize("entry,reason", [
    ("rec", "recursion: rec -> rec"),
    ("vla", "vla has a frame whose size is known only at run time"),
    ("calls_unknown", "elsewhere (called by calls_unknown) was compiled without -fcallgraph-info"),
    ("absent", "absent is in none of the compiled files"),
])
def test_no_figure_where_there_is_no_bound(graph, entry, reason):
    use = worst_case(graph, entry, {})
    assert use.bytes is None and use.reason == reason


def test_library_frames_are_read_from_the_library():
    """newlib for the Cortex-M4 hard-float multilib: memcpy (assembly) touches no stack;
    strstr's two_way_long_needle saves nine registers and takes 1,044 bytes more."""
    board = load_board("qemu-mps2-an386")
    lib = subprocess.run(["arm-none-eabi-gcc", *board.cpu_flags, "-print-file-name=libc.a"], capture_output=True,
                         text=True, check=True).stdout.strip()
    frames = library_frames("arm-none-eabi-objdump", Path(lib), {"memcpy", "two_way_long_needle", "no_such_function"})
    assert frames["memcpy"] == 0 and frames["two_way_long_needle"] >= 9 * 4 + 1044
    assert "no_such_function" not in frames


def _generate(tmp_path, *extra, env=None):
    out = tmp_path / "gen"
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", "generate", str(ROOT / "tests/models/ad01_int8.tflite"),
                           "-o", str(out), "--prefix", "ad", *extra], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_generated_header_states_the_figure_for_the_board(tmp_path):
    out, stdout = _generate(tmp_path, "--board", "qemu-mps2-an386")
    header = (out / "ad.h").read_text()
    meta = json.loads((out / "metadata.json").read_text())
    n = meta["invoke_stack_bytes"]
    assert f"#define AD_INVOKE_STACK_BYTES {n}\n" in header and f"ad_invoke needs at most {n:,} bytes of stack" in stdout
    # the deepest path runs from the API through the kernel that the model calls, into memset
    line = next(ln for ln in header.splitlines() if "deepest path:" in ln)
    assert "ad_invoke -> ad_run -> ek_fully_connected_dsp_s8" in line
    assert not list(out.rglob("*.ci"))  # the compiler's files stay out of the generated folder


def test_without_the_compiler_the_header_says_so(tmp_path):
    bin_dir = tmp_path / "bin"  # the host's compiler and nothing else
    bin_dir.mkdir()
    for tool in ("gcc", "as", "ld"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    out, stdout = _generate(tmp_path, "--board", "qemu-mps2-an386", env={**os.environ, "PATH": str(bin_dir)})
    header = (out / "ad.h").read_text()
    assert "INVOKE_STACK_BYTES" not in header and "arm-none-eabi-gcc, which computes it for" in header
    assert "no stack figure for ad_invoke: arm-none-eabi-gcc" in stdout


def test_host_generation_has_no_figure(tmp_path):
    out, stdout = _generate(tmp_path)
    header = (out / "ad.h").read_text()
    assert "INVOKE_STACK_BYTES" not in header and "Stack: not computed" in header and "stack" not in stdout


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_stack_figure_with_a_relative_output_folder(mlperf_models, tmp_path, monkeypatch, capsys):
    """generate --board -o DIR with DIR relative: the compiler runs in its own folder, so the
    stack figure's build must name the generated files by absolute paths (it said 'No such file')."""
    from edgekit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["generate", str(mlperf_models / "ad01_int8.tflite"), "-o", "rel", "--board", "qemu-mps2-an386"]) == 0
    assert "#define MODEL_INVOKE_STACK_BYTES" in (tmp_path / "rel" / "model.h").read_text()

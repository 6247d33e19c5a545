"""What the kernel benchmarks (int4_conv, grouped_conv, sparse_conv) share: build a model for a
board, run it under QEMU through the serial harness with the cycle plugin, and check every output
against tflite-micro."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.codegen.core import target_for_cpu  # noqa: E402
from edgekit.codegen.ops import conv  # noqa: E402
from edgekit.harness.deploy import connect, flash_facts, with_cycle_plugin  # noqa: E402
from edgekit.harness.profile import profile  # noqa: E402
from edgekit.target import cycles  # noqa: E402
from edgekit.target.boards import load_board  # noqa: E402
from edgekit.target.build import build_firmware  # noqa: E402

BOARD = "qemu-mps2-an386"


def run_on_board(path: Path, work: Path, target=None, conv_table=None, board_name: str = BOARD):
    """``path`` built for ``board_name`` (``target`` default: its core's; ``conv_table``: CONV_2D's kernel
    table while it is lowered) and run, 3 samples: (firmware, cycle estimate); exits when an output
    differs from tflite-micro's."""
    board = load_board(board_name)
    table = conv.CONV_2D_KERNELS
    if conv_table is not None:
        conv.CONV_2D_KERNELS = conv_table
    try:
        fw = build_firmware(path, board, work, target=target or target_for_cpu(board.cpu))
    finally:
        conv.CONV_2D_KERNELS = table
    with with_cycle_plugin(board, None, fw.elf, len(fw.generated.calls)) as (run_board, cycle_file):
        with connect(run_board, None, fw.elf, log=lambda m: None) as dev:
            rep = profile(dev, path, board.name, emulated=True, icount_shift=board.emulator.icount_shift,
                          samples=3, seed=0, flash=flash_facts(fw.sizes))
        est = cycles.read(cycle_file)
    if not rep.passed:
        raise SystemExit(f"{path.stem}: not bit-exact with tflite-micro")
    return fw, est

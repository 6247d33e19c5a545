"""The cycle model against a real board: the microTVM + CMSIS-NN images of tests/calibration/,
estimated with ``--board nucleo-l4r5zi`` (ARM's Cortex-M4 TRM timings plus the board's memory
system from ST's RM0432), against the latency the MLPerf Tiny v1.0 submission published for the
same code on a NUCLEO-L4R5ZI (tests/calibration/README.md).

The model's parameters are facts from the manuals, not fitted to these figures. The goal is
+-5 % per image; one image misses it with the facts alone (vww -5.1 %: the estimate is low),
which the strict xfail records, and a wider guard keeps the error from growing unnoticed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from edgekit.target import image_cycles
from edgekit.target.boards import load_board

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-nm") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-nm")

CALIBRATION = Path(__file__).resolve().parent / "calibration"

#: cycles at 120 MHz of the published median latency (tests/calibration/README.md)
REAL_CYCLES = {"kws": 11_978_400, "vww": 36_146_400, "ic": 46_746_000, "ad": 1_032_600}
TOLERANCE = 0.05
#: what the facts reach: every image within this (the errors are -4.1 .. -5.2 %)
GUARD = 0.07
#: the images the model misses +-5 % on, with the error it reaches
MISSED = {"vww": -0.0515}


@pytest.fixture(scope="module")
def estimates():
    board = load_board("nucleo-l4r5zi")
    return {bm: image_cycles.run(CALIBRATION / f"utvm_cmsisnn_{bm}.elf", board) for bm in REAL_CYCLES}


def error(estimates, bm: str) -> float:
    return estimates[bm].cycles / REAL_CYCLES[bm] - 1


@pytest.mark.parametrize("bm", [pytest.param(bm, marks=pytest.mark.xfail(
    strict=True, reason=f"the manuals' facts reach {MISSED[bm]:+.1%} on {bm}")) if bm in MISSED else bm
    for bm in REAL_CYCLES])
def test_estimate_within_5_percent_of_the_real_board(estimates, bm):
    assert abs(error(estimates, bm)) <= TOLERANCE, f"{bm}: {error(estimates, bm):+.2%}"


@pytest.mark.parametrize("bm", list(REAL_CYCLES))
def test_estimate_error_does_not_grow(estimates, bm):
    assert abs(error(estimates, bm)) <= GUARD, f"{bm}: {error(estimates, bm):+.2%}"


def test_instructions_are_the_images_own(estimates):
    # the plugin counts exactly what QEMU runs between the two hook calls (README's figures)
    assert {bm: e.instructions for bm, e in estimates.items()} == {
        "kws": 8_481_964, "vww": 24_937_192, "ic": 31_920_672, "ad": 605_587}


def test_the_memory_system_is_what_closes_the_gap(estimates):
    # without the board's flash (zero wait states) the same run is 13-22 % short of the board
    board = load_board("nucleo-l4r5zi")
    flat = image_cycles.run(CALIBRATION / "utvm_cmsisnn_kws.elf", dataclasses.replace(board, memory_system=None))
    assert flat.memory_cycles == 0 and flat.instructions == estimates["kws"].instructions
    assert flat.cycles + estimates["kws"].memory_cycles == estimates["kws"].cycles
    assert flat.cycles / REAL_CYCLES["kws"] - 1 < -0.10

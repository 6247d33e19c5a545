"""``edgekit cycles``: any image that calls ek_harness_op_hook, timed under QEMU with a board's
model; one-line errors for what a user can get wrong."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from edgekit.cli import main

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc")

CALIBRATION = Path(__file__).resolve().parent / "calibration"

EXIT = """    movs r0, #0x18          @ semihosting SYS_EXIT
    movw r1, #0x0026        @ ADP_Stopped_ApplicationExit
    movt r1, #0x2
    bkpt 0xab
"""


def image(tmp_path: Path, body: str, name: str = "fw") -> Path:
    """A bare Cortex-M4 image at address 0: vector table, then body, with ek_harness_op_hook."""
    src = tmp_path / f"{name}.s"
    src.write_text(f"""    .syntax unified
    .thumb
    .text
    .word 0x20010000
    .word _start
    .thumb_func
    .global _start
_start:
{body}
9:  b 9b
    .thumb_func
    .global ek_harness_op_hook
ek_harness_op_hook:
    bx lr
""")
    elf = tmp_path / f"{name}.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles", "-Wl,-Ttext=0x0",
                    "-Wl,--entry=_start", str(src), "-o", str(elf)], check=True)
    return elf


def loop(n: int) -> str:
    # movs 1, then n x (subs, bne): 1 + 2n instructions
    return f"    movs r0, #{n}\n1:  subs r0, #1\n    bne 1b\n"


def test_json_has_instructions_and_cycles_per_operator(tmp_path, capsys):
    # hook(0), a 10-pass loop, hook(1), a 20-pass loop, hook(2): two operators
    body = "    bl ek_harness_op_hook\n" + loop(10) + "    bl ek_harness_op_hook\n" + loop(20) + \
           "    bl ek_harness_op_hook\n" + EXIT
    elf = image(tmp_path, body)
    assert main(["cycles", str(elf), "--board", "nucleo-l4r5zi", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ops = out["operators"]
    assert len(ops) == 2
    # each operator: the hook's bx (1), the loop (1 + 2n), the next bl (1)
    assert [o["instructions"] for o in ops] == [1 + 21 + 1, 1 + 41 + 1]
    assert out["instructions"] == sum(o["instructions"] for o in ops)
    assert out["cycles"] == sum(o["cycles"] for o in ops) > out["instructions"]
    assert out["ms"] == pytest.approx(out["cycles"] / 120e6 * 1e3, rel=1e-3)


def test_text_report_of_a_calibration_image(capsys):
    assert main(["cycles", str(CALIBRATION / "utvm_cmsisnn_ad.elf"), "--board", "nucleo-l4r5zi"]) == 0
    out = capsys.readouterr().out
    assert "instructions 605,587" in out and "120 MHz" in out and " ms" in out


def test_a_board_without_a_memory_system_runs_with_zero_wait_states(capsys):
    assert main(["cycles", str(CALIBRATION / "utvm_cmsisnn_ad.elf"), "--board", "qemu-mps2-an386", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["memory_model"] is False and out["memory_cycles"] == 0 and out["instructions"] == 605_587


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error: ")
    return err[0]


def test_missing_file(tmp_path, capsys):
    assert main(["cycles", str(tmp_path / "none.elf"), "--board", "nucleo-l4r5zi"]) == 2
    assert "no such file" in error_line(capsys)


def test_an_elf_that_is_not_arm(tmp_path, capsys):
    fake = tmp_path / "x86.elf"
    head = bytearray(52)
    head[:6] = b"\x7fELF\x01\x01"
    struct.pack_into("<H", head, 18, 3)  # EM_386
    fake.write_bytes(bytes(head))
    assert main(["cycles", str(fake), "--board", "nucleo-l4r5zi"]) == 2
    assert "not ARM" in error_line(capsys)


def test_not_an_elf(tmp_path, capsys):
    text = tmp_path / "notes.elf"
    text.write_text("hello")
    assert main(["cycles", str(text), "--board", "nucleo-l4r5zi"]) == 2
    assert "not an ELF file" in error_line(capsys)


def test_an_image_without_the_hook(tmp_path, capsys):
    src = image(tmp_path, EXIT)
    stripped = tmp_path / "nohook.elf"
    subprocess.run(["arm-none-eabi-objcopy", "--strip-symbol=ek_harness_op_hook", str(src), str(stripped)], check=True)
    assert main(["cycles", str(stripped), "--board", "nucleo-l4r5zi"]) == 2
    assert "ek_harness_op_hook" in error_line(capsys)


def test_an_image_that_never_calls_the_hook_times_out(tmp_path, capsys):
    elf = image(tmp_path, "")  # spins forever
    assert main(["cycles", str(elf), "--board", "nucleo-l4r5zi", "--timeout", "2"]) == 2
    line = error_line(capsys)
    assert "did not call ek_harness_op_hook" in line and "2 s" in line


def test_an_image_that_exits_without_calling_the_hook(tmp_path, capsys):
    elf = image(tmp_path, EXIT)
    assert main(["cycles", str(elf), "--board", "nucleo-l4r5zi"]) == 2
    assert "did not call ek_harness_op_hook" in error_line(capsys)


def test_a_core_edgekit_cannot_run(capsys):
    assert main(["cycles", str(CALIBRATION / "utvm_cmsisnn_ad.elf"), "--board", "rpi-pico"]) == 2
    assert "cortex-m0plus" in error_line(capsys)

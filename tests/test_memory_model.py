"""The memory system of a board in the cycle model: which addresses are flash (by where the image
holds its sections), and what flash reads cost behind the accelerator's caches, worked out by
hand with NUCLEO-L4R5ZI's facts (5 wait states, 8-byte reads, 8-line data cache of 32 bytes)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.target.boards import BoardError, load_board, parse_board
from edgekit.target.elfimage import read_elf
from edgekit.target.memory_model import memory_file_text

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc")

LINKER = """MEMORY { FLASH (rx) : ORIGIN = 0x0, LENGTH = 1M
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 1M }
SECTIONS {
  .text : { *(.text*) } > FLASH
  .rodata : { *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT> FLASH
  .bss (NOLOAD) : { *(.bss*) } > RAM
}
"""


def build(tmp_path: Path, body: str, name: str) -> Path:
    src = tmp_path / f"{name}.s"
    src.write_text(f"""    .syntax unified
    .thumb
    .text
    .word 0x20010000
    .word _start
    .thumb_func
    .global _start
_start:
    bl ek_harness_op_hook
{body}
    bl ek_harness_op_hook
    movs r0, #0x18
    movw r1, #0x0026
    movt r1, #0x2
    bkpt 0xab
9:  b 9b
    .thumb_func
    .global ek_harness_op_hook
ek_harness_op_hook:
    bx lr
    .section .rodata
    .balign 8
table:
    .space 4096, 1
    .section .data
copied:
    .word 1, 2
    .section .bss
zeroed:
    .space 64
""")
    ld = tmp_path / "link.ld"
    ld.write_text(LINKER)
    elf = tmp_path / f"{name}.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles", f"-T{ld}",
                    "-Wl,--entry=_start", str(src), "-o", str(elf)], check=True)
    return elf


def test_flash_is_what_runs_where_the_image_holds_it(tmp_path):
    elf = build(tmp_path, "", "layout")
    ranges = read_elf(elf).in_place_ranges()
    assert len(ranges) == 1 and ranges[0][0] == 0  # .text and .rodata; not .data (copied), not .bss
    assert ranges[0][1] < 0x20000000
    text = memory_file_text(load_board("nucleo-l4r5zi"), elf)
    assert f"flash 0x0 0x{ranges[0][1]:x}" in text and "flash_wait_states 5" in text


def streaming(step: int) -> str:
    # 1024 passes of ldr r1, [r4, r2]; adds r2, #step: the same instructions whatever the step
    return f"""    ldr r4, =table
    movs r2, #0
    movw r0, #1024
1:  ldr r1, [r4, r2]
    adds r2, #{step}
    subs r0, #1
    bne 1b
    b 2f
    .ltorg
2:"""


def memory_cycles(elf: Path, capsys) -> int:
    assert main(["cycles", str(elf), "--board", "nucleo-l4r5zi", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["memory_cycles"]


def test_a_stream_of_constants_costs_the_wait_states_of_every_flash_read(tmp_path, capsys):
    # 4096 bytes read once each: 512 flash reads of 8 bytes, none in the data cache: 5 each.
    # The same word read 1024 times: one miss. Same instructions, so fetches cost the same.
    stream = memory_cycles(build(tmp_path, streaming(4), "stream"), capsys)
    same = memory_cycles(build(tmp_path, streaming(0), "same"), capsys)
    assert stream - same == 512 * 5 - 5


def test_constants_that_fit_the_data_cache_miss_once(tmp_path, capsys):
    # 256 bytes (8 lines of 32) read round and round: 32 flash reads miss once each, then hit
    body = streaming(4).replace("adds r2, #4", "adds r2, #4\n    and r2, r2, #255")
    wrapped = memory_cycles(build(tmp_path, body, "wrapped"), capsys)
    same = memory_cycles(build(tmp_path, streaming(0).replace("adds r2, #0", "adds r2, #0\n    and r2, r2, #255"),
                                "same255"), capsys)
    assert wrapped - same == 32 * 5 - 5


def test_memory_system_keys_are_checked():
    base = {"name": "b", "description": "d", "cpu": "cortex-m4", "fpu": "none", "float_abi": "soft", "irq_count": 1,
            "clock_hz": 80_000_000, "timer": "systick", "timer_hz": 80_000_000,
            "memory": [{"name": "FLASH", "kind": "flash", "origin": 0, "size_bytes": 4096},
                       {"name": "RAM", "kind": "ram", "origin": 0x20000000, "size_bytes": 65536}],
            "stack_bytes": 2048, "support": "cmsdk", "uart_baud": 115200, "opt": "-O2",
            "emulator": {"program": "qemu-system-arm", "machine": "mps2-an386", "icount_shift": 0}}
    ok = {"flash_wait_states": 4, "flash_read_bytes": 8, "prefetch": True, "sram_wait_states": 0,
          "icache": {"lines": 32, "line_bytes": 32}}
    assert parse_board({**base, "memory_system": ok}).memory_system.icache.lines == 32
    for bad, msg in ((dict(ok, flash_read_bytes=6), "power of two"), (dict(ok, prefetch="yes"), "true or false"),
                     (dict(ok, icache={"lines": 32, "line_bytes": 12}), "line_bytes"),
                     (dict(ok, wait_states=3), "unknown key")):
        with pytest.raises(BoardError, match=msg):
            parse_board({**base, "memory_system": bad})

"""A board's memory system placed on a firmware image: the plugin's memory file (``ek_memory.h``).

The emulated machine runs the image at other addresses than the real chip (QEMU mps2-an386 has
its code memory at 0, an STM32 its flash at 0x08000000), so flash is found by what the linker
placed there, not by the chip's address map: the image's sections that run where the image
holds them (vectors, .text, .rodata) are the board's flash; what start-up copies or zero-fills
(.data, .bss, stack, heap) is RAM (``ElfImage.in_place_ranges``). This holds alike for edgekit's build for an emulated board (its FLASH region holds
.text and .rodata; .data runs from RAM) and for foreign images such as the calibration set.
The wait states, caches and prefetch are the board file's ``memory_system``.
"""

from __future__ import annotations

from pathlib import Path

from .boards import Board
from .elfimage import read_elf


def memory_file_text(board: Board, elf: str | Path) -> str:
    ms = board.memory_system
    if ms is None:
        raise ValueError(f"{board.name} has no memory_system")
    lines = [f"# {board.name} at {board.clock_hz} Hz, placed on {Path(elf).name}",
             f"flash_wait_states {ms.flash_wait_states}", f"flash_read_bytes {ms.flash_read_bytes}",
             f"prefetch {int(ms.prefetch)}", f"sram_wait_states {ms.sram_wait_states}"]
    for name, cache in (("icache", ms.icache), ("dcache", ms.dcache)):
        if cache is not None:
            lines += [f"{name}_lines {cache.lines}", f"{name}_line_bytes {cache.line_bytes}"]
    for start, end in read_elf(elf).in_place_ranges():
        lines.append(f"flash 0x{start:x} 0x{end:x}")
    return "\n".join(lines) + "\n"


def write_memory_file(board: Board, elf: str | Path, path: Path) -> Path:
    path.write_text(memory_file_text(board, elf))
    return path

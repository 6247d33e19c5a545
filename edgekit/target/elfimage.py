"""The parts of an ELF firmware image the cycle model needs: its machine and its sections' places.

Reads the ELF header, program and section headers directly (32-bit, little-endian: every Cortex-M image);
nothing else of the file. A file that is not such an image is an :class:`ElfImageError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgekitError

EM_ARM = 40
PT_LOAD = 1
SHT_NOBITS = 8
SHF_WRITE = 1
SHF_ALLOC = 2


class ElfImageError(EdgekitError):
    """The file is missing, not an ELF image, or not a 32-bit ARM one."""


@dataclass(frozen=True)
class Section:
    address: int  # where it is at run time
    load_address: int  # where the image holds it (differs for .data: copied at start-up)
    size_bytes: int
    writable: bool
    has_bytes: bool  # False for .bss-like sections (zero-filled at start-up)


@dataclass(frozen=True)
class ElfImage:
    path: Path
    entry: int
    sections: tuple[Section, ...]  # the allocated ones

    def in_place_ranges(self) -> list[tuple[int, int]]:
        """[start, end) of the allocated sections that hold bytes of the image and run where
        the image holds them, adjacent ones merged: what the linker placed in flash to be read
        there (vectors, .text, .rodata, .ARM.exidx). Sections copied to RAM at start-up (.data)
        or zero-filled there (.bss, stack, heap) are not. Write flags do not tell this (images
        mark .rodata writable when a non-const object lands in it, and linkers merge .text with
        writable sections into one RWX segment); where a section runs against where it is
        loaded does."""
        ranges: list[tuple[int, int]] = []
        for s in sorted(self.sections, key=lambda s: s.address):
            if not s.has_bytes or s.size_bytes == 0 or s.address != s.load_address:
                continue
            if ranges and s.address <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], s.address + s.size_bytes))
            else:
                ranges.append((s.address, s.address + s.size_bytes))
        return ranges


def read_elf(path: str | Path) -> ElfImage:
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(52)
            if len(head) < 52 or head[:4] != b"\x7fELF":
                raise ElfImageError(f"{path}: not an ELF file")
            if head[4] != 1 or head[5] != 1:
                raise ElfImageError(f"{path}: not a 32-bit little-endian ELF image (not a Cortex-M firmware)")
            machine, = struct.unpack_from("<H", head, 18)
            if machine != EM_ARM:
                raise ElfImageError(f"{path}: an ELF image for machine {machine}, not ARM")
            entry, phoff = struct.unpack_from("<II", head, 24)
            shoff, = struct.unpack_from("<I", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 42)
            segments = []  # (vaddr, paddr, memsz) of loadable segments
            for i in range(phnum if phentsize >= 32 else 0):
                f.seek(phoff + i * phentsize)
                ph = f.read(32)
                if len(ph) < 32:
                    raise ElfImageError(f"{path}: truncated program headers")
                p_type, _off, vaddr, paddr, _filesz, memsz = struct.unpack_from("<6I", ph)
                if p_type == PT_LOAD:
                    segments.append((vaddr, paddr, memsz))
            shentsize, shnum = struct.unpack_from("<HH", head, 46)
            if shnum == 0 or shentsize < 40:
                raise ElfImageError(f"{path}: no section headers (stripped of them: the cycle model cannot "
                                    "tell flash from RAM)")
            sections = []
            for i in range(shnum):
                f.seek(shoff + i * shentsize)
                sh = f.read(40)
                if len(sh) < 40:
                    raise ElfImageError(f"{path}: truncated section headers")
                _name, sh_type, flags, addr, _off, size = struct.unpack_from("<6I", sh)
                if flags & SHF_ALLOC:
                    load = next((paddr + addr - vaddr for vaddr, paddr, memsz in segments
                                 if vaddr <= addr < vaddr + max(memsz, 1)), addr)
                    sections.append(Section(addr, load, size, bool(flags & SHF_WRITE), sh_type != SHT_NOBITS))
    except FileNotFoundError:
        raise ElfImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ElfImageError(f"{path}: a directory, not a firmware image") from None
    except OSError as exc:
        raise ElfImageError(f"{path}: cannot read ({exc.strerror})") from None
    return ElfImage(path, entry, tuple(sections))

"""The most stack a function can use, from the compiler's own figures.

GCC's ``-fcallgraph-info=su`` writes, beside each object, the functions it compiled with the
bytes of stack each one's frame takes, and every call each one makes (a ``.ci`` file, VCG
format). The worst case of an entry function is its frame plus the worst of its callees', along
the deepest path. Three things are not in those files and are handled here:

* functions of the C library (``memcpy``, ``memset``): their frames are read from the library's
  own code, the largest pushes and stack adjustments of each (``library_frames``);
* calls through a pointer: counted as a call to the deepest static function of the same source
  file that is not already on the path (edgekit's kernels call only their own row functions so);
* recursion and frames of a size known only at run time (VLAs, alloca): no figure at all, with
  the reason, rather than a wrong one.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")
INDIRECT = "__indirect_call"


@dataclass(frozen=True)
class StackUse:
    """The worst-case stack of one entry function, or why there is none."""

    entry: str
    bytes: int | None
    path: tuple[str, ...] = ()  # the deepest chain of calls, entry first
    reason: str = ""  # why ``bytes`` is None
    how: str = ""  # the compiler and flags the figure holds for

    def text(self) -> str:
        if self.bytes is None:
            return f"no stack figure for {self.entry}: {self.reason}"
        return f"{self.entry} needs at most {self.bytes:,} bytes of stack" + (f" as {self.how}" if self.how else "")


@dataclass
class _Function:
    name: str
    source: str  # the file it was compiled from
    frame: int | None  # None: not compiled with -fcallgraph-info (a library function)
    dynamic: bool = False
    calls: set[str] = None  # type: ignore[assignment]


def _name(title: str) -> str:
    """A function's name: ``memcpy``, or ``ek_pool.c:walk`` for a static one (no folder)."""
    return title.rsplit("/", 1)[-1]


def read_call_graph(ci_files: list[Path]) -> dict[str, _Function]:
    """Every function defined in ``ci_files`` (and the ones they call), by name."""
    funcs: dict[str, _Function] = {}
    for path in ci_files:
        source = path.stem
        for line in path.read_text(errors="replace").splitlines():
            if m := _NODE.match(line):
                name, label = _name(m.group(1)), m.group(2)
                frame = _FRAME.search(label)
                f = funcs.get(name)
                if frame:  # a definition: its frame
                    # "dynamic,bounded": the figure is an upper bound; "dynamic" alone: no bound
                    funcs[name] = _Function(name, source, int(frame.group(1)),
                                            frame.group(2) == "dynamic", f.calls if f else set())
                elif f is None:  # only called here: defined elsewhere, or in no file
                    funcs[name] = _Function(name, source, None, calls=set())
            elif m := _EDGE.match(line):
                caller, callee = map(_name, m.groups())
                funcs.setdefault(caller, _Function(caller, source, None, calls=set())).calls.add(
                    f"{INDIRECT}@{source}" if callee == INDIRECT else callee)
    return funcs


def library_frames(objdump: str, library: Path, names: set[str]) -> dict[str, int]:
    """Bytes of stack each of ``names`` takes in ``library`` (an ``.a``): the sum of every push
    and stack adjustment in its code, which is at least its deepest frame (they use none of
    their own callees). Where the archive defines a name more than once, the largest."""
    if not names:
        return {}
    text = subprocess.run([objdump, "-d", str(library)], capture_output=True, text=True).stdout
    frames: dict[str, int] = {}
    current, size = None, 0

    def close() -> None:
        if current is not None:
            frames[current] = max(frames.get(current, 0), size)

    for line in text.splitlines():
        if m := re.match(r"^[0-9a-f]+ <([^>]+)>:$", line):
            close()
            current, size = (m.group(1) if m.group(1) in names else None), 0
        elif current is None:
            continue
        elif m := re.search(r"\t(push|stmdb|vpush)(?:\.w)?\s+(?:sp!,\s*)?\{([^}]*)\}", line):
            size += _count_registers(m.group(2)) * (8 if m.group(1) == "vpush" and "d" in m.group(2) else 4)
        elif m := re.search(r"\tsub(?:\.w|w)?\s+sp,\s*(?:sp,\s*)?#(\d+)", line):
            size += int(m.group(1))
    close()
    return frames


def _count_registers(regs: str) -> int:
    n = 0
    for part in regs.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(re.sub(r"\D", "", r)) for r in part.split("-"))
            n += hi - lo + 1
        elif part:
            n += 1
    return n


def worst_case(funcs: dict[str, _Function], entry: str, library: dict[str, int]) -> StackUse:
    """The deepest path from ``entry`` through ``funcs``."""
    best: dict[str, tuple[int, tuple[str, ...]]] = {}

    def deepest(name: str, path: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        if name in path:
            raise _NoFigure(f"recursion: {' -> '.join((*path, name))}")
        if name in best:
            return best[name]
        if name.startswith(INDIRECT):
            source = name.split("@", 1)[1]
            targets = [f for f in funcs.values() if f.source == source and f.frame is not None
                       and ":" in f.name and f.name not in path]  # the file's static functions
            if not targets:
                raise _NoFigure(f"a call through a pointer in {source} with no function to point to")
            return max(deepest(f.name, path) for f in targets)
        f = funcs.get(name)
        if f is None or f.frame is None:
            if name not in library:
                raise _NoFigure(f"{name} (called by {path[-1]}) was compiled without -fcallgraph-info")
            return library[name], (name,)
        if f.dynamic:
            raise _NoFigure(f"{name} has a frame whose size is known only at run time")
        below = [deepest(c, (*path, name)) for c in sorted(f.calls)]
        depth, chain = max(below, default=(0, ()))
        result = (f.frame + depth, (name, *chain))
        if not any(c.startswith(INDIRECT) for c in f.calls):  # an indirect call's targets depend on the path
            best[name] = result
        return result

    if entry not in funcs or funcs[entry].frame is None:
        return StackUse(entry, None, reason=f"{entry} is in none of the compiled files")
    try:
        total, chain = deepest(entry, ())
    except _NoFigure as e:
        return StackUse(entry, None, reason=str(e))
    return StackUse(entry, total, chain)


class _NoFigure(Exception):
    pass

"""Output folders: one edgekit run at a time per folder, files written whole or not at all.

``locked(folder)`` holds an exclusive lock on ``folder/.edgekit.lock`` (``flock``: released by
the kernel when the process dies, so a killed run never leaves a stale lock) for as long as a
command writes there; a second run on the same folder is refused at once, in one line. The lock
is re-entrant within a process: ``deploy`` holds it and the ``build`` it calls takes it again.

``write_atomic(path, data)`` writes through a temporary file in the same folder and renames it,
so a reader (or a run that dies half-way) sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import EdgekitError

try:
    import fcntl
except ImportError:  # not a POSIX system: no lock, the rest still works
    fcntl = None

LOCK_NAME = ".edgekit.lock"
_held: dict[Path, list] = {}  # folder -> [open lock file, depth]


class FolderBusy(EdgekitError):
    """Another edgekit run is writing into the same output folder."""


@contextlib.contextmanager
def locked(folder: str | Path) -> Iterator[Path]:
    """Create ``folder`` if needed and hold its lock; raises :class:`FolderBusy` if another
    process holds it."""
    folder = Path(folder).resolve()
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgekitError(f"{folder}: cannot create ({exc.strerror or type(exc).__name__})") from None
    entry = _held.get(folder)
    if entry is not None:
        entry[1] += 1
        try:
            yield folder
        finally:
            entry[1] -= 1
        return
    try:
        handle = open(folder / LOCK_NAME, "a+b")  # noqa: SIM115 -- held across the yield
    except OSError as exc:
        raise EdgekitError(f"{folder}: cannot write there ({exc.strerror or type(exc).__name__})") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FolderBusy(f"{folder}: another edgekit run is writing there; wait for it or "
                                 "choose another folder (-o)") from None
        _held[folder] = [handle, 1]
        try:
            yield folder
        finally:
            del _held[folder]
    finally:
        handle.close()  # releases the lock
        if created:  # a run that wrote nothing leaves no folder behind
            with contextlib.suppress(OSError):
                if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                    (folder / LOCK_NAME).unlink()
                    folder.rmdir()


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise EdgekitError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise EdgekitError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})") from None
    except BaseException:  # Ctrl-C half-way: no temporary file left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

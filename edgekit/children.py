"""Child processes that die with edgekit: QEMU, the reference interpreters' workers.

A killed ``edgekit deploy`` or ``validate`` must leave no emulator spinning and no worker holding
the caller's stdout open. Two ways, for two kinds of child:

* ``die_with_parent`` (a ``preexec_fn``): on Linux the kernel sends SIGTERM when the parent
  *thread* ends (PR_SET_PDEATHSIG) -- right for QEMU, which lives no longer than the call that
  started it;
* ``exit_when_orphaned`` (a pool's ``initializer``): a worker outlives the thread that happened to
  start it, so it watches its parent process instead and exits once it is gone.

``run_isolated(fn, *args)`` runs a call in a child process (spawned, watching its parent) for
code that may crash the interpreter, such as TensorFlow's converter on some recurrent models: a
crash there is :class:`ChildDied`, with the signal named, and edgekit carries on to report it.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from typing import Any, Callable

PR_SET_PDEATHSIG = 1
ORPHAN_POLL_S = 0.5


def die_with_parent() -> None:
    """Call in the child before exec (``preexec_fn``). Elsewhere than Linux it does nothing."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass


def exit_when_orphaned(parent: int) -> None:
    """Call in a worker process (a pool's ``initializer``, with ``initargs=(os.getpid(),)``): it
    exits within ORPHAN_POLL_S of the death of ``parent``. The parent's pid comes from the parent,
    not from ``os.getppid()`` in the worker: a worker still starting up when its parent is killed
    would otherwise take the adoptive parent for its own, and never exit."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="edgekit-orphan-watch", daemon=True).start()


class ChildDied(Exception):
    """The child process ended without an answer: killed by a signal or exited early."""

    def __init__(self, exitcode: int | None):
        self.exitcode = exitcode
        if exitcode is not None and exitcode < 0:
            try:
                how = f"killed by {signal.Signals(-exitcode).name}"
            except ValueError:
                how = f"killed by signal {-exitcode}"
        else:
            how = f"exited with status {exitcode}"
        super().__init__(how)


class ChildFailed(Exception):
    """``fn`` raised in the child: its type name and message, as text (exceptions of libraries
    the parent has not imported need not unpickle)."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message
        super().__init__(f"{kind}: {message}" if message else kind)


def _serve(conn, parent: int) -> None:
    """The isolated child: answer calls until the parent closes the pipe (or dies)."""
    exit_when_orphaned(parent)
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:
            return
        try:
            answer = ("ok", fn(*args))
        except Exception as exc:  # noqa: BLE001 -- every failure goes back to the parent as text
            answer = ("error", type(exc).__name__, str(exc))
        conn.send(answer)


_isolated: tuple | None = None  # (process, connection) of the isolated child, started on first use
_isolated_lock = threading.Lock()


def _stop_isolated() -> None:
    global _isolated
    if _isolated is not None:
        child, conn = _isolated
        _isolated = None
        conn.close()  # the child reads EOF and returns
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


atexit.register(_stop_isolated)


def run_isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a child process (spawned on first use and kept for the next calls, so
    what it imported stays imported); ``fn``, ``args`` and the result must pickle. Raises
    :class:`ChildFailed` if ``fn`` raised, :class:`ChildDied` if the child crashed (the next
    call starts a new one). A Ctrl-C in the parent kills the child."""
    global _isolated
    with _isolated_lock:
        if _isolated is None:
            ctx = mp.get_context("spawn")
            conn, theirs = ctx.Pipe()
            child = ctx.Process(target=_serve, args=(theirs, os.getpid()), daemon=True,
                                name="edgekit-isolated")
            child.start()
            theirs.close()
            _isolated = (child, conn)
        child, conn = _isolated
        try:
            conn.send((fn, args))
            answer = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            _isolated = None
            conn.close()
            child.join()
            raise ChildDied(child.exitcode) from None
        except BaseException:  # interrupted while waiting: the child's state is unknown
            _isolated = None
            conn.close()
            child.kill()
            child.join()
            raise
    if answer[0] == "error":
        raise ChildFailed(answer[1], answer[2])
    return answer[1]

"""Child processes that die with edgekit: QEMU, the reference interpreters' workers.

A killed ``edgekit deploy`` or ``validate`` must leave no emulator spinning and no worker holding
the caller's stdout open. Two ways, for two kinds of child:

* ``die_with_parent`` (a ``preexec_fn``): on Linux the kernel sends SIGTERM when the parent
  *thread* ends (PR_SET_PDEATHSIG) -- right for QEMU, which lives no longer than the call that
  started it;
* ``exit_when_orphaned`` (a pool's ``initializer``): a worker outlives the thread that happened to
  start it, so it watches its parent process instead and exits once it is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

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

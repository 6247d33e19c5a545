"""Child processes that die with edgekit: QEMU, the reference interpreters' workers.

On Linux a child asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG), so a
killed ``edgekit deploy`` or ``validate`` leaves no emulator spinning and no worker holding the
caller's stdout open. Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Call in the child (``preexec_fn``, a pool's ``initializer``)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass

"""TensorFlow's noise kept off the terminal, and its long exceptions cut to one line.

TensorFlow, Keras and the converter print to file descriptors 1 and 2 and raise exceptions
whose messages run to pages; the front end shows a user one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import Callable


@contextlib.contextmanager
def quiet():
    """Silence TensorFlow while it works: file descriptors 1 and 2 go to a temporary file
    (stdout included: ``edgekit convert --json`` must print JSON only), its Python loggers are
    raised to ERROR. Yields a function that returns what was captured, for error messages."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    captured = {"text": ""}
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = []
        try:
            for fd in (1, 2):
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
        except OSError:  # no usable fds (embedded use): stay loud rather than fail
            pass
        levels = {n: logging.getLogger(n).level for n in ("tensorflow", "absl", "keras")}
        for n in levels:
            logging.getLogger(n).setLevel(logging.ERROR)

        def text() -> str:
            if not captured["text"]:
                with contextlib.suppress(OSError):
                    sink.flush()
                    sink.seek(0)
                    captured["text"] = sink.read().decode("utf-8", "replace")
            return captured["text"]

        try:
            yield text
        finally:
            sys.stdout.flush()  # Python-level prints (Keras's export summary) reach the sink
            sys.stderr.flush()
            for n, lvl in levels.items():
                logging.getLogger(n).setLevel(lvl)
            for fd, dup in saved:
                os.dup2(dup, fd)
                os.close(dup)


#: what TensorFlow logs as an error on every machine without a GPU: never the reason
BENIGN = re.compile(r"cuInit|CUDA|cuda_platform|cudart")


def one_line(exc: BaseException, noise: Callable[[], str] | None = None) -> str:
    """A one-line reason from an exception of TensorFlow or Keras (whose messages run long)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    pick = None
    for ln in lines:  # Keras deserialization errors
        if ln.startswith("Exception encountered:"):
            pick = ln.split(":", 1)[1].strip()
    if pick is None:  # MLIR diagnostics from the converter
        errors = [ln for ln in lines if re.search(r"\berror: ", ln)]
        if not errors and noise is not None:
            errors = [ln.strip() for ln in noise().splitlines()
                      if re.search(r"\berror: ", ln) and not BENIGN.search(ln)]
        if errors:
            pick = errors[0].split("error: ", 1)[1]
    if pick is None:
        pick = lines[0] if lines else type(exc).__name__
    pick = re.sub(r"\s+", " ", pick)
    return pick if len(pick) <= 240 else pick[:237] + "..."

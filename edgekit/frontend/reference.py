"""Reference interpreters: TFLM (the one we must match bit for bit) and LiteRT's reference kernels.

The ``tflite-micro`` interpreter aborts the whole process on some valid models, so it always
runs in a child process; a crash there becomes :class:`ReferenceUnavailable`, not a dead CLI.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing as mp
import os
import re

import numpy as np

from ..children import exit_when_orphaned
from ..errors import ReferenceUnavailable
from ..ir import parse_tflite
from .tf_quiet import quiet

_pool: cf.ProcessPoolExecutor | None = None


def _reason(text: str) -> str:
    """What an interpreter printed before failing, in one line: the first line (the check that
    failed) and the last (what it stopped), at most 300 characters."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    said = "; ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else ""
    return said[:300]


def _quietly(run, *args):
    """``run(*args)`` with the interpreter's own printing kept off the terminal; if it fails, the
    last line it printed (TFLM's reason) joins the exception's message."""
    with quiet() as printed:  # the interpreters' C++ prints to fds 1 and 2
        try:
            return run(*args)
        except ImportError:
            raise
        except Exception as exc:
            said = _reason(printed())
            first = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(f"{first}{f' ({said})' if said and said not in first else ''}") from None


def _tflm_worker(model: bytes, inputs: list[list[np.ndarray]], n_out: int, reset_before: tuple[int, ...] = ()):
    return _quietly(_tflm_run, model, inputs, n_out, reset_before)


def _tflm_run(model: bytes, inputs: list[list[np.ndarray]], n_out: int, reset_before: tuple[int, ...] = ()):
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    results = []
    for s, sample in enumerate(inputs):
        if s in reset_before:
            interp.reset()  # variable tensors back to their zero points
        for k, x in enumerate(sample):
            interp.set_input(x, k)
        interp.invoke()
        results.append([np.array(interp.get_output(k)) for k in range(n_out)])
    return results


def _executor() -> cf.ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                       initializer=exit_when_orphaned, initargs=(os.getpid(),))
        atexit.register(shutdown)
    return _pool


def run_tflm(model: bytes, inputs: list[list[np.ndarray]], timeout_s: float = 600,
             reset_before: tuple[int, ...] = ()) -> list[list[np.ndarray]]:
    """Outputs of the ``tflite-micro`` interpreter for each sample (a list of input arrays). The
    samples run one after the other on one interpreter, so a stateful model (LSTM) carries its
    state from each to the next; ``reset_before``: the samples before which the state is reset."""

    global _pool
    n_out = len(parse_tflite(model).outputs)
    try:
        return _executor().submit(_tflm_worker, model, inputs, n_out, tuple(reset_before)).result(timeout=timeout_s)
    except cf.process.BrokenProcessPool:
        _pool = None
        raise ReferenceUnavailable("the tflite-micro interpreter crashed on this model (aborted while loading or running it)") from None
    except ImportError:
        raise ReferenceUnavailable("the tflite-micro package is not installed (pip install tflite-micro)") from None
    except Exception as exc:
        raise ReferenceUnavailable(f"the tflite-micro interpreter failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def tflm_arena_bytes(model: bytes) -> int:
    """TFLM's total arena (head + tail) for this model, as its recording allocator reports it."""
    global _pool
    try:
        return _executor().submit(_tflm_arena_worker, model).result(timeout=300)
    except cf.process.BrokenProcessPool:
        _pool = None
        raise ReferenceUnavailable("the tflite-micro interpreter crashed on this model") from None


def _tflm_arena_worker(model: bytes) -> int:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    with quiet() as printed:  # print_allocations writes through the C runtime
        interp.print_allocations()
        text = printed()
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    if not m:
        raise RuntimeError("could not read TFLM's arena size:\n" + text[:500])
    return int(m.group(1))


def _litert_worker(model: bytes, inputs: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    return _quietly(_litert_run, model, inputs)


def _litert_run(model: bytes, inputs: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        interp = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    except ValueError as exc:
        if "Didn't find op" not in str(exc):
            raise
        # the reference resolver lacks some operator versions (int8 TILE, which Keras 3's
        # UpSampling2D(nearest) converts to): LiteRT's builtin kernels, without delegates, run them
        interp = Interpreter(model_content=model,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    ins = interp.get_input_details()
    outs = interp.get_output_details()
    results = []
    for sample in inputs:
        for d, x in zip(ins, sample):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        results.append([np.array(interp.get_tensor(d["index"])) for d in outs])
    return results


def run_litert(model: bytes, inputs: list[list[np.ndarray]], timeout_s: float = 600) -> list[list[np.ndarray]]:
    """Outputs of LiteRT with its reference (not optimized) kernels -- its builtin ones for a model
    with an operator the reference resolver lacks -- run in the worker process (a model that
    crashes LiteRT must not take edgekit down with it)."""
    global _pool
    try:
        return _executor().submit(_litert_worker, model, inputs).result(timeout=timeout_s)
    except cf.process.BrokenProcessPool:
        _pool = None
        raise ReferenceUnavailable("LiteRT crashed on this model (aborted while loading or running it)") from None
    except ImportError:
        raise ReferenceUnavailable("the ai-edge-litert package is not installed") from None
    except Exception as exc:
        raise ReferenceUnavailable(f"LiteRT failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
        _pool = None

"""The ``edgekit`` command: one module per command (its arguments beside its handler), each a
thin layer over the library. Errors a user can cause are ``EdgekitError`` subclasses: one line
on stderr and the error's exit code (``edgekit.errors.ExitCode``, listed in ``--help``).
TensorFlow is imported only by the commands that convert or train, and only when they run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .. import __version__
from ..errors import EdgekitError, ExitCode
from ..frontend import reference
from . import (
    boards,
    build,
    compress,
    convert,
    cycles,
    deploy,
    export,
    fit,
    flash,
    generate,
    inspect,
    ops,
    plan,
    profile,
    report,
    validate,
)

#: in the order ``edgekit --help`` lists them: the pipeline, then the target, then compression
COMMANDS = (convert, inspect, ops, generate, export, validate, plan, profile, deploy, cycles, report, boards, build, flash,
            compress, fit)


#: the optional dependencies commands import when they run, by import name: what to install
OPTIONAL_PACKAGES = {"tensorflow": "tensorflow", "keras": "tensorflow", "tf_keras": "tf_keras", "h5py": "h5py",
                     "tflite_micro": "tflite-micro", "ai_edge_litert": "ai-edge-litert",
                     "matplotlib": "matplotlib", "sklearn": "scikit-learn"}


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {int(c):>3}  {c.meaning}" for c in ExitCode)
    p = argparse.ArgumentParser(prog="edgekit", description="Keras to microcontroller, measured.",
                                epilog=f"exit codes:\n{codes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"edgekit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _terminated(signum, _frame) -> None:
    # SIGTERM / SIGHUP unwind like Ctrl-C: QEMU is stopped, a build's staging folder removed and
    # the output folder's lock released on the way out, instead of dying where the signal landed
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return int(args.run(args))
    except EdgekitError as exc:
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except ModuleNotFoundError as exc:  # an optional dependency the command needs
        package = OPTIONAL_PACKAGES.get((exc.name or "").split(".")[0])
        if package is None:
            raise
        print(f"edgekit: error: `edgekit {args.command}` needs {package}, which is not installed "
              f"(pip install {package})", file=sys.stderr)
        return int(ExitCode.ERROR)
    except KeyboardInterrupt as exc:
        print(f"edgekit: interrupted{f' ({exc})' if str(exc) else ''}", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # the reader went away (``edgekit boards | head``): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    finally:
        reference.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Compilers: gcc for the host, arm-none-eabi-gcc for Cortex-M. One place that runs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import ToolchainError

C_WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def find_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(f"{name} not found on PATH ({hint})")
    return path


def run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in (proc.stderr + proc.stdout).splitlines() if "error" in ln),
                     (proc.stderr + proc.stdout).strip().splitlines()[:1] or ["(no output)"])
        raise ToolchainError(f"{what} failed: {first if isinstance(first, str) else first[0]}")
    return proc


def compile_host(sources: list[Path], include_dirs: list[Path], exe: Path,
                 opt: str = "-O2", sanitize: bool = False, defines: list[str] = ()) -> Path:
    cc = find_tool("gcc", "install gcc")
    cmd = [cc, *C_WARNINGS, opt, *(["-g"] + SANITIZE if sanitize else []),
           *[f"-I{d}" for d in include_dirs], *[f"-D{d}" for d in defines],
           *[str(s) for s in sources], "-o", str(exe), "-lm"]
    run(cmd, "host compile")
    return exe


def compile_host_lib(sources: list[Path], include_dirs: list[Path], lib: Path,
                     opt: str = "-O2", sanitize: bool = False) -> Path:
    cc = find_tool("gcc", "install gcc")
    ar = find_tool("ar", "install binutils")
    objs = []
    for src in sources:
        obj = lib.parent / (src.stem + ".o")
        run([cc, *C_WARNINGS, opt, *(["-g"] + SANITIZE if sanitize else []),
             *[f"-I{d}" for d in include_dirs], "-c", str(src), "-o", str(obj)], f"host compile {src.name}")
        objs.append(obj)
    lib.unlink(missing_ok=True)
    run([ar, "rcs", str(lib), *map(str, objs)], "ar")
    return lib


def compile_arm_objects(sources: list[Path], include_dirs: list[Path], out_dir: Path,
                        cpu_flags: list[str] = ("-mcpu=cortex-m4", "-mthumb"),
                        opt: str = "-Os") -> list[Path]:
    """Compile (not link) for a Cortex-M core; proves the C is clean for the cross compiler."""
    cc = find_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    out_dir.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in sources:
        obj = out_dir / (src.stem + ".o")
        run([cc, *C_WARNINGS, opt, *cpu_flags, "-ffunction-sections", "-fdata-sections",
             *[f"-I{d}" for d in include_dirs], "-c", str(src), "-o", str(obj)],
            f"arm-none-eabi-gcc {src.name}")
        objs.append(obj)
    return objs

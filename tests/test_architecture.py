"""The package's shape as tests: imports point one way (the contracts in pyproject.toml, run by
import-linter), no module imports itself through others, and both checks catch a violation
planted in a copy of the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the ``edgekit`` package found in ``root`` with ``root``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def import_cycles(root: Path) -> list[list[str]]:
    """Strongly connected groups of more than one edgekit module (Tarjan's algorithm), or a module
    importing itself: each is an import circle."""
    code = ("import grimp, json; g = grimp.build_graph('edgekit', cache_dir=None, exclude_type_checking_imports=True); "
            "print(json.dumps({m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=300, check=True).stdout
    edges = {m: [d for d in ds if d.startswith("edgekit")] for m, ds in json.loads(out).items()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:  # recursive Tarjan: the graph has ~100 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied so a test can plant a bad import."""
    shutil.copytree(ROOT / "edgekit", tmp_path / "edgekit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_no_import_circles():
    assert import_cycles(ROOT) == []


@pytest.mark.parametrize("module, line, contract", [
    ("ir/analysis.py", "from ..codegen import lowering", "the pipeline"),  # ir is the bottom layer
    ("plan/schedule.py", "from ..frontend import reference", "the pipeline"),  # siblings stay apart
    ("codegen/render.py", "import tensorflow", "TensorFlow and Keras"),
])
def test_a_planted_violation_breaks_a_contract(package_copy: Path, module: str, line: str, contract: str):
    path = package_copy / "edgekit" / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")
    result = lint_imports(package_copy)
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout


def test_a_planted_circle_is_found(package_copy: Path):
    path = package_copy / "edgekit" / "plan" / "verify.py"  # plan.pack imports plan.verify
    path.write_text(path.read_text() + "\nfrom . import pack  # planted by the test\n")
    cycles = import_cycles(package_copy)
    assert any({"edgekit.plan.pack", "edgekit.plan.verify"} <= set(c) for c in cycles), cycles

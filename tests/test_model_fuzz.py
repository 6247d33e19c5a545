"""A seeded hostile-model campaign in the suite (``modelfuzz``): byte mutations of the stored
models; every outcome is a one-line refusal, or generated code that is ASan/UBSan-clean and equal
to the reference interpreter, or a model no reference could run -- never a traceback, a hang, a
crash of the generated code, or a wrong result. ``benchmarks/fuzz.py`` runs it longer."""

from __future__ import annotations

import pytest

from conftest import ROOT
from modelfuzz import campaign

from edgekit.target.host import build_runtime_lib

MODELS = [ROOT / "tests" / "snapshots" / "tiny_dense.tflite", ROOT / "tests" / "snapshots" / "tiny_residual.tflite"]


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_models_fail_only_in_one_line(seed, tmp_path):
    lib = build_runtime_lib(tmp_path, sanitize=True, opt="-O1")
    result = campaign(MODELS, 60, seed, tmp_path, lib)
    assert not result.failures, "\n".join(f"{o}: {m}: {d}" for o, m, d in result.failures[:10])
    # the campaign reached both ends: refusals, and mutants that generate, run and match
    assert result.counts["refused"] >= 10 and result.counts["exact"] >= 10, result.counts

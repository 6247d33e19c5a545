"""Generated C for two tiny stored models, compared as text with the reviewed snapshots in
tests/snapshots/. After an intended change: python tests/snapshots/regenerate.py, review, commit."""

import pytest

from edgekit.codegen import generate
from edgekit.ir import read_tflite

from snapshots.regenerate import FILES, HERE

MODELS = sorted(p.stem for p in HERE.glob("*.tflite"))


def test_snapshots_exist():
    assert MODELS == ["tiny_dense", "tiny_residual"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("filename", FILES)
def test_generated_c_matches_snapshot(name, filename, tmp_path):
    generate(read_tflite(HERE / f"{name}.tflite"), tmp_path, source=f"{name}.tflite")
    got = (tmp_path / filename).read_text()
    want = (HERE / name / filename).read_text()
    assert got == want, (f"{name}/{filename} differs from its snapshot; if the change is intended, "
                         "run python tests/snapshots/regenerate.py and review the diff")

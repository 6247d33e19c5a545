"""`edgekit inspect`: rows, MACs and totals of the real models, checked against the IR itself."""

import json

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.ir import OpKind, read_tflite

from conftest import REAL_MODELS


def independent_macs(graph):
    """MACs recomputed here from tensor shapes, without edgekit.ir.analysis."""
    total = 0
    for op in graph.ops:
        y = graph.tensors[op.outputs[0]]
        if op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED):
            w = graph.tensors[op.inputs[1]]
            per_out = int(np.prod(w.shape[1:])) if op.kind == OpKind.CONV_2D else (
                w.shape[1] * w.shape[2] if op.kind == OpKind.DEPTHWISE_CONV_2D else w.shape[1])
            total += int(np.prod(y.shape)) * per_out
    return total


@pytest.mark.parametrize("name", REAL_MODELS)
def test_inspect_json(name, mlperf_models, capsys):
    path = mlperf_models / f"{name}.tflite"
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    graph = read_tflite(path)
    assert [r["type"] for r in report["ops"]] == [op.type_name for op in graph.ops]
    assert report["totals"]["macs"] == independent_macs(graph)
    assert sum(r["macs"] for r in report["ops"]) == report["totals"]["macs"]
    assert report["unsupported"] == []
    assert all(r["dtype"] == "int8" for r in report["ops"])


def test_inspect_table(mlperf_models, capsys):
    assert main(["inspect", str(mlperf_models / "kws_ref_model.tflite")]) == 0
    out = capsys.readouterr().out
    assert "DEPTHWISE_CONV_2D" in out and "total:" in out


def test_readme_lists_the_operators_edgekit_runs():
    """The README's operator list is the set of registered lowerings: a new operator is listed."""
    import re

    from conftest import ROOT

    from edgekit.codegen.lower import supported_kinds

    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- operators:.*?-->\n(.*?)<!-- /operators -->", text, re.S).group(1)
    assert re.findall(r"`(\w+)`", block) == sorted(k.name for k in supported_kinds())


def test_every_kind_edgekit_cannot_run_is_named():
    """Nineteen unsupported operators of three kinds: the one line names each kind with its count,
    and no kind is cut off by a length limit."""
    from types import SimpleNamespace

    from edgekit.codegen.lower import unsupported_text

    ops = ([SimpleNamespace(index=i, type_name="SPLIT") for i in range(3, 30, 2)]
           + [SimpleNamespace(index=1, type_name="UNPACK")]
           + [SimpleNamespace(index=i, type_name="WHILE") for i in (40, 41, 42, 43)])
    text = unsupported_text(ops)
    assert text == ("19 operator(s) edgekit cannot run: SPLIT x14 (ops 3, 5, 7, 9, ...); UNPACK x1 (op 1); "
                    "WHILE x4 (ops 40, 41, 42, 43)")

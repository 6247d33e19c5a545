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


def test_readme_table_is_edgekit_ops_output(capsys):
    """The README's operator table is what `edgekit ops --markdown` prints, and that lists every
    registered lowering: a new operator (or a new int16 or DSP kernel) shows in both."""
    import re

    from conftest import ROOT

    from edgekit.codegen.lower import supported_kinds

    assert main(["ops", "--markdown"]) == 0
    printed = capsys.readouterr().out
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- operators:.*?-->\n(.*?)<!-- /operators -->", text, re.S).group(1)
    assert block == printed
    assert re.findall(r"^\| `(\w+)`", block, re.M) == sorted(k.name for k in supported_kinds())


def test_ops_names_activation_types_and_kernel_families(capsys):
    """`edgekit ops --json`: the DSP kernel tables show as families (conv's Winograd, the palettized
    conv and FC, the int4 ones of conv and FC), int16 where the 16x8 lowerings take it and nowhere else."""
    assert main(["ops", "--json"]) == 0
    rows = {r["operator"]: r for r in json.loads(capsys.readouterr().out)["operators"]}
    assert rows["CONV_2D"]["kernels"] == ["portable", "DSP", "DSP Winograd", "DSP int4", "DSP block-sparse",
                                         "DSP palettized", "palettized"]
    assert rows["FULLY_CONNECTED"]["kernels"] == ["portable", "DSP", "DSP int4", "palettized"]
    assert rows["DEPTHWISE_CONV_2D"]["kernels"] == ["portable", "DSP"]
    assert rows["ADD"]["kernels"] == ["portable", "DSP"] and rows["SUB"]["kernels"] == ["portable"]
    assert rows["CONV_2D"]["activations"] == ["int8", "int16"]
    assert rows["RESIZE_NEAREST_NEIGHBOR"]["activations"] == ["int8", "int16"]
    assert rows["RESIZE_BILINEAR"]["activations"] == ["int8"]
    assert rows["TRANSPOSE_CONV"]["activations"] == ["int8", "int16"]
    assert rows["GATHER"]["activations"] == ["int8"]  # TFLM's GATHER takes no int16


def test_every_int16_claim_has_a_bit_exact_16x8_test():
    """Each operator `edgekit ops` lists with int16 activations is an expected operator of a
    16x8 model in test_int16x8.py (compared with tflite-micro there), or the 16x8 LSTM of
    test_recurrent.py; RESHAPE, SQUEEZE and EXPAND_DIMS have no kernel (the output shares the
    input's bytes)."""
    import re

    from conftest import ROOT

    from edgekit.codegen.catalog import operator_rows

    source = (ROOT / "tests" / "test_int16x8.py").read_text()
    tested = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source))
    if "stacked_lstm_16x8" in (ROOT / "tests" / "test_recurrent.py").read_text():
        tested.add("UNIDIRECTIONAL_SEQUENCE_LSTM")
    claimed = {r.name for r in operator_rows() if "int16" in r.activations}
    assert claimed - tested == {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


def test_unsupported_operator_is_named_with_its_layer(tmp_path, capsys):
    """An operator edgekit lacks (CUMSUM, left in float by the converter) inside a Keras layer:
    inspect names the layer's scope beside the operator, in the per-operator line and the summary."""
    import keras

    from opmodels import keras_graph

    def build(x):
        h = keras.layers.Dense(8, name="proj")(x)
        h = keras.layers.Lambda(lambda t: keras.ops.cumsum(t, axis=1), name="running")(h)
        return keras.layers.Dense(3, name="head")(h)

    path = tmp_path / "m.tflite"
    path.write_bytes(keras_graph(build, [(6, 4)], seed=1))
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    index = next(op.index for op in read_tflite(path).ops if op.type_name == "CUMSUM")
    assert f"unsupported: op {index} CUMSUM: no kernel (from running_1)" in err, err
    assert f"edgekit: 1 operator(s) edgekit cannot run: CUMSUM x1 (op {index}, from running_1)" in err, err


def test_keras_layer_of_a_converter_scope():
    """Keras 3's export names a layer's scope with "_1" added: mapped back to the layer, also when
    another layer is called what the scope is."""
    from edgekit.frontend.keras_model import keras_layer

    layers = {"up": "UpSampling2D", "dense": "Dense", "dense_1": "Dense"}
    assert keras_layer(layers, "up_1") == "'up' (UpSampling2D)"
    assert keras_layer(layers, "dense_1") == "'dense' (Dense)"
    assert keras_layer(layers, "dense_1_1") == "'dense_1' (Dense)"
    assert keras_layer(layers, "head_1") == ""
    assert keras_layer(layers, "") == ""


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


def test_every_kernel_table_with_other_families_is_registered():
    """A kernel table in an operator module that has a DSP or palettized row is registered with
    ``kernel_table`` (or `edgekit ops` and the README would not show that family)."""
    import importlib
    import pkgutil

    import edgekit.codegen.ops as ops_pkg
    from edgekit.codegen.catalog import PORTABLE, family
    from edgekit.codegen.lowering import KERNEL_TABLES, Candidate

    registered = {id(t) for tables in KERNEL_TABLES.values() for t in tables}
    found = []
    for info in pkgutil.iter_modules(ops_pkg.__path__):
        module = importlib.import_module(f"edgekit.codegen.ops.{info.name}")
        for name, value in vars(module).items():
            if (isinstance(value, tuple) and value and all(isinstance(c, Candidate) for c in value)
                    and any(family(c.kernel) != PORTABLE for c in value)):
                found.append(name)
                assert id(value) in registered, f"{info.name}.{name} is not registered with kernel_table"
    assert {"CONV_2D_KERNELS", "DEPTHWISE_CONV_2D_KERNELS", "FULLY_CONNECTED_KERNELS", "ADD_SUB_KERNELS"} <= set(found)

"""Hostile models, built by editing real ones at the flatbuffer level (TensorFlow's schema object
API): each is refused by ``edgekit inspect`` and ``edgekit generate`` in one line naming what is
wrong, with exit code 2, and never reaches the code generator (issue 12's classes 2-4 and 6)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import flatbuffers
import numpy as np
import pytest
from conftest import ROOT
from tensorflow.lite.python import schema_py_generated as schema

from edgekit.cli import main
from edgekit.errors import ExitCode
from edgekit.target.host import failure_reason
from edgekit.target.toolchain import compile_host

SNAPSHOTS = ROOT / "tests" / "snapshots"


def edited(model: str, edit) -> bytes:
    """``tests/snapshots/<model>.tflite`` with ``edit(model_object, subgraph)`` applied."""
    buf = (SNAPSHOTS / f"{model}.tflite").read_bytes()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    edit(m, m.subgraphs[0])
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def tensor_of(sg, name_part: str):
    return next(t for t in sg.tensors if name_part in t.name.decode())


def op_inputs_of(sg, k: int) -> list[int]:
    return list(sg.operators[k].inputs)


def _set(obj, field, value):
    setattr(obj, field, value)


CASES = {
    # a graph input four times as long as the first FULLY_CONNECTED's weights take (the arena overflow)
    "input-grown": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.inputs[0]], "shape", np.array([1, 32], np.int32)),
                    "do not fit weights"),
    # SOFTMAX's output shrunk (it wrote 12 bytes into 3)
    "softmax-output-shrunk": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.outputs[0]], "shape",
                                                               np.array([1, 1], np.int32)), "output shape"),
    # an operator input index of -2 (read as a Python negative index)
    "input-index-minus-2": ("tiny_dense", lambda m, sg: _set(sg.operators[1], "inputs",
                                                             np.array([-2, *op_inputs_of(sg, 1)[1:]], np.int32)),
                            "input tensor -2"),
    "input-index-past-the-end": ("tiny_dense", lambda m, sg: _set(sg.operators[0], "inputs",
                                                                  np.array([999, *op_inputs_of(sg, 0)[1:]], np.int32)),
                                 "input tensor 999"),
    "operator-without-inputs": ("tiny_dense", lambda m, sg: _set(sg.operators[2], "inputs", np.array([], np.int32)),
                                "no inputs"),
    "operator-without-outputs": ("tiny_dense", lambda m, sg: _set(sg.operators[2], "outputs", np.array([], np.int32)),
                                 "no outputs"),
    "model-without-outputs": ("tiny_dense", lambda m, sg: _set(sg, "outputs", np.array([], np.int32)), "no outputs"),
    # a bias of 5 values for 6 output channels
    "bias-length": ("tiny_dense", lambda m, sg: _set(sg.tensors[op_inputs_of(sg, 0)[2]], "shape",
                                                     np.array([5], np.int32)), "buffer"),
    "zero-point-int32-max": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.inputs[0]].quantization, "zeroPoint",
                                                              np.array([2**31 - 1], np.int64)), "zero point"),
    "scale-inf": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.inputs[0]].quantization, "scale",
                                                   np.array([math.inf], np.float32)), "scale"),
    "scale-nan": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.outputs[0]].quantization, "scale",
                                                   np.array([math.nan], np.float32)), "scale"),
    "scale-zero": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.inputs[0]].quantization, "scale",
                                                    np.array([0.0], np.float32)), "scale 0"),
    "per-channel-scales-miscounted": ("tiny_residual", lambda m, sg: _set(
        sg.tensors[op_inputs_of(sg, 0)[1]].quantization, "scale", np.array([0.1, 0.2, 0.3], np.float32)),
        "scales"),
    # the hang: a graph input with a zero dimension (reading 0 bytes always "succeeded")
    "zero-dimension-input": ("tiny_residual", lambda m, sg: _set(sg.tensors[sg.inputs[0]], "shape",
                                                                 np.array([1, 0, 6, 2], np.int32)), "zero dimension"),
    # the softmax UBSan report: a negative dimension
    "negative-dimension": ("tiny_dense", lambda m, sg: _set(sg.tensors[sg.outputs[0]], "shape",
                                                            np.array([1, -3], np.int32)), "negative dimension"),
    # options of the wrong kind: a convolution's stride of 0 (the ZeroDivisionError)
    "stride-zero": ("tiny_residual", lambda m, sg: _set(sg.operators[0].builtinOptions, "strideH", 0), "stride_h 0"),
    # the options table is another operator's, or missing: TFLM goes by the type, never the bytes
    "options-missing": ("tiny_residual", lambda m, sg: (_set(sg.operators[0], "builtinOptionsType", 0),
                                                        _set(sg.operators[0], "builtinOptions", None)),
                        "options are missing or another operator's"),
    "options-of-another-operator": ("tiny_residual", lambda m, sg: (
        _set(sg.operators[0], "builtinOptionsType", schema.BuiltinOptions.FullyConnectedOptions),
        _set(sg.operators[0], "builtinOptions", schema.FullyConnectedOptionsT())),
        "options are missing or another operator's"),
    # a filter scale so large that the requantized accumulator leaves int32 (UBSan's overflow)
    "conv-scale-huge": ("tiny_residual", lambda m, sg: _set(sg.tensors[op_inputs_of(sg, 0)[1]].quantization, "scale",
                                                            np.full(4, 1e30, np.float32)), "could overflow int32"),
    "fc-scale-huge": ("tiny_dense", lambda m, sg: _set(sg.tensors[op_inputs_of(sg, 0)[1]].quantization, "scale",
                                                       np.full(6, 1e30, np.float32)), "could overflow int32"),
    # a bias whose quantization has a non-zero zero point (a corrupt file the fuzz campaign found)
    "bias-zero-point": ("tiny_dense", lambda m, sg: _set(sg.tensors[op_inputs_of(sg, 0)[2]].quantization, "zeroPoint",
                                                         np.array([0, 0, 0, 0, 5, 0], np.int64)), "zero point 5"),
    # a bias of a type no TFLite version has (its 12 bytes were read as 12 values: a traceback)
    "bias-type-unknown": ("tiny_dense", lambda m, sg: _set(sg.tensors[op_inputs_of(sg, 1)[2]], "type", 99),
                          "is OTHER, not int32"),
    # a bias of INT32_MAX: bias + accumulator overflows int32 (UBSan's report in ek_fully_connected.c)
    "fc-bias-int32-max": ("tiny_dense", lambda m, sg: _set(m.buffers[sg.tensors[op_inputs_of(sg, 0)[2]].buffer], "data",
                                                           np.full(6, 2**31 - 1, np.int32).view(np.uint8)),
                          "could overflow int32"),
    # an operator missing an input its lowering unpacks (MEAN's axes), or a depthwise filter of rank 1
    "mean-without-axes": ("tiny_residual", lambda m, sg: _set(sg.operators[3], "inputs",
                                                              np.array(op_inputs_of(sg, 3)[:1], np.int32)),
                          "it takes 2 and 1"),
    "conv-without-filter": ("tiny_residual", lambda m, sg: _set(sg.operators[0], "inputs",
                                                                np.array([op_inputs_of(sg, 0)[0], -1, -1], np.int32)),
                            "it takes 2 to 3 and 1"),
    "dilation-negative": ("tiny_residual", lambda m, sg: _set(sg.operators[1].builtinOptions, "dilationWFactor", -1),
                          "dilation_w -1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_model_is_refused_in_one_line(name, tmp_path, capsys):
    model, edit, says = CASES[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(edited(model, edit))
    code = main(["generate", str(path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.ERROR, err
    assert len(err) == 1 and err[0].startswith("edgekit: error: ") and says in err[0], err
    assert not (tmp_path / "out" / "model.c").exists()


@pytest.mark.parametrize("name", list(CASES))
def test_inspect_says_what_generate_would_refuse(name, tmp_path, capsys):
    """A model the reader refuses is one error line (exit 2); one an operator's lowering refuses is
    listed as unsupported with the reason (exit 3), as generate would fail on it."""
    model, edit, says = CASES[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(edited(model, edit))
    code = main(["inspect", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (ExitCode.ERROR, ExitCode.UNSUPPORTED_OPERATORS), err
    if code == ExitCode.ERROR:
        assert len(err) == 1 and err[0].startswith("edgekit: error: ") and says in err[0], err
    else:
        assert any(ln.startswith("unsupported: ") and says in ln for ln in err), err


def test_the_unedited_models_pass(tmp_path, capsys):
    """The same edit machinery with no edit: both models generate (so a refusal above is the edit's)."""
    for model in ("tiny_dense", "tiny_residual"):
        path = tmp_path / f"{model}.tflite"
        path.write_bytes(edited(model, lambda m, sg: None))
        assert main(["generate", str(path), "-o", str(tmp_path / model)]) == ExitCode.OK
        assert (tmp_path / model / "model.c").exists()


def test_a_sanitizer_report_is_the_line_shown(tmp_path):
    """validate --sanitize names what the sanitizer found, not its banner of '=' signs."""
    src = tmp_path / "overflow.c"
    src.write_text("#include <stdio.h>\nstatic char buf[4];\nint main(void) {\n    char *volatile p = buf;\n"
                   "    p[getchar() + 4] = 1;\n    return buf[0];\n}\n")
    exe = compile_host([src], [], tmp_path / "overflow", opt="-O0", sanitize=True)
    proc = subprocess.run([str(exe)], input=b"\x00", capture_output=True)
    assert proc.returncode != 0 and proc.stderr.lstrip().startswith(b"=")
    assert failure_reason(proc.stderr).startswith("AddressSanitizer: global-buffer-overflow")


def test_reference_worker_dies_with_edgekit(tmp_path):
    """SIGKILL of a process that has run tflite-micro leaves no worker behind (holding its stdout)."""
    script = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from edgekit.frontend import reference\n"
        f"model = open({str(SNAPSHOTS / 'tiny_dense.tflite')!r}, 'rb').read()\n"
        "reference.run_tflm(model, [[np.zeros((1, 8), np.int8)]])\n"
        "print(*reference._pool._processes, flush=True)\n"
        "import time; time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(os.path.exists(f"/proc/{p}") for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in workers):
            time.sleep(0.1)
        left = [p for p in workers if os.path.exists(f"/proc/{p}")
                and "Z" not in open(f"/proc/{p}/stat").read().split(")")[1].split()[0]]
        assert not left, f"workers still running: {left}"
    finally:
        proc.kill()


def _stateful(m, sg):
    """SOFTMAX turned into a UNIDIRECTIONAL_SEQUENCE_RNN (a stateful operator edgekit has no kernel
    for) reading a variable (state) tensor, as stateful models do."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN
    m.operatorCodes.append(code)
    state = schema.TensorT()
    state.shape, state.type, state.name, state.isVariable = np.array([1, 3], np.int32), schema.TensorType.INT8, b"state", True
    state.buffer = 0
    sg.tensors.append(state)
    op = sg.operators[2]
    op.opcodeIndex = len(m.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None
    op.inputs = np.array([op.inputs[0], len(sg.tensors) - 1], np.int32)


def test_stateful_operator_is_listed_as_unsupported(tmp_path, capsys):
    """A model with a state tensor is read; inspect lists its stateful operator as one edgekit
    cannot run (exit 3), and generate says so, rather than 'reads tensor N before it is written'."""
    path = tmp_path / "stateful.tflite"
    path.write_bytes(edited("tiny_dense", _stateful))
    assert main(["inspect", str(path)]) == ExitCode.UNSUPPORTED_OPERATORS
    err = capsys.readouterr().err
    assert "unsupported: op 2 UNIDIRECTIONAL_SEQUENCE_RNN" in err and "before it is written" not in err
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == ExitCode.ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot run: UNIDIRECTIONAL_SEQUENCE_RNN x1 (op 2)" in err[0], err
    assert main(["plan", str(path)]) == ExitCode.OK


def test_no_reference_is_its_own_exit_code_in_one_line(mlperf_models, tmp_path):
    """A bias scale 1,000 times what input x weight scales give: edgekit's arithmetic ignores it (as
    TFLM's would), but both references refuse the model in Prepare. validate says so in one line,
    with their reason, exit 5; nothing the interpreters print reaches the terminal."""
    buf = (mlperf_models / "ad01_int8.tflite").read_bytes()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    sg = m.subgraphs[0]
    bias = sg.tensors[sg.operators[0].inputs[2]]
    bias.quantization.scale = np.asarray(bias.quantization.scale) * 1000
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "badbias.tflite"
    path.write_bytes(bytes(b.Output()))
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", "validate", str(path), "--samples", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == ExitCode.NO_REFERENCE, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: neither reference could run badbias"), lines
    assert "scale_diff / output_scale <= 0.02 was not true" in lines[0] and proc.stdout == ""

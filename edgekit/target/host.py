"""Host validation: generated C compiled with gcc, outputs compared with the reference interpreters."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen import GeneratedModel, IOTensor, generate
from ..codegen.render import environment
from ..errors import CalibrationDataError, ModelFormatError, ReferenceUnavailable, ToolchainError
from ..files import KERNELS
from ..frontend import reference
from ..ir import Graph, parse_tflite, quantize_values
from . import toolchain


@dataclass
class OutputDiff:
    name: str
    max_abs_diff_tflm: int | None
    max_abs_diff_litert: int | None
    samples_differing_tflm: int | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    model: str
    samples: int
    outputs: list[OutputDiff] = field(default_factory=list)
    tflm_available: bool = True
    tflm_error: str = ""
    arena_bytes: int = 0
    weight_bytes: int = 0

    @property
    def reference_name(self) -> str:
        return "tflite-micro" if self.tflm_available else "LiteRT reference kernels"

    @property
    def passed(self) -> bool:
        if self.tflm_available:
            return all(o.max_abs_diff_tflm == 0 for o in self.outputs)
        return all(o.max_abs_diff_litert == 0 for o in self.outputs)

    def to_json(self) -> dict:
        return {"model": self.model, "samples": self.samples, "passed": self.passed,
                "reference": self.reference_name, "tflm_available": self.tflm_available,
                "tflm_error": self.tflm_error, "arena_bytes": self.arena_bytes,
                "weight_bytes": self.weight_bytes, "outputs": [o.to_json() for o in self.outputs]}

    def summary(self) -> str:
        lines = [f"{self.model}: {self.samples} inputs, arena {self.arena_bytes:,} bytes"]
        if not self.tflm_available:
            lines.append(f"note: {self.tflm_error}; compared with LiteRT's reference kernels instead")
        for o in self.outputs:
            t = "n/a" if o.max_abs_diff_tflm is None else o.max_abs_diff_tflm
            lt = "n/a" if o.max_abs_diff_litert is None else o.max_abs_diff_litert
            lines.append(f"  {o.name}: max |diff| vs tflite-micro {t}, vs LiteRT reference {lt}")
        lines.append(("PASS: bit-exact with " if self.passed else "FAIL: differs from ") + self.reference_name)
        return "\n".join(lines)


def random_inputs(graph: Graph, n: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        sample = []
        for i in graph.inputs:
            t = graph.tensors[i]
            dt = t.dtype.numpy
            if np.issubdtype(dt, np.integer):
                info = np.iinfo(dt)
                lo, hi = max(info.min, -(2**15)), min(info.max, 2**15 - 1)
                sample.append(rng.integers(lo, hi + 1, size=t.shape, dtype=np.int64).astype(dt))
            else:
                sample.append(rng.standard_normal(t.shape).astype(dt))
        samples.append(sample)
    return samples


def load_inputs(graph: Graph, path: Path) -> list[list[np.ndarray]]:
    """Samples from a file: ``.npy`` for a single-input model, ``.npz`` with one array per input
    for any model (keyed by the input tensor's name, its Keras name, ``input0``, ``input1``, ...
    or by position, ``arr_0``, ...). Each array is (N, *shape) or one sample of the input shape.

    Float data for an integer input is quantized as TFLite's QUANTIZE does (and the generated
    ``P_quantize_input``): x / scale in float, rounded half away from zero, plus the zero point.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                stored = {k: z[k] for k in z.files}
        else:
            stored = {"arr_0": np.load(path, allow_pickle=False)}
    except Exception as exc:
        raise CalibrationDataError(f"{path}: cannot read as .npy or .npz ({type(exc).__name__})") from None
    tensors = [graph.tensors[i] for i in graph.inputs]
    keras_names = dict(graph.io_names)
    if len(tensors) > 1 and path.suffix.lower() != ".npz":
        names = ", ".join(t.name for t in tensors)
        raise CalibrationDataError(f"{path}: the model has {len(tensors)} inputs ({names}): give a .npz "
                                   "with one array per input")
    per_input = []
    for k, t in enumerate(tensors):
        key = next((c for c in (t.name, keras_names.get(t.index), f"input{k}", f"arr_{k}") if c in stored), None)
        if key is None:
            raise CalibrationDataError(f"{path}: no array for input {k} ({t.name}); it holds "
                                       f"{', '.join(sorted(stored)) or 'nothing'}")
        per_input.append(_samples_for(t, stored[key], f"{path}[{key}]"))
    counts = {len(x) for x in per_input}
    if len(counts) != 1:
        raise CalibrationDataError(f"{path}: the inputs have different numbers of samples ({sorted(counts)})")
    return [list(sample) for sample in zip(*per_input)]


def _samples_for(t, data: np.ndarray, where: str) -> np.ndarray:
    if data.shape == t.shape:
        data = data[None]
    elif data.shape[1:] != t.shape:
        if data.ndim >= 1 and int(np.prod(data.shape[1:])) == t.num_elements:
            data = data.reshape((data.shape[0], *t.shape))
        else:
            raise CalibrationDataError(f"{where}: shape {data.shape} does not fit input shape {t.shape}")
    dt = t.dtype.numpy
    if np.issubdtype(data.dtype, np.floating) and np.issubdtype(dt, np.integer):
        return quantize_values(data, t.scale, t.zero_point, dt)
    return np.asarray(data, dtype=dt)


def build_runtime_lib(work: Path, sanitize: bool = False, opt: str = "-O2") -> Path:
    """The runtime kernels as one static library, to link many generated models quickly."""

    kernels = KERNELS  # the portable kernels and the DSP ones (portable C on the host)
    return toolchain.compile_host_lib(sorted(kernels.glob("*.c")) + sorted((kernels / "dsp").glob("*.c")),
                                      [kernels, kernels / "dsp"], work / "libek.a",
                                      opt=opt, sanitize=sanitize)


def build_host_runner(gen: GeneratedModel, work: Path, sanitize: bool = False, opt: str = "-O2",
                      runtime_lib: Path | None = None) -> Path:
    """Compile the generated model with a stdin/stdout driver. With ``runtime_lib`` the kernels
    come from that library instead of being compiled again."""
    main_c = work / "host_main.c"
    main_c.write_text(environment().get_template("host_main.c.j2").render(
        prefix=gen.prefix, PREFIX=gen.prefix.upper(), version="", inputs=gen.inputs,
        outputs=gen.outputs))
    exe = work / ("model_host_asan" if sanitize else "model_host")
    sources = [*gen.sources, main_c]
    if runtime_lib is not None:
        sources = [*sorted(gen.out_dir.glob("*.c")), main_c, runtime_lib]
    return toolchain.compile_host(sources, gen.include_dirs, exe, opt=opt, sanitize=sanitize)


def run_host(exe: Path, ios: tuple[IOTensor, ...], outs: tuple[IOTensor, ...],
             samples: list[list[np.ndarray]], timeout_s: float = 600) -> list[list[np.ndarray]]:
    stdin = b"".join(np.ascontiguousarray(x, dtype=io.tensor.dtype.numpy).tobytes()
                     for sample in samples for io, x in zip(ios, sample))
    proc = subprocess.run([str(exe)], input=stdin, capture_output=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise ToolchainError(f"generated code exited with {proc.returncode}: {failure_reason(proc.stderr)}")
    per_sample = sum(o.nbytes for o in outs)
    if len(proc.stdout) != per_sample * len(samples):
        raise ToolchainError(f"generated code wrote {len(proc.stdout)} bytes, expected {per_sample * len(samples)}")
    results, pos = [], 0
    for _ in samples:
        row = []
        for o in outs:
            row.append(np.frombuffer(proc.stdout[pos:pos + o.nbytes], dtype=o.tensor.dtype.numpy).reshape(o.shape))
            pos += o.nbytes
        results.append(row)
    return results


def failure_reason(stderr: bytes) -> str:
    """The line of a failed run's stderr that says what happened: a sanitizer's report line
    (``ERROR: AddressSanitizer: ...``, ``... runtime error: ...``), else the first line with words."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:
        if "ERROR: " in ln and "Sanitizer" in ln or "runtime error:" in ln:
            return ln.split("ERROR: ", 1)[-1] if "ERROR: " in ln else ln
    return next((ln for ln in lines if any(ch.isalnum() for ch in ln)), "")


def _max_diff(a: list[list[np.ndarray]], b: list[list[np.ndarray]], k: int) -> tuple[int, int]:
    diffs = [int(np.max(np.abs(x[k].astype(np.float64) - y[k].reshape(x[k].shape).astype(np.float64))))
             if x[k].size else 0 for x, y in zip(a, b)]
    return max(diffs, default=0), sum(d != 0 for d in diffs)


def compare(gen: GeneratedModel, model: bytes, samples, ours) -> ValidationReport:
    report = ValidationReport(gen.graph.name, len(samples), arena_bytes=gen.arena_bytes,
                              weight_bytes=gen.weight_bytes)
    try:
        tflm = reference.run_tflm(model, samples)
    except ReferenceUnavailable as exc:
        tflm = None
        report.tflm_available = False
        report.tflm_error = str(exc)
    try:
        litert = reference.run_litert(model, samples)
    except ReferenceUnavailable as exc:  # reported alongside, unless it was the only reference left
        if tflm is None:
            raise ReferenceUnavailable(f"neither reference could run {gen.graph.name}: {report.tflm_error}; "
                                       f"{exc}") from None
        litert = None
    for k, o in enumerate(gen.outputs):
        d_tflm, n_tflm = _max_diff(ours, tflm, k) if tflm is not None else (None, None)
        d_lite = _max_diff(ours, litert, k)[0] if litert is not None else None
        report.outputs.append(OutputDiff(o.c_name, d_tflm, d_lite, n_tflm))
    return report


def validate_host(model_path: Path, samples: int = 10, inputs_file: Path | None = None,
                  seed: int = 0, sanitize: bool = False, work_dir: Path | None = None,
                  opt: str = "-O2", target=None) -> ValidationReport:
    model = Path(model_path).read_bytes() if Path(model_path).is_file() else None
    if model is None:
        raise ModelFormatError(f"{model_path}: no such model file")
    graph = parse_tflite(model, name=Path(model_path).stem, where=str(model_path))
    data = random_inputs(graph, samples, seed)
    if inputs_file is not None:
        data = load_inputs(graph, inputs_file) + data
    with tempfile.TemporaryDirectory(prefix="edgekit-validate-") as tmp:
        work = Path(work_dir) if work_dir else Path(tmp)
        gen = generate(graph, work / "model", source=Path(model_path).name, target=target)
        exe = build_host_runner(gen, work, sanitize=sanitize, opt=opt)
        ours = run_host(exe, gen.inputs, gen.outputs, data)
    return compare(gen, model, data, ours)

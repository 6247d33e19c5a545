"""What ``edgekit prune | cluster | distill`` do, behind the CLI: load the Keras model and the
data, apply the method, convert the result to int8, measure it against the input model, save
``OUT.keras`` and ``OUT_int8.tflite``, and return a :class:`MethodResult` (a table row and
JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import EdgekitError, ModelFormatError
from ..target.boards import DEFAULT_BOARD, load_board
from . import cluster, distill, int4, netadapt, prune
from .data import load
from .measure import copy_model, deploy_stats, float_accuracy, int8_accuracy, to_int8

Log = Callable[[str], None]


@dataclass
class Measured:
    float_accuracy: float
    int8_accuracy: float
    weight_bytes: int
    dense_weight_bytes: int
    arena_bytes: int
    macs: int
    params: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MethodResult:
    method: str
    before: Measured
    after: Measured
    keras_path: Path
    tflite_path: Path
    details: dict = field(default_factory=dict)
    board: str = DEFAULT_BOARD  # whose kernels the weight bytes are counted for

    def summary(self) -> str:
        b, a = self.before, self.after

        def row(name, m):
            return (f"{name:<7} float {m.float_accuracy * 100:5.1f}%  int8 {m.int8_accuracy * 100:5.1f}%  "
                    f"weights {m.weight_bytes:>9,} B (dense int8 {m.dense_weight_bytes:,})  "
                    f"arena {m.arena_bytes:>7,} B  MACs {m.macs:>11,}  params {m.params:,}")
        saved = b.weight_bytes - a.weight_bytes
        return "\n".join([f"{self.method}:", row("before", b), row("after", a),
                          f"flash saved on {self.board} {saved:,} bytes ({saved / max(b.weight_bytes, 1) * 100:.1f}%); "
                          f"wrote {self.keras_path} and {self.tflite_path}"])

    def to_json(self) -> dict:
        return {"method": self.method, "board": self.board, "before": self.before.to_json(), "after": self.after.to_json(),
                "keras": str(self.keras_path), "tflite": str(self.tflite_path), "details": self.details}


def load_keras(path: Path):
    import keras

    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"{path}: no such model file")
    if path.suffix not in (".keras", ".h5"):
        raise ModelFormatError(f"{path}: expected a Keras model (.keras or .h5)")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise ModelFormatError(f"{path}: cannot load as a Keras model ({type(exc).__name__})") from None


def data_for(model, spec: str, seed: int = 0):
    shape = model.inputs[0].shape
    ds = load(spec, resolution=(int(shape[1]), int(shape[2])), seed=seed)
    if ds.input_shape != tuple(int(d) for d in shape[1:]):
        raise EdgekitError(f"data {spec} gives inputs {ds.input_shape}, the model takes {tuple(shape[1:])}")
    return ds


def measure(model, data, per_tensor: bool = False, board: str = DEFAULT_BOARD,
            rewrite: Callable[[bytes], bytes] | None = None) -> tuple[Measured, bytes]:
    """Accuracy of ``model`` and of its int8 conversion (passed through ``rewrite`` if given),
    and the conversion as deployed on ``board`` (its kernels: weights in flash as that board's
    code stores them)."""
    tfl = to_int8(model, data, per_tensor=per_tensor)
    tfl = rewrite(tfl) if rewrite else tfl
    s = deploy_stats(tfl, target=load_board(board).target())
    return Measured(float_accuracy(model, data.x_test, data.y_test),
                    int8_accuracy(tfl, data.x_test, data.y_test), s.weight_bytes,
                    s.dense_weight_bytes, s.arena_bytes, s.macs, int(model.count_params())), tfl


def _finish(method, model, new, data, output: Path, details, per_tensor=False, board: str = DEFAULT_BOARD,
            log: Log = print, rewrite: Callable[[bytes], bytes] | None = None):
    log(f"measuring the input model (weights as deployed on {board}) ...")
    before, _ = measure(model, data, per_tensor, board)
    log("measuring the result ...")
    after, tfl = measure(new, data, per_tensor, board, rewrite)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    keras_path = output if output.suffix == ".keras" else output.with_suffix(".keras")
    tflite_path = keras_path.with_name(keras_path.stem + "_int8.tflite")
    new.save(keras_path)
    tflite_path.write_bytes(tfl)
    return MethodResult(method, before, after, keras_path, tflite_path, details, board)


def run_prune(model_path, data_spec, output, sparsity: float = 0.5, structured: bool = False,
              epochs: int = 3, seed: int = 0, latency_target: float | None = None, steps: int = 6,
              board: str = DEFAULT_BOARD, log: Log = print, blocks: bool = False,
              by_sensitivity: bool = False, rounds: int = 1) -> MethodResult:

    if sum((structured, blocks, latency_target is not None)) > 1:
        raise EdgekitError("--structured, --blocks and --latency-target are different methods: give one")
    if by_sensitivity and not blocks:
        raise EdgekitError("--by-sensitivity chooses each layer's sparsity for --blocks: give --blocks too")
    if rounds != 1 and not structured:
        raise EdgekitError("--rounds prunes channels iteratively for --structured: give --structured too")
    model = load_keras(model_path)
    data = data_for(model, data_spec, seed)
    if latency_target is not None:
        log(f"pruning channels to {latency_target:.2f}x of the predicted cycles on {board} in {steps} steps ...")
        new, rep = netadapt.latency_prune(model, data, latency_target, netadapt.cost_model_cycles(data, board),
                                          steps=steps, final_epochs=epochs, seed=seed, log=log)
        method = (f"latency pruning to {latency_target:.2f}x cycles on {board} "
                  f"(predicted {rep.cycles_before:,.0f} -> {rep.cycles_after:,.0f})")
    elif structured:
        log(f"removing {sparsity:.0%} of the channels of every prunable channel group"
            + (f" in {rounds} rounds" if rounds > 1 else "") + " ...")
        new, rep = prune.structured_prune(model, sparsity, data, fine_tune_epochs=epochs, seed=seed, rounds=rounds)
        method = f"structured pruning {sparsity:.0%}" + (f" in {rounds} rounds" if rounds > 1 else "")
    elif blocks:
        log(f"pruning {sparsity:.0%} of the Conv2D kernels' blocks of 16x2 weights over {epochs} epochs ...")
        new, rep = prune.block_prune(copy_model(model), data, sparsity, epochs=epochs, seed=seed,
                                     by_sensitivity=by_sensitivity)
        method = f"block pruning {sparsity:.0%} (16x2 blocks{', per layer by sensitivity' if by_sensitivity else ''})"
    else:
        log(f"magnitude pruning to {sparsity:.0%} over {epochs} epochs ...")
        new, rep = prune.magnitude_prune(copy_model(model), data, sparsity, epochs=epochs, seed=seed)
        method = f"magnitude pruning {sparsity:.0%}"
    return _finish(method, model, new, data, output, rep.to_json(), board=board, log=log)


def run_cluster(model_path, data_spec, output, clusters: int = 16, per_channel: bool = False,
                epochs: int = 2, seed: int = 0, board: str = DEFAULT_BOARD, log: Log = print,
                low_clusters: int | None = None, save_bytes: int | None = None) -> MethodResult:

    model = load_keras(model_path)
    data = data_for(model, data_spec, seed)
    mixed = (f" ({low_clusters} in the least sensitive layers saving {save_bytes:,} bytes)"
             if low_clusters is not None else "")
    log(f"clustering every Conv2D/Dense kernel to {clusters} values{mixed}, fine-tuning {epochs} epochs ...")
    new, rep = cluster.cluster_weights(copy_model(model), clusters, data, epochs=epochs,
                                       per_channel=per_channel, seed=seed, low_clusters=low_clusters,
                                       save_bytes=save_bytes)
    what = f"clustering to {clusters} values" + (f", {low_clusters} in {len(rep.low_layers)} layers" if mixed else "")
    return _finish(what, model, new, data, output, rep.to_json(), board=board, log=log)


def run_int4(model_path, data_spec, output, save_bytes: int | None = None, epochs: int = 3, seed: int = 0,
             board: str = DEFAULT_BOARD, log: Log = print) -> MethodResult:

    model = load_keras(model_path)
    data = data_for(model, data_spec, seed)
    what = "every Conv2D kernel" if save_bytes is None else \
        f"the least sensitive Conv2D kernels saving {save_bytes:,} bytes"
    log(f"quantization-aware fine-tuning for {epochs} epochs with 4-bit weights in {what} ...")
    new, rep = int4.int4_finetune(model, data, epochs=epochs, seed=seed, save_bytes=save_bytes)
    if not rep.layers:
        raise EdgekitError(f"{model_path}: no Conv2D layer with at least 256 weights to store as int4")
    return _finish(f"int4 weights in {len(rep.layers)} layers", model, new, data, output, rep.to_json(), board=board,
                   log=log, rewrite=lambda tfl: int4.int4_weights(tfl)[0])


def run_distill(student_path, teacher_path, data_spec, output, temperature: float = 4.0,
                alpha: float = 0.3, epochs: int = 10, seed: int = 0, board: str = DEFAULT_BOARD,
                log: Log = print, hint_weight: float = 0.0, attention_weight: float = 0.0) -> MethodResult:

    student = load_keras(student_path)
    teacher = load_keras(teacher_path)
    data = data_for(student, data_spec, seed)
    if tuple(teacher.inputs[0].shape[1:]) != data.input_shape:
        data_t = data_for(teacher, data_spec, seed)
        raise EdgekitError(f"teacher takes {data_t.input_shape}, student {data.input_shape}: "
                           "distillation needs the same input")
    import keras

    fresh = keras.models.clone_model(student)  # the student as given is the 'before'
    fresh.set_weights(student.get_weights())
    if hint_weight < 0 or attention_weight < 0:
        raise EdgekitError("--hints and --attention are loss weights: 0 or more")
    taught = [w for w, on in (("hints", hint_weight > 0), ("attention", attention_weight > 0)) if on]
    pairs = distill.feature_pairs(fresh, teacher) if taught else None
    log(f"distilling for {epochs} epochs, temperature {temperature:g}, alpha {alpha:g}"
        + (f", {' and '.join(taught)} on {len(pairs)} feature maps" if taught else "") + " ...")
    new, rep = distill.distill(fresh, teacher, data, epochs=epochs, temperature=temperature, alpha=alpha, seed=seed,
                               hint_weight=hint_weight, attention_weight=attention_weight, pairs=pairs)
    return _finish("distillation", student, new, data, output, rep.to_json(), board=board, log=log)

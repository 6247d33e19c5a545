"""Compression trade-offs on a real data set with no download: scikit-learn's digits (8x8,
upsampled to the network's resolution), one table.

Baseline: a zoo MobileNetV2 (inverted residuals) trained with a fixed seed. Then each method
applied to it (fine-tuned briefly where the method calls for it): magnitude pruning to 50% and
80%, structured pruning of 50% of the channels in one shot, latency-driven structured pruning
(NetAdapt, edgekit/compress/netadapt.py) to --latency-target of the predicted cycles,
int4 weights (4-bit QAT, edgekit/compress/int4.py) alone and on the NetAdapt model, clustering
to 16 values, int16 activations on the operators where they gain most (16x8, no training:
edgekit/frontend/mixed.py), distillation into the same architecture from a larger teacher (outputs only, and
outputs with FitNets hints and attention transfer on the stage ends), and quantization-aware
fine-tuning.

Every method has its control: the same training budget without the method (the baseline
fine-tuned for the same epochs, learning rate and batch size; for distillation the same
architecture trained on labels only). When a method and its control differ by under a point of
int8 accuracy, both are run again with --seeds fine-tuning seeds and the difference is called
real only when its mean over the seeds exceeds twice its standard error. Per row:

  float   accuracy of the Keras model on the test split
  int8    accuracy of the full-int8 model in the tflite-micro interpreter (which edgekit's
          generated code equals bit for bit: the 'exact' column checks that on the host)
  flash   weight bytes as deployed for the default board (qemu-mps2-an386, a Cortex-M4), whose
          SIMD kernels keep dense weights unless packing at least halves a tensor (palette) or
          quarters it (sparse) -- edgekit/codegen/ops/dsp_common.py; 'portable': as deployed by the
          portable kernels (palettized / sparse tensors counted packed); 'dense': every tensor
          dense int8
  arena   planned activation arena (bytes)
  MACs    multiply-accumulates per inference
  cycles  estimated cycles per inference, measured: the model built for the default board (DSP
          kernels) and run on it under QEMU with the cycle plugin (zero-wait-state memory)
  est ms  the fit cost model's prediction (edgekit/data/costmodel.json) for the NUCLEO-L4R5ZI
          (its memory system), at its clock
  control int8 accuracy of the control (mean over the seeds run), the difference in points and
          whether it is real

Then a small `edgekit fit` search on the same data and the default board (--fit-trials candidates
trained, each measured on the emulated board before it is accepted): fit_latency_error_max is
the largest |predicted / measured - 1| of estimated cycles over the candidates it measured.

    python benchmarks/compression.py [--epochs 10] [--resolution 32] [--width 0.35] [--json]

--json prints {"rows": [...], "fit_latency_error_max": x, ...}; each row has method,
int8_accuracy (0-1), flash_bytes (weights as deployed for the default board), estimated_cycles.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOARD = "nucleo-l4r5zi"  # Cortex-M4 at 120 MHz, the MLPerf Tiny reference board: est ms
DEFAULT_BOARD = "qemu-mps2-an386"  # the default board: flash and measured cycles


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def row(name, model, tfl, data, note="", per_tensor=False, validate=True):
    from edgekit.compress import costmodel
    from edgekit.target.boards import load_board
    from edgekit.codegen import schedule_for
    from edgekit.codegen.lower import lower_graph
    from edgekit.codegen.core import target_for_cpu
    from edgekit.compress import measure as deploy
    from edgekit.ir import parse_tflite

    board = load_board(BOARD)
    target = target_for_cpu(board.cpu)
    stats = deploy.deploy_stats(tfl, name)  # portable kernels: every core, the host
    stats_m4 = deploy.deploy_stats(tfl, name, target)  # the board's DSP kernels
    g = parse_tflite(tfl)
    g2, calls, _ = schedule_for(g, lower_graph(g, target), target)
    cost = costmodel.load(board)
    ms = cost.latency_ms(cost.total_cycles(g2, calls), board.clock_hz)
    measured = costmodel.measure(tfl, DEFAULT_BOARD)
    exact = None
    if validate:
        rep = deploy.validate_bit_exact(tfl, samples=2, x=data.x_test[:8])
        exact = rep.passed if rep.tflm_available else None
    int8_acc = deploy.int8_accuracy(tfl, data.x_test, data.y_test)
    r = {"method": name, "float_acc": deploy.float_accuracy(model, data.x_test, data.y_test),
         "int8_accuracy": int8_acc, "int8_acc": int8_acc,
         "flash_bytes": stats_m4.weight_bytes, "packed_tensors": stats_m4.packed_tensors,
         "flash_bytes_portable": stats.weight_bytes, "packed_tensors_portable": stats.packed_tensors,
         "dense_int8_bytes": stats.dense_weight_bytes, "arena_bytes": stats_m4.arena_bytes, "macs": stats.macs,
         "estimated_cycles": measured.cycles, "instructions": measured.instructions,
         "est_ms": ms, "bit_exact": exact, "bit_exact_on_board": measured.passed,
         # what the converter actually produced (asked: per_tensor)
         "quant": "per-channel" if any(len(g.tensors[op.inputs[1]].quant.scale) > 1 for op in g.ops
                                       if op.type_name in ("CONV_2D", "FULLY_CONNECTED")) else "per-tensor",
         "note": note}
    log(f"  {name}: float {r['float_acc'] * 100:.1f}%, int8 {r['int8_acc'] * 100:.1f}%, "
        f"flash {r['flash_bytes']:,} B, cycles {r['estimated_cycles']:,}, MACs {r['macs']:,}, exact {exact}")
    return r


class Controls:
    """The control of a fine-tuning method: the baseline fine-tuned for the same epochs, learning
    rate and batch size without the method, converted the same way (cached per setting and seed)."""

    def __init__(self, base, data):
        self.base, self.data, self.cache = base, data, {}

    def int8_accuracy(self, epochs, lr, batch_size, seed, per_tensor=False) -> float:
        from edgekit.compress import measure as deploy

        key = (epochs, lr, batch_size, seed, per_tensor)
        if key not in self.cache:
            log(f"  control: baseline + {epochs} epochs (lr {lr:g}, batch {batch_size}, seed {seed}) ...")
            m = deploy.copy_model(self.base)
            deploy.train(m, self.data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
            tfl = deploy.to_int8(m, self.data, per_tensor=per_tensor)
            self.cache[key] = deploy.int8_accuracy(tfl, self.data.x_test, self.data.y_test)
        return self.cache[key]


def with_control(r, accs, ctrl, epochs, lr, control=None):
    """``r`` with its control's int8 accuracy per seed and a verdict on the difference: over a
    point on the first seed, or else over the seeds 'real' when the mean difference is more than
    twice its standard error, 'within seed spread' when not."""
    diffs = np.array(accs) - np.array(ctrl)
    mean = float(diffs.mean())
    if len(diffs) == 1:
        verdict = "real (over a point, one seed)" if abs(mean) >= 0.01 else "one seed only"
    else:
        se = float(diffs.std(ddof=1) / np.sqrt(len(diffs)))
        verdict = f"real ({len(diffs)} seeds)" if abs(mean) > 2 * se and mean != 0 else \
            f"within seed spread ({len(diffs)} seeds)"
    r.update({"epochs": epochs,
              "control": control or f"the baseline fine-tuned {epochs} more epochs without the method (lr {lr:g})",
              "int8_accuracy_seeds": accs, "control_int8_accuracy_seeds": ctrl,
              "vs_control_points": mean * 100, "difference": verdict})
    return r


def table(rows, header) -> str:
    cols = f"{'method':<30} {'float':>6} {'int8':>6} {'flash B':>9} {'portable':>9} {'dense B':>9} " \
           f"{'arena B':>8} {'MACs':>10} {'cycles':>11} {'est ms':>7} {'exact':>5} {'control':>7} {'vs ctrl':>7}  difference"
    out = [header, "", cols, "-" * len(cols)]
    for r in rows:
        ex = {True: "yes", False: "NO", None: "n/a"}[r["bit_exact"] if r["bit_exact_on_board"] else False]
        out.append(f"{r['method']:<30} {r['float_acc'] * 100:5.1f}% {r['int8_acc'] * 100:5.1f}% "
                   f"{r['flash_bytes']:>9,} {r['flash_bytes_portable']:>9,} {r['dense_int8_bytes']:>9,} "
                   f"{r['arena_bytes']:>8,} "
                   f"{r['macs']:>10,} {r['estimated_cycles']:>11,} {r['est_ms']:>7.2f} {ex:>5}"
                   + (f" {np.mean(r['control_int8_accuracy_seeds']) * 100:6.1f}% {r['vs_control_points']:+6.1f}pt  "
                      f"{r['difference']}" if "difference" in r else ""))
    notes = [f"- {r['method']}: {r['note']}" for r in rows if r["note"]]
    notes += [f"- {r['method']}: control is {r['control']}; int8 accuracy per seed "
              f"{', '.join(f'{a * 100:.1f}' for a in r['int8_accuracy_seeds'])} vs "
              f"{', '.join(f'{a * 100:.1f}' for a in r['control_int8_accuracy_seeds'])}" for r in rows if "control" in r]
    notes += [f"- {r['method']}: the int8 model has {r['quant']} weight scales" for r in rows
              if ("per-tensor" in r["method"]) != (r["quant"] == "per-tensor")]
    return "\n".join(out + ([""] + notes if notes else []))


def mixed_16x8(model, ds, max_ops: int):
    """``model`` converted to int8 with at most ``max_ops`` operators in 16x8 where int16
    activations gain (``edgekit.frontend.mixed``, as ``edgekit convert --int16-layers``); the
    search's steps and the all-int8 SQNR."""
    from edgekit.compress import measure as deploy
    from edgekit.frontend import mixed
    from edgekit.frontend.quantize import float_tflite, int8_tflite

    fn = deploy.batch1_function(model)
    cal = ds.calibration(100)
    q8, q16, fl = int8_tflite(fn, cal), int8_tflite(fn, cal, activations="int16"), float_tflite(fn)
    # the converted function has no signature: each sample is its one input, by position
    base_db, steps = mixed.choose_16x8(q8, q16, fl, [{"input": s[0]} for s in cal[:32]], max_ops)
    return mixed.splice_16x8(q8, q16, mixed.chosen_names(q8, q16, steps)), steps, base_db


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="mobilenet_v2")
    ap.add_argument("--width", type=float, default=0.35)
    ap.add_argument("--depth", type=float, default=0.34)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=20, help="baseline / teacher / student training epochs")
    ap.add_argument("--finetune", type=int, default=4, help="fine-tuning epochs after pruning / clustering")
    ap.add_argument("--teacher-width", type=float, default=1.0)
    ap.add_argument("--teacher-depth", type=float, default=0.67)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fit-trials", type=int, default=3, help="candidates the fit search trains and measures")
    ap.add_argument("--fit-latency-ms", type=float, default=60.0, help="the fit search's budget on the default board")
    ap.add_argument("--latency-target", type=float, default=0.68,
                    help="NetAdapt's cycle budget as a fraction of the baseline's predicted cycles")
    ap.add_argument("--latency-steps", type=int, default=6, help="NetAdapt steps")
    ap.add_argument("--seeds", type=int, default=3,
                    help="fine-tuning seeds for a method and its control when they differ by under a point")
    ap.add_argument("--methods", help="only the method rows whose names contain one of these comma-separated words "
                                      "(the baseline always; with it, no distillation or fit rows)")
    ap.add_argument("--int16-layers", type=int, default=6,
                    help="the 16x8 row: at most this many operators on int16 activations")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edgekit.compress import zoo
    from edgekit.compress import cluster, data, int4, measure as deploy, distill, netadapt, prune, qat

    t0 = time.time()
    ds = data.digits(args.resolution, seed=args.seed)

    def build(width=args.width, depth=args.depth):
        return zoo.build(args.family, resolution=args.resolution, width=width, depth=depth, seed=args.seed)

    rows = []
    log(f"baseline {args.family} w{args.width} d{args.depth} r{args.resolution}, {args.epochs} epochs ...")
    base = build()
    deploy.train(base, ds, epochs=args.epochs, batch_size=64, seed=args.seed)
    rows.append(row("baseline (int8 PTQ)", base, deploy.to_int8(base, ds), ds))
    seeds = [args.seed + i for i in range(max(1, args.seeds))]
    controls = Controls(base, ds)

    def magnitude(s):
        def run(seed):
            m, rep = prune.magnitude_prune(deploy.copy_model(base), ds, s, epochs=args.finetune, seed=seed)
            return m, deploy.to_int8(m, ds), f"kernels {rep.overall_sparsity:.0%} zeros, stored sparse (bitmap + nonzeros)"
        return run

    def blocks(s, by_sensitivity=False):
        def run(seed):
            m, rep = prune.block_prune(deploy.copy_model(base), ds, s, epochs=args.finetune, seed=seed,
                                       by_sensitivity=by_sensitivity)
            per = ("; per layer " + ", ".join(f"{k} {v:.2f}" for k, v in rep.block_targets.items())
                   if by_sensitivity else "")
            return m, deploy.to_int8(m, ds), (f"blocks of 16 taps x 2 output channels of {len(rep.per_layer)} Conv2D "
                                              f"kernels, skipped by the DSP block-sparse convolution{per}")
        return run

    def structured(seed, rounds=1):
        m, rep = prune.structured_prune(base, 0.5, ds, fine_tune_epochs=args.finetune, seed=seed, rounds=rounds)
        how = "one shot" if rounds == 1 else f"{rounds} rounds of a {1 - 0.5 ** (1 / rounds):.0%} cut and fine-tuning"
        return m, deploy.to_int8(m, ds), (f"{how}, every channel group halved ({len(rep.removed_channels)} groups), "
                                          f"params {rep.params_before:,} -> {rep.params_after:,}")

    pruned = {}  # seed -> (NetAdapt's model, its report)

    def netadapt_model(seed):
        if seed not in pruned:
            cost = netadapt.cost_model_cycles(ds, DEFAULT_BOARD)
            pruned[seed] = netadapt.latency_prune(base, ds, args.latency_target, cost, steps=args.latency_steps,
                                                  final_epochs=args.finetune, seed=seed, log=log)
        return pruned[seed]

    def latency(seed):
        m, rep = netadapt_model(seed)
        steps = "; ".join(f"{st.chosen.group} -{st.chosen.removed}" for st in rep.steps)
        return m, deploy.to_int8(m, ds), (f"NetAdapt, {len(rep.steps)} steps to {args.latency_target:.2f}x predicted "
                                          f"cycles ({rep.cycles_after / rep.cycles_before:.2f}x reached): {steps}; "
                                          f"{rep.epochs} epochs of fine-tuning in all")

    def with_int4(source):
        def run(seed):
            m, rep = int4.int4_finetune(source(seed), ds, epochs=args.finetune, seed=seed)
            tfl, changed = int4.int4_weights(deploy.to_int8(m, ds))
            return m, tfl, (f"{args.finetune} epochs of QAT with 4-bit kernels in {len(rep.layers)} Conv2D layers "
                            f"({len(changed)} stored INT4; depthwise and the classifier int8)")
        return run

    def clustered(per_tensor, clusters=16, low_share=None):
        def run(seed):
            low = {}
            if low_share is not None:  # 4 values where it costs least, saving low_share of what 4 everywhere saves
                kernels = sum(l.kernel.shape.num_elements() for l in cluster.prunable_layers(base))
                low = dict(low_clusters=4, save_bytes=int(low_share * kernels * 2 / 8))
            m, rep = cluster.cluster_weights(deploy.copy_model(base), clusters, ds, epochs=max(1, args.finetune // 2),
                                             seed=seed, **low)
            if low:
                return m, deploy.to_int8(m, ds), (
                    f"16 values per channel, 4 in the {len(rep.low_layers)} layers that lose least accuracy per byte "
                    f"(each measured alone on a validation split) until {low['save_bytes']:,} bytes are saved, "
                    f"{low_share:.0%} of what 4 everywhere saves; decoded by the DSP palettized convolution")
            bits = max(1, (clusters - 1).bit_length())
            note = (f"per-tensor int8 keeps {clusters} values per kernel: one shared table" if per_tensor else
                    f"{bits}-bit indices + one {clusters}-entry table per output channel (per-channel int8 scales make "
                    f"each channel's {clusters} values different), decoded by the DSP palettized convolution")
            return m, deploy.to_int8(m, ds, per_tensor=per_tensor), note
        return run

    def qat_run(per_channel):
        def run(seed):
            q, _ = qat.quantization_aware_finetune(base, ds, epochs=2, per_channel=per_channel, seed=seed)
            return q, deploy.to_int8(q, ds, per_tensor=not per_channel), (
                "2 epochs of fake-quant fine-tuning (BatchNorm folded), then ordinary PTQ")
        return run

    # (name, method(seed) -> (keras model, int8 model, note), fine-tuning epochs (a function of the seed's run
    # when they are only known after it), lr, batch size, per-tensor)
    latency_epochs = lambda seed: netadapt_model(seed)[1].epochs
    methods = [
        ("magnitude prune 50%", magnitude(0.5), args.finetune, 1e-3, 32, False),
        ("magnitude prune 80%", magnitude(0.8), args.finetune, 1e-3, 32, False),
        ("block prune 50% (16x2 blocks)", blocks(0.5), args.finetune, 1e-3, 32, False),
        ("block prune 70% (16x2 blocks)", blocks(0.7), args.finetune, 1e-3, 32, False),
        ("block prune 50% by sensitivity", blocks(0.5, True), args.finetune, 1e-3, 32, False),
        ("structured prune 50%", structured, args.finetune, 1e-3, 32, False),
        ("structured prune 50% in 4 rounds", lambda seed: structured(seed, 4), args.finetune, 1e-3, 32, False),
        (f"latency prune {args.latency_target:.2f}x (NetAdapt)", latency, latency_epochs, 1e-3, 32, False),
        ("int4 weights (4-bit QAT)", with_int4(lambda seed: base), args.finetune, 5e-4, 32, False),
        (f"NetAdapt {args.latency_target:.2f}x + int4 weights", with_int4(lambda seed: netadapt_model(seed)[0]),
         lambda seed: latency_epochs(seed) + args.finetune, 5e-4, 32, False),
        ("cluster 16 (per-channel int8)", clustered(False), max(1, args.finetune // 2), 5e-4, 32, False),
        ("cluster 16 (per-tensor int8)", clustered(True), max(1, args.finetune // 2), 5e-4, 32, True),
        ("cluster 4 (per-channel int8)", clustered(False, 4), max(1, args.finetune // 2), 5e-4, 32, False),
        ("cluster 16, 4 by sensitivity (per-channel int8)", clustered(False, 16, 0.6), max(1, args.finetune // 2),
         5e-4, 32, False),
        ("QAT (per-tensor)", qat_run(False), 2, 5e-4, 32, True),
        ("QAT (per-channel)", qat_run(True), 2, 5e-4, 32, False),
    ]
    if args.methods:
        methods = [m for m in methods if any(w in m[0] for w in args.methods.split(","))]
    if not args.methods or "16x8" in args.methods:
        log(f"int16 activations where they gain (at most {args.int16_layers} operators) ...")
        tfl, steps, base_db = mixed_16x8(base, ds, args.int16_layers)
        ops = sum(len(st.ops) for st in steps)
        what = ("; ".join(st.describe() for st in steps) if steps else "no int8 activation gained as int16")
        rows.append(row(f"int8 + 16x8 on {ops} ops (<= {args.int16_layers})", base, tfl, ds,
                        note=(f"no training: the baseline's weights; the operators whose int16 activations raise "
                              f"the outputs' SQNR against float most on 32 calibration samples (all int8: "
                              f"{base_db:.1f} dB) run 16x8 (int16 kernels: DSP for CONV_2D and FULLY_CONNECTED, "
                              f"portable for the rest): {what}; "
                              f"control: the baseline row")))
    for name, method, epochs, lr, batch, per_tensor in methods:
        log(f"{name} ...")
        m, tfl, note = method(seeds[0])
        r = row(name, m, tfl, ds, note=note, per_tensor=per_tensor)
        budget = epochs if callable(epochs) else (lambda seed, e=epochs: e)
        accs = [r["int8_accuracy"]]
        ctrl = [controls.int8_accuracy(budget(seeds[0]), lr, batch, seeds[0], per_tensor)]
        if abs(accs[0] - ctrl[0]) < 0.01:  # under a point: the other seeds say whether it is real
            for seed in seeds[1:]:
                log(f"{name}, seed {seed} ...")
                accs.append(deploy.int8_accuracy(method(seed)[1], ds.x_test, ds.y_test))
                ctrl.append(controls.int8_accuracy(budget(seed), lr, batch, seed, per_tensor))
        rows.append(with_control(r, accs, ctrl, budget(seeds[0]), lr))

    if args.methods:  # a partial run: the rows asked for, no distillation, per-tensor baseline or fit
        header = (f"edgekit compression on digits ({len(ds.x_train)} train / {len(ds.x_test)} test, "
                  f"{args.resolution}x{args.resolution}), {args.family} w{args.width} d{args.depth}, seed {args.seed}; "
                  f"methods matching {args.methods!r} only; {time.time() - t0:.0f} s")
        print(json.dumps({"header": header, "rows": rows, "fit_latency_error_max": None}, indent=2) if args.json
              else table(rows, header))
        return 0

    log(f"teacher {args.family} w{args.teacher_width} d{args.teacher_depth}, {args.epochs} epochs ...")
    teacher = build(args.teacher_width, args.teacher_depth)
    deploy.train(teacher, ds, epochs=args.epochs, batch_size=64, seed=args.seed)
    t_acc = deploy.float_accuracy(teacher, ds.x_test, ds.y_test)

    def distilled(seed, **features):
        return distill.distill(build_seeded(seed), teacher, ds, epochs=args.epochs, seed=seed, batch_size=64,
                               **features)

    def label_only(seed):  # the control: the same architecture, seed and epochs, labels only
        if seed == args.seed:
            return base
        m = build_seeded(seed)
        deploy.train(m, ds, epochs=args.epochs, batch_size=64, seed=seed)
        return m

    def build_seeded(seed):
        return zoo.build(args.family, resolution=args.resolution, width=args.width, depth=args.depth, seed=seed)

    stronger = t_acc > deploy.float_accuracy(base, ds.x_test, ds.y_test)
    teacher_note = (f"teacher {teacher.count_params():,} params, float {t_acc * 100:.1f}% "
                    f"({'stronger' if stronger else 'NOT stronger'} than the label-only student); "
                    f"control: the baseline (same architecture, seed and {args.epochs} epochs, labels only)")
    control_accs = {args.seed: rows[0]["int8_accuracy"]}
    for name, features, what in [
            ("distilled (same arch)", {}, "outputs only (Hinton)"),
            ("distilled (+hints, attention)", {"hint_weight": 1.0, "attention_weight": 1000.0},
             "outputs, FitNets hints (1x1 adapters, weight 1) and attention transfer (beta 1000)")]:
        log(f"distilling a student of the baseline's architecture: {what} ...")
        student, report = distilled(seeds[0], **features)
        on = " on " + ", ".join(f"{s}<-{t}" for s, t in report.pairs) if report.pairs else ""
        r = row(name, student, deploy.to_int8(student, ds), ds, note=f"{what}{on}; {teacher_note}")
        accs, ctrl = [r["int8_accuracy"]], [control_accs[args.seed]]
        if abs(accs[0] - ctrl[0]) < 0.01:
            for seed in seeds[1:]:
                log(f"{name}, seed {seed} ...")
                accs.append(deploy.int8_accuracy(deploy.to_int8(distilled(seed, **features)[0], ds), ds.x_test,
                                                 ds.y_test))
                if seed not in control_accs:
                    control_accs[seed] = deploy.int8_accuracy(deploy.to_int8(label_only(seed), ds), ds.x_test,
                                                              ds.y_test)
                ctrl.append(control_accs[seed])
        rows.append(with_control(r, accs, ctrl, args.epochs, None,
                                 control="the same architecture trained on labels only"))

    log("per-tensor PTQ ...")
    rows.append(row("baseline (per-tensor PTQ)", base, deploy.to_int8(base, ds, per_tensor=True), ds,
                    per_tensor=True))

    log(f"fit search on the default board ({args.fit_trials} candidates trained and measured) ...")
    import tempfile

    from edgekit.compress import fit

    with tempfile.TemporaryDirectory(prefix="edgekit-bench-fit-") as tmp:
        found = fit.search(DEFAULT_BOARD, ds, args.fit_latency_ms, fit.grid(resolutions=(args.resolution,)),
                           epochs=max(1, args.epochs // 4), max_trials=args.fit_trials, seed=args.seed,
                           out_dir=Path(tmp), build_winner=False, log=log)
    measured_fit = [{"candidate": c.label, "predicted_cycles": round(c.predicted_cycles), "measured_cycles": c.measured_cycles}
                    for c in found.measured]

    header = (f"edgekit compression on digits ({len(ds.x_train)} train / {len(ds.x_test)} test, "
              f"{args.resolution}x{args.resolution}), {args.family} w{args.width} d{args.depth}, seed {args.seed}; "
              f"est ms: cost model, {BOARD}; {time.time() - t0:.0f} s")
    if args.json:
        print(json.dumps({"header": header, "rows": rows, "fit_latency_error_max": found.latency_error_max,
                          "fit_measured": measured_fit}, indent=2))
    else:
        print(table(rows, header))
        err = found.latency_error_max
        print(f"\nfit on {DEFAULT_BOARD}: {len(measured_fit)} candidates measured; fit_latency_error_max "
              + (f"{err:.3f}" if err is not None else "n/a (none measured)"))
        for m in measured_fit:
            print(f"  {m['candidate']}: predicted {m['predicted_cycles']:,} measured {m['measured_cycles']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

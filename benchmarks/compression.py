"""Compression trade-offs on a real data set with no download: scikit-learn's digits (8x8,
upsampled to the network's resolution), one table.

Baseline: a zoo MobileNetV2 (inverted residuals) trained with a fixed seed. Then each method
applied to it (fine-tuned briefly where the method calls for it): magnitude pruning to 50% and
80%, structured pruning of 50% of the channels, clustering to 16 values, distillation into
the same architecture from a larger teacher, and quantization-aware fine-tuning. Per row:

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


def table(rows, header) -> str:
    cols = f"{'method':<30} {'float':>6} {'int8':>6} {'flash B':>9} {'portable':>9} {'dense B':>9} " \
           f"{'arena B':>8} {'MACs':>10} {'cycles':>11} {'est ms':>7} {'exact':>5}"
    out = [header, "", cols, "-" * len(cols)]
    for r in rows:
        ex = {True: "yes", False: "NO", None: "n/a"}[r["bit_exact"] if r["bit_exact_on_board"] else False]
        out.append(f"{r['method']:<30} {r['float_acc'] * 100:5.1f}% {r['int8_acc'] * 100:5.1f}% "
                   f"{r['flash_bytes']:>9,} {r['flash_bytes_portable']:>9,} {r['dense_int8_bytes']:>9,} "
                   f"{r['arena_bytes']:>8,} "
                   f"{r['macs']:>10,} {r['estimated_cycles']:>11,} {r['est_ms']:>7.2f} {ex:>5}")
    notes = [f"- {r['method']}: {r['note']}" for r in rows if r["note"]]
    notes += [f"- {r['method']}: the int8 model has {r['quant']} weight scales" for r in rows
              if ("per-tensor" in r["method"]) != (r["quant"] == "per-tensor")]
    return "\n".join(out + ([""] + notes if notes else []))


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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from edgekit.compress import zoo
    from edgekit.compress import cluster, data, measure as deploy, distill, prune, qat

    t0 = time.time()
    ds = data.digits(args.resolution, seed=args.seed)

    def build(width=args.width, depth=args.depth):
        return zoo.build(args.family, resolution=args.resolution, width=width, depth=depth, seed=args.seed)

    rows = []
    log(f"baseline {args.family} w{args.width} d{args.depth} r{args.resolution}, {args.epochs} epochs ...")
    base = build()
    deploy.train(base, ds, epochs=args.epochs, batch_size=64, seed=args.seed)
    rows.append(row("baseline (int8 PTQ)", base, deploy.to_int8(base, ds), ds))

    for s in (0.5, 0.8):
        log(f"magnitude pruning {s:.0%} ...")
        m, rep = prune.magnitude_prune(deploy.copy_model(base), ds, s, epochs=args.finetune, seed=args.seed)
        rows.append(row(f"magnitude prune {s:.0%}", m, deploy.to_int8(m, ds), ds,
                        note=f"kernels {rep.overall_sparsity:.0%} zeros, stored sparse (bitmap + nonzeros)"))

    log("structured pruning 50% ...")
    m, rep = prune.structured_prune(base, 0.5, ds, fine_tune_epochs=args.finetune, seed=args.seed)
    rows.append(row("structured prune 50%", m, deploy.to_int8(m, ds), ds,
                    note=f"{len(rep.removed_channels)} channel groups halved, params "
                         f"{rep.params_before:,} -> {rep.params_after:,}"))

    log("clustering to 16 values ...")
    m, rep = cluster.cluster_weights(deploy.copy_model(base), 16, ds, epochs=max(1, args.finetune // 2),
                                     seed=args.seed)
    tfl = deploy.to_int8(m, ds)
    rows.append(row("cluster 16 (per-channel int8)", m, tfl, ds,
                    note="4-bit indices + one 16-entry table per output channel (per-channel int8 "
                         "scales make each channel's 16 values different)"))
    tfl_t = deploy.to_int8(m, ds, per_tensor=True)
    rows.append(row("cluster 16 (per-tensor int8)", m, tfl_t, ds, per_tensor=True,
                    note="per-tensor int8 keeps 16 values per kernel: one shared table"))

    log(f"teacher {args.family} w{args.teacher_width} d{args.teacher_depth}, {args.epochs} epochs ...")
    teacher = build(args.teacher_width, args.teacher_depth)
    deploy.train(teacher, ds, epochs=args.epochs, batch_size=64, seed=args.seed)
    log("distilling a student of the baseline's architecture ...")
    student, drep = distill.distill(build(), teacher, ds, epochs=args.epochs, seed=args.seed, batch_size=64)
    drep.baseline_accuracy = deploy.float_accuracy(base, ds.x_test, ds.y_test)
    better = drep.student_accuracy > drep.baseline_accuracy
    rows.append(row("distilled (same arch)", student, deploy.to_int8(student, ds), ds,
                    note=f"teacher {teacher.count_params():,} params, float {drep.teacher_accuracy * 100:.1f}%; "
                         f"student {'beats' if better else 'does NOT beat'} the label-only baseline "
                         f"({drep.student_accuracy * 100:.1f}% vs {drep.baseline_accuracy * 100:.1f}%, "
                         f"same seed and epochs)"))

    log("per-tensor PTQ and QAT ...")
    rows.append(row("baseline (per-tensor PTQ)", base, deploy.to_int8(base, ds, per_tensor=True), ds,
                    per_tensor=True))
    q, _ = qat.quantization_aware_finetune(base, ds, epochs=2, per_channel=False, seed=args.seed)
    rows.append(row("QAT (per-tensor)", q, deploy.to_int8(q, ds, per_tensor=True), ds, per_tensor=True,
                    note="2 epochs of fake-quant fine-tuning (BatchNorm folded), then ordinary PTQ; "
                         "compare with the per-tensor PTQ row"))
    q, _ = qat.quantization_aware_finetune(base, ds, epochs=2, per_channel=True, seed=args.seed)
    rows.append(row("QAT (per-channel)", q, deploy.to_int8(q, ds), ds))

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

"""The ``edgekit`` command. Each subcommand is a thin layer over one pipeline module.

Errors a user can cause are EdgekitError subclasses: one line on stderr, non-zero exit.
TensorFlow is imported only by ``convert``; every other command starts without it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .errors import EdgekitError


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


# ---------------------------------------------------------------------------- convert


def cmd_convert(args) -> int:
    from .frontend import convert

    report = convert.convert_model(
        Path(args.model), Path(args.output), calib=Path(args.calib) if args.calib else None,
        calib_samples=args.calib_samples, synthetic=args.synthetic_calib, mode=args.mode,
        per_tensor=args.per_tensor, image_range=args.image_range,
        log=lambda m: print(m, file=sys.stderr))
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.summary())
    return 0


# ---------------------------------------------------------------------------- inspect


def cmd_inspect(args) -> int:
    from .codegen.lowering import supported_kinds
    from .ir import read_tflite
    from .ir.analysis import op_macs, totals

    graph = read_tflite(args.model)
    kinds = supported_kinds()
    rows = []
    for op in graph.ops:
        ins = [graph.tensors[i] for i in op.inputs if i >= 0]
        outs = graph.op_outputs(op)
        rows.append({
            "index": op.index, "type": op.type_name,
            "inputs": [list(t.shape) for t in ins if not t.is_constant],
            "weights": [list(t.shape) for t in ins if t.is_constant],
            "outputs": [list(t.shape) for t in outs],
            "dtype": outs[0].dtype.np_name if outs else "",
            "macs": op_macs(graph, op),
            "supported": op.kind is not None and op.kind in kinds,
        })
    tot = totals(graph)
    unsupported = [r for r in rows if not r["supported"]]
    if args.json:
        _print_json({"model": graph.name, "ops": rows,
                     "totals": {"macs": tot.macs, "weight_bytes": tot.weight_bytes,
                                "activation_bytes": tot.activation_bytes},
                     "unsupported": [{"index": r["index"], "type": r["type"]} for r in unsupported]})
    else:
        def shp(ss):
            return ",".join("x".join(map(str, s)) for s in ss) or "-"
        print(f"{'#':>3}  {'operator':<18} {'input':<16} {'weights':<20} {'output':<16} {'dtype':<7} {'MACs':>11}")
        for r in rows:
            mark = "" if r["supported"] else "   <- unsupported"
            print(f"{r['index']:>3}  {r['type']:<18} {shp(r['inputs']):<16} {shp(r['weights']):<20} "
                  f"{shp(r['outputs']):<16} {r['dtype']:<7} {r['macs']:>11,}{mark}")
        print(f"total: {tot.macs:,} MACs, {tot.weight_bytes:,} weight bytes, "
              f"{tot.activation_bytes:,} activation bytes, {len(rows)} operators")
        for r in unsupported:
            print(f"unsupported: op {r['index']} {r['type']}", file=sys.stderr)
    if unsupported:
        print(f"edgekit: {len(unsupported)} operator(s) edgekit cannot run", file=sys.stderr)
        return 3
    return 0


# ---------------------------------------------------------------------------- generate


def cmd_generate(args) -> int:
    from .codegen import generate
    from .ir import read_tflite

    target = None  # the host: the portable kernels
    if args.board != "host":
        from .codegen.core import target_for_cpu
        from .target.boards import load_board

        target = target_for_cpu(load_board(args.board).cpu)  # the board's core picks the kernels
    graph = read_tflite(args.model)
    gen = generate(graph, Path(args.output), prefix=args.prefix, source=Path(args.model).name,
                   ram_limit=args.ram_limit, target=target)
    print(f"generated {gen.prefix}.h, {gen.prefix}.c, {gen.prefix}_weights.c in {gen.out_dir}: "
          f"{len(gen.calls)} operators, arena {gen.arena_bytes:,} bytes, "
          f"weights {gen.weight_bytes:,} bytes")
    return 0


# ---------------------------------------------------------------------------- validate


def cmd_validate(args) -> int:
    from .target.host import validate_host

    if args.target != "host":
        raise EdgekitError(f"validate --target {args.target}: only 'host' here; use 'edgekit profile' for boards")
    report = validate_host(Path(args.model), samples=args.samples,
                           inputs_file=Path(args.inputs) if args.inputs else None,
                           seed=args.seed, sanitize=args.sanitize)
    if args.json:
        _print_json(report.to_json())
    else:
        print(f"{report.model}: {report.samples} inputs, arena {report.arena_bytes:,} bytes")
        if not report.tflm_available:
            print(f"note: {report.tflm_error}; compared with LiteRT's reference kernels instead")
        for o in report.outputs:
            t = "n/a" if o.max_abs_diff_tflm is None else o.max_abs_diff_tflm
            lt = "n/a" if o.max_abs_diff_litert is None else o.max_abs_diff_litert
            print(f"  {o.name}: max |diff| vs tflite-micro {t}, vs LiteRT reference {lt}")
        print(("PASS: bit-exact with " if report.passed else "FAIL: differs from ") + report.reference_name)
    return 0 if report.passed else 1


# ---------------------------------------------------------------------------- profile, deploy


def cmd_profile(args) -> int:
    from .harness.deploy import profile_target

    if args.model is None and args.build is None:
        raise EdgekitError("give the model: --model M.tflite, or --build DIR (a firmware build by edgekit deploy)")
    report = profile_target(args.board, port=args.port, model=Path(args.model) if args.model else None,
                            build_dir=Path(args.build) if args.build else None,
                            inputs=Path(args.inputs) if args.inputs else None, samples=args.samples,
                            seed=args.seed, report_path=Path(args.report) if args.report else None,
                            log=lambda m: print(m, file=sys.stderr))
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.summary())
    return 0 if report.passed else 1


def cmd_deploy(args) -> int:
    from .harness.deploy import deploy

    result = deploy(Path(args.model), args.board, calib=Path(args.calib) if args.calib else None,
                    synthetic_calib=args.synthetic_calib, samples=args.samples, seed=args.seed,
                    out_dir=Path(args.output) if args.output else None, port=args.port,
                    report_path=Path(args.report) if args.report else None,
                    log=lambda m: print(m, file=sys.stderr))
    if args.json:
        _print_json(result.to_json())
    else:
        print(result.summary())
    return 0 if result.passed else 1


# ---------------------------------------------------------------------------- plan


def cmd_plan(args) -> int:
    from .codegen import memory_facts
    from .ir import read_tflite
    from .plan import buffers_for, no_overlap_requirements, plan_graph, reorder
    from .plan.report import plan_json, plan_text, plot_timeline

    graph = read_tflite(args.model)
    facts, notes = memory_facts(graph)
    file_bound = max(no_overlap_requirements(buffers_for(graph, facts)[0], len(graph.ops) + 1))
    schedule = reorder(graph, facts) if not args.no_reorder else None
    planned = schedule.graph if schedule else graph
    plan = plan_graph(planned, schedule.remap(facts) if schedule else facts,
                      ram_limit=args.ram_limit, schedule=schedule)
    if args.plot:
        plot_timeline(plan, planned, Path(args.plot))
    if args.json:
        doc = plan_json(plan, planned, file_bound)
        doc["unplanned_kernels"] = notes
        _print_json(doc)
    else:
        print(plan_text(plan, planned, file_bound))
        if args.plot:
            print(f"timeline written to {args.plot}")
    for note in notes:
        print(f"edgekit: note: planned without kernel facts (no scratch, no overlap): {note}",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- boards, build, flash


def cmd_boards(args) -> int:
    from .target.boards import all_boards

    boards = all_boards()
    if args.json:
        _print_json([b.to_json() for b in boards])
        return 0
    print(f"{'board':<18} {'cpu':<14} {'clock':>8} {'flash':>10} {'RAM':>10}  {'timer':<13} runs on")
    for b in boards:
        where = (f"{b.emulator.program} -M {b.emulator.machine}" if b.emulator
                 else "flash: " + ", ".join(t.tool for t in b.flash_tools))
        print(f"{b.name:<18} {b.cpu:<14} {b.clock_hz / 1e6:>5g} MHz {b.flash_bytes // 1024:>6,} KiB "
              f"{b.ram_bytes // 1024:>6,} KiB  {b.timer:<13} {where}")
    return 0


def cmd_build(args) -> int:
    from .target.build import build_firmware

    fw = build_firmware(Path(args.model), args.board, Path(args.output), ram_limit=args.ram_limit)
    if args.json:
        _print_json(fw.to_json())
    else:
        print(fw.summary())
    return 0


def cmd_flash(args) -> int:
    from .target import flash

    board, _ = flash.board_for_build(Path(args.build_dir), args.board)
    if not board.emulated:
        result = flash.flash(Path(args.build_dir), board)
        print(f"flashed {board.name} with {result.tool}")
        return 0
    with flash.start_emulated(Path(args.build_dir), board, serial=args.serial) as emu:
        print(f"{board.name}: {board.emulator.program} running, serial port {emu.port_url}", flush=True)
        print("Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            code = emu.process.wait(timeout=args.seconds)
        except subprocess.TimeoutExpired:
            return 0
        raise EdgekitError(f"{board.emulator.program} stopped by itself (exit {code})")


# ---------------------------------------------------------------------------- prune, cluster, distill, fit


def _report(result, args) -> int:
    if args.json:
        _print_json(result.to_json())
    else:
        print(result.summary())
    return 0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_prune(args) -> int:
    from .compress.commands import run_prune

    return _report(run_prune(Path(args.model), args.data, Path(args.output), args.sparsity,
                             args.structured, args.epochs, args.seed, log=_log), args)


def cmd_cluster(args) -> int:
    from .compress.commands import run_cluster

    return _report(run_cluster(Path(args.model), args.data, Path(args.output), args.clusters,
                               args.per_channel, args.epochs, args.seed, log=_log), args)


def cmd_distill(args) -> int:
    from .compress.commands import run_distill

    return _report(run_distill(Path(args.student), Path(args.teacher), args.data, Path(args.output),
                               args.temperature, args.alpha, args.epochs, args.seed, log=_log), args)


def cmd_fit(args) -> int:
    from .compress import fit
    from .compress.data import load

    data = load(args.data, seed=args.seed)
    if args.calibrate:
        from .compress import costmodel

        model = costmodel.calibrate(fit.calibration_models(data, args.seed), args.board, log=_log)
        print(f"cost model for {model.core} fitted on {model.samples} operators, saved to {costmodel.DATA_FILE}")
        return 0
    cands = fit.grid(args.families.split(",") if args.families else None,
                     [float(w) for w in args.widths.split(",")] if args.widths else None,
                     [int(r) for r in args.resolutions.split(",")],
                     [float(d) for d in args.depths.split(",")] if args.depths else None)
    result = fit.search(args.board, data, args.latency_ms, cands, epochs=args.epochs,
                        max_trials=args.max_trials, seed=args.seed, out_dir=Path(args.output), log=_log)
    if args.json:
        _print_json(result.to_json())
    else:
        print(result.table())
        for n in result.notes:
            print(f"note: {n}")
        if result.winner is not None:
            print(f"winner: {result.winner.label}: {result.tflite_path} (Keras: {result.keras_path})")
    return 0 if result.winner is not None else 4


# ---------------------------------------------------------------------------- main


def _add_no_winograd(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-winograd", action="store_true",
                        help="keep 3x3 stride-1 convolutions direct on DSP cores: Winograd stores their "
                             "weights 3.6x larger (32 B per channel pair instead of 9) to run them about 2x faster")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgekit", description="Keras to microcontroller, measured.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="Keras (.keras, .h5, SavedModel) to full-int8 .tflite")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--calib", help=".npy, .npz or a folder of images")
    c.add_argument("--calib-samples", type=int, default=200)
    c.add_argument("--synthetic-calib", action="store_true",
                   help="calibrate on random data (accuracy unknown)")
    c.add_argument("--mode", choices=["int8", "dynamic"], default="int8")
    c.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weights")
    c.add_argument("--image-range", choices=["unit", "symmetric", "raw"], default="unit",
                   help="pixels of a --calib image folder (and synthetic images) scaled to "
                        "[0, 1] (unit: x/255, the default), [-1, 1] (symmetric) or [0, 255] (raw)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("inspect", help="operators, shapes, MACs; lists what edgekit cannot run")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)

    g = sub.add_parser("generate", help="C source for an int8 .tflite")
    g.add_argument("model")
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--board", default="host", help="a board (edgekit boards) whose core picks the kernels; "
                   "default: the host (portable C)")
    g.add_argument("--prefix", default="model")
    g.add_argument("--ram-limit", type=int, metavar="BYTES",
                   help="fail with an error if no memory plan fits in this many arena bytes")
    _add_no_winograd(g)
    g.set_defaults(func=cmd_generate)

    v = sub.add_parser("validate", help="compile the generated C and compare with tflite-micro")
    v.add_argument("model")
    v.add_argument("--target", default="host")
    v.add_argument("--inputs", help=".npy of inputs (N, *shape); float data is quantized")
    v.add_argument("--samples", type=int, default=10, help="random inputs besides --inputs")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--sanitize", action="store_true", help="build with -fsanitize=address,undefined")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_validate)

    pl = sub.add_parser("plan", help="memory plan: schedule, lifetimes, offsets, arena vs lower bound")
    pl.add_argument("model")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--plot", help="write a memory timeline to this .png or .svg")
    pl.add_argument("--ram-limit", type=int, metavar="BYTES",
                    help="fail with an error if no plan fits in this many arena bytes")
    pl.add_argument("--no-reorder", action="store_true", help="keep the file's operator order")
    pl.set_defaults(func=cmd_plan)

    pr = sub.add_parser("profile", help="run a model on a board: latency, RAM, flash, outputs vs tflite-micro")
    pr.add_argument("--board", required=True, help="board name (boards/*.yaml); QEMU boards are started by edgekit")
    pr.add_argument("--port", help="pyserial URL of the device: /dev/ttyACM0, socket://host:port, rfc2217://...")
    pr.add_argument("--model", help="the .tflite the firmware was built from")
    pr.add_argument("--build", help="a firmware build folder written by edgekit deploy")
    pr.add_argument("--inputs", help=".npy of inputs (N, *shape); float data is quantized")
    pr.add_argument("--samples", type=int, default=10, help="random inputs besides --inputs")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--report", help="write the JSON report here (updated after every inference)")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_profile)

    d = sub.add_parser("deploy", help="Keras or .tflite to a board: convert, plan, generate, build, run, check")
    d.add_argument("model", help=".keras, .h5, SavedModel folder or int8 .tflite")
    d.add_argument("--board", required=True)
    d.add_argument("--calib", help="calibration data for a Keras model (.npy, .npz or a folder of images)")
    d.add_argument("--synthetic-calib", action="store_true",
                   help="calibrate a Keras model on random data (accuracy unknown)")
    d.add_argument("--samples", type=int, default=10, help="random inputs to check on the device")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-o", "--output", help="build folder (default: out/<model>-<board>)")
    d.add_argument("--port", help="pyserial URL of a real board (QEMU boards need none)")
    d.add_argument("--report", help="write the JSON profile report here as results arrive")
    d.add_argument("--json", action="store_true")
    _add_no_winograd(d)
    d.set_defaults(func=cmd_deploy)

    from .target.boards import DEFAULT_BOARD

    bl = sub.add_parser("boards", help="the boards edgekit knows (boards/*.yaml)")
    bl.add_argument("--json", action="store_true")
    bl.set_defaults(func=cmd_boards)

    bu = sub.add_parser("build", help="firmware for a board: model, kernels, harness, board support")
    bu.add_argument("model", help="int8 .tflite")
    bu.add_argument("--board", default=DEFAULT_BOARD, help="board name (edgekit boards) or a board .yaml")
    bu.add_argument("-o", "--output", required=True, help="build folder")
    bu.add_argument("--ram-limit", type=int, metavar="BYTES",
                    help="fail unless .data + .bss + stack fit in this many bytes (try a smaller part)")
    bu.add_argument("--json", action="store_true")
    _add_no_winograd(bu)
    bu.set_defaults(func=cmd_build)

    fl = sub.add_parser("flash", help="program a board with a build (QEMU boards: start the emulator)")
    fl.add_argument("build_dir", help="folder written by edgekit build")
    fl.add_argument("--board", help="board name; must match the build (default: the build's board)")
    fl.add_argument("--serial", choices=["pty", "tcp"], default="pty", help="QEMU boards: serial port kind")
    fl.add_argument("--seconds", type=float, help="QEMU boards: stop after this many seconds")
    fl.set_defaults(func=cmd_flash)

    pn = sub.add_parser("prune", help="magnitude (unstructured) or structured pruning of a Keras model")
    pn.add_argument("model", help=".keras or .h5")
    pn.add_argument("--data", required=True, help="'digits' (scikit-learn, no download) or .npz with x_train, y_train")
    pn.add_argument("-o", "--output", required=True, help="OUT.keras (and OUT_int8.tflite beside it)")
    pn.add_argument("--sparsity", type=float, default=0.5, help="fraction of weights (or channels) to remove")
    pn.add_argument("--structured", action="store_true", help="remove whole channels: a smaller dense model")
    pn.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs")
    pn.add_argument("--seed", type=int, default=0)
    pn.add_argument("--json", action="store_true")
    pn.set_defaults(func=cmd_prune)

    cl = sub.add_parser("cluster", help="k-means weight sharing, stored palettized in flash")
    cl.add_argument("model", help=".keras or .h5")
    cl.add_argument("--data", required=True, help="'digits' or .npz")
    cl.add_argument("-o", "--output", required=True, help="OUT.keras (and OUT_int8.tflite beside it)")
    cl.add_argument("--clusters", type=int, default=16, help="shared values per kernel (16: 4-bit indices)")
    cl.add_argument("--per-channel", action="store_true", help="k-means per output channel")
    cl.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs of the shared values")
    cl.add_argument("--seed", type=int, default=0)
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(func=cmd_cluster)

    di = sub.add_parser("distill", help="train a student from a teacher's softened outputs and the labels")
    di.add_argument("student", help=".keras or .h5 (its architecture and starting weights)")
    di.add_argument("--teacher", required=True, help=".keras or .h5")
    di.add_argument("--data", required=True, help="'digits' or .npz")
    di.add_argument("-o", "--output", required=True)
    di.add_argument("--temperature", type=float, default=4.0)
    di.add_argument("--alpha", type=float, default=0.3, help="weight of the label loss (1 - alpha: teacher)")
    di.add_argument("--epochs", type=int, default=10)
    di.add_argument("--seed", type=int, default=0)
    di.add_argument("--json", action="store_true")
    di.set_defaults(func=cmd_distill)

    ft = sub.add_parser("fit", help="the most accurate zoo network that fits a board's flash, RAM and latency")
    ft.add_argument("--board", required=True)
    ft.add_argument("--data", required=True, help="'digits' or .npz")
    ft.add_argument("--latency-ms", type=float, help="estimated latency limit per inference")
    ft.add_argument("-o", "--output", default="fit-out", help="folder for the winner and fit_report.json")
    ft.add_argument("--families", help="comma-separated zoo families (default: mobilenet_v1,mobilenet_v2,ds_cnn)")
    ft.add_argument("--widths", help="comma-separated width multipliers (default: each family's grid)")
    ft.add_argument("--resolutions", default="16,32", help="comma-separated input resolutions")
    ft.add_argument("--depths", help="comma-separated depth multipliers (default: each family's grid)")
    ft.add_argument("--epochs", type=int, default=4, help="training epochs per candidate")
    ft.add_argument("--max-trials", type=int, default=4, help="candidates trained (largest that fit first)")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--calibrate", action="store_true",
                    help="instead: fit the latency cost model on the (emulated) --board and save it")
    ft.add_argument("--json", action="store_true")
    ft.set_defaults(func=cmd_fit)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "no_winograd", False):
            from .codegen.ops.winograd import winograd

            with winograd(None):
                return args.func(args)
        return args.func(args)
    except EdgekitError as exc:
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("edgekit: interrupted", file=sys.stderr)
        return 130
    finally:
        from .frontend import reference

        reference.shutdown()


if __name__ == "__main__":
    sys.exit(main())

"""The ``edgekit`` command. Each subcommand is a thin layer over one pipeline module.

Errors a user can cause are EdgekitError subclasses: one line on stderr, non-zero exit.
TensorFlow is imported only by ``convert``; every other command starts without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import EdgekitError


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


# ---------------------------------------------------------------------------- convert


def cmd_convert(args) -> int:
    from . import convert

    report = convert.convert_model(
        Path(args.model), Path(args.output), calib=Path(args.calib) if args.calib else None,
        calib_samples=args.calib_samples, synthetic=args.synthetic_calib, mode=args.mode,
        per_tensor=args.per_tensor, log=lambda m: print(m, file=sys.stderr))
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.summary())
    return 0


# ---------------------------------------------------------------------------- inspect


def cmd_inspect(args) -> int:
    from .analysis import op_macs, totals
    from .codegen.lowering import supported_kinds
    from .ir import read_tflite

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

    graph = read_tflite(args.model)
    gen = generate(graph, Path(args.output), prefix=args.prefix, source=Path(args.model).name)
    print(f"generated {gen.prefix}.h, {gen.prefix}.c, {gen.prefix}_weights.c in {gen.out_dir}: "
          f"{len(gen.calls)} operators, arena {gen.arena_bytes:,} bytes, "
          f"weights {gen.weight_bytes:,} bytes")
    return 0


# ---------------------------------------------------------------------------- validate


def cmd_validate(args) -> int:
    from .validate import validate_host

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


# ---------------------------------------------------------------------------- main


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
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_convert)

    i = sub.add_parser("inspect", help="operators, shapes, MACs; lists what edgekit cannot run")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)

    g = sub.add_parser("generate", help="C source for an int8 .tflite")
    g.add_argument("model")
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--board", default="host")
    g.add_argument("--prefix", default="model")
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EdgekitError as exc:
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("edgekit: interrupted", file=sys.stderr)
        return 130
    finally:
        from . import reference

        reference.shutdown()


if __name__ == "__main__":
    sys.exit(main())

"""On the target: edgekit's firmware on the emulated Cortex-M4 (QEMU mps2-an386, -icount shift=0)
against TFLM's numbers on the same emulated board (/work/shared/ANCHORS.md, first table).

Per model: build the firmware, start QEMU, run seeded random inputs through the serial harness
(outputs checked against tflite-micro bit for bit), and report instructions per inference
(TIMER0 ticks x 40), MACs (edgekit.ir.analysis), instructions per MAC, flash (weights, and code =
flash beyond the weights) and RAM (arena, static .data + .bss, stack peak). Ratios are
TFLM / edgekit: above 1, edgekit needs fewer instructions or bytes.

TFLM's "code beyond model" is its flash minus the .tflite file; edgekit's "code" is its flash
minus the weight arrays. Under -icount every run of the same input is identical, so a few
inputs suffice; the median is reported.

Cycles: the QEMU cycle plugin (edgekit.target.cycles) estimates cycles from the executed instructions'
classes with the core's timings (Cortex-M4: ARM's TRM; Cortex-M7: an estimate), plus the board's
memory system when its file has one (flash wait states, caches, prefetch). ``--board`` may name a
real board (``nucleo-l4r5zi``): the firmware then runs on the emulated board of its core and the
cycles and ms are estimated for the real board's memory system and clock. In the same run and
under the same model, the TFLM + CMSIS-NN and microTVM + CMSIS-NN images of tests/calibration/
are timed (Cortex-M4 boards), so their ratios to edgekit are measured, not read from old figures.
They are also compared with the published MLPerf Tiny cycles on the NUCLEO-L4R5ZI (Cortex-M4 at
120 MHz, ANCHORS.md second table): ratio = theirs / ours, above 1 edgekit needs fewer cycles.
``--kernels plain`` builds with the portable C kernels instead of the DSP ones; ``--all`` runs
the Cortex-M4 (DSP kernels), Cortex-M7 (qemu-mps2-an500) and Cortex-M4 plain C configurations.
"Code" (flash beyond the weights) is broken down by what it is, from the linker map.
``--ram-weights BYTES|all`` builds each model a second time in the same run with that many bytes of its
most-read weights copied to RAM at start-up (edgekit's ``--ram-weights``) and reports it separately:
the default build keeps every weight in flash. On a board whose flash has wait states (nucleo-l4r5zi)
edgekit stages by default (``--stage-weights``: an operator's weights copied into the arena just before
it runs, where its kernel reads them many times); the build without staging is measured in the same
run and printed beside it, with both arenas. There, too, the kernels run from the board's code RAM
(SRAM2, copied at reset: ``Target.ram_kernels``); the build with them in flash (``--no-ram-kernels``) is
measured in the same run and printed beside it.

    python benchmarks/target.py [--board qemu-mps2-an386|nucleo-l4r5zi] [--kernels dsp|plain] [--all] [--samples 3]
                                [--ram-weights all] [--json] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.frontend import reference  # noqa: E402
from edgekit.ir.analysis import totals  # noqa: E402
from edgekit.target.boards import emulated_twin, load_board  # noqa: E402
from edgekit.target import image_cycles  # noqa: E402
from edgekit.target.build import build_firmware  # noqa: E402
from edgekit.target import cycles  # noqa: E402
from edgekit.cli.output import ram_bytes  # noqa: E402
from edgekit.codegen.core import STAGE_WEIGHTS_WAIT_STATES, Target, target_for_cpu  # noqa: E402
from edgekit.harness.deploy import connect, flash_facts, with_cycle_plugin  # noqa: E402
from edgekit.harness.profile import profile  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402

SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
ANCHORS = SHARED / "ANCHORS.md"
DEFAULT = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
CALIBRATION = ROOT / "tests" / "calibration"
#: the other engines' images of each model (tests/calibration/README.md), timed in the same run
ENGINE_IMAGES = {"tflm_cmsisnn": "tflm_cmsisnn_{model}.elf", "utvm_cmsisnn": "utvm_cmsisnn_{bm}.elf"}
MLPERF_BENCHMARK = {"kws_ref_model": "kws", "vww_96_int8": "vww", "pretrainedResnet_quant": "ic", "ad01_int8": "ad"}


def _int(cell: str) -> int:
    return int(cell.replace(",", "").strip())


def read_anchors(path: Path = ANCHORS) -> dict[str, dict]:
    """TFLM on QEMU mps2-an386: the first table of ANCHORS.md, by model name."""
    if not path.is_file():
        return {}
    text = path.read_text()
    section = text.split("\n## ")[1] if "\n## " in text else text
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or not re.match(r"^[\d,]+$", cells[1]):
            continue
        rows[cells[0]] = {"macs": _int(cells[1]), "ref_instructions": _int(cells[2]),
                          "cmsis_instructions": _int(cells[3]), "flash_code_bytes": _int(cells[5]),
                          "arena_bytes": _int(cells[6]), "stack_peak_bytes": _int(cells[7])}
    return rows


#: MLPerf Tiny benchmark names of the shared models (ANCHORS.md, published table)
PUBLISHED_NAMES = {"kws_ref_model": "kws", "vww_96_int8": "vww", "pretrainedResnet_quant": "resnet",
                   "ad01_int8": "ad"}


def read_published(path: Path = ANCHORS) -> dict[str, dict]:
    """Published MLPerf Tiny cycles on the NUCLEO-L4R5ZI (ANCHORS.md, the "Published" table), by
    model file name: {"tflm_cmsis": ..., "st": ..., "plumerai": ...} in cycles."""
    if not path.is_file():
        return {}
    text = path.read_text()
    start = text.find("## Published")
    if start < 0:
        return {}
    rows = {}
    for line in text[start:].split("\n## ")[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].endswith(" M"):
            continue
        vals = [float(c[:-2]) * 1e6 for c in cells[1:]]
        for model, short in PUBLISHED_NAMES.items():
            if cells[0] == short:
                rows[model] = {"tflm_cmsis": vals[0], "st": vals[1], "plumerai": vals[2]}
    return rows


#: what each object of the firmware is, for the "code" breakdown
CODE_GROUPS = (("harness", ("ek_frame.o", "ek_harness.o", "ek_main.o", "ek_model_glue.o")),
               ("board support", ("startup_cortexm.o", "ek_memory.o", "board_")),
               ("model calls and parameters", ("model.o",)),
               ("C library", ("lib_a-", "libgcc", "_arm_", "_aeabi")))


def code_breakdown(map_file: Path, flash_end: int) -> dict[str, int]:
    """Bytes of flash beyond the weights by what they are (from the linker map): kernels,
    harness, board support, model calls and parameter structs, C library."""
    out: dict[str, int] = {}
    in_map, pending, output_section = False, None, ""
    for line in map_file.read_text().splitlines():
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        parts = line.split()
        if line.startswith(".") and parts:
            output_section = parts[0]  # .ramcode: code that runs in RAM, its image in flash
        if len(parts) == 1 and line.startswith(" ."):
            pending = parts[0]
            continue
        if line.startswith(" .") and len(parts) >= 4:
            section, addr, size, obj = parts[0], parts[1], parts[2], parts[-1]
        elif pending and len(parts) >= 3 and parts[0].startswith("0x"):
            section, addr, size, obj = pending, parts[0], parts[1], parts[-1]
        else:
            pending = None
            continue
        pending = None
        if not section.startswith((".text", ".rodata", ".data", ".vectors", ".isr")):
            continue
        try:
            a, n = int(addr, 16), int(size, 16)
        except ValueError:
            continue
        if n == 0 or (a >= flash_end and output_section != ".ramcode") or "model_weights.o" in obj:
            continue
        name = Path(obj.split("(")[-1].rstrip(")")).name
        group = next((g for g, keys in CODE_GROUPS if any(k in name for k in keys)), None)
        if group is None:
            group = "kernels" if name.startswith("ek_") else "other"
        out[group] = out.get(group, 0) + n
    return out


def engines(model: str, modelled) -> dict:
    """The other engines' images of ``model`` timed under ``modelled``'s model: {engine: cycles}."""
    out = {}
    if modelled.cpu != "cortex-m4":  # the images are Cortex-M4 (mps2-an386) builds
        return out
    for engine, pattern in ENGINE_IMAGES.items():
        elf = CALIBRATION / pattern.format(model=model, bm=MLPERF_BENCHMARK.get(model, model))
        if elf.is_file():
            r = image_cycles.run(elf, modelled)
            out[f"{engine}_cycles"] = r.cycles
            out[f"{engine}_instructions"] = r.instructions
    return out


def measure(path: Path, board, samples: int, work: Path, target: Target | None = None, modelled=None) -> dict:
    """``board``: where the firmware runs (emulated); ``modelled``: the board the cycles and ms are
    estimated for (default ``board``)."""
    modelled = modelled or board
    graph = read_tflite(path)
    fw = build_firmware(path, board, work, target=target)
    with with_cycle_plugin(board, None, fw.elf, len(fw.generated.calls), modelled) as (run_board, cycle_file):
        with connect(run_board, None, fw.elf, log=lambda m: None) as dev:
            rep = profile(dev, path, board.name, emulated=board.emulated,
                          icount_shift=board.emulator.icount_shift if board.emulator else 0,
                          samples=samples, seed=0, flash=flash_facts(fw.sizes))
        est = cycles.read(cycle_file) if cycle_file is not None else None
    lat = rep.latency()
    ram = rep.ram()
    macs = totals(graph).macs
    est_total = est.total.cycles if est else None
    flash = board.flash_region
    return {
        "core": board.cpu, "kernels": "dsp" if (target or target_for_cpu(board.cpu)).dsp else "plain",
        "estimated_cycles": est_total, "cycles_per_mac": est_total / macs if est_total and macs else None,
        "estimated_ms": est_total / modelled.clock_hz * 1e3 if est_total else None, "clock_hz": modelled.clock_hz,
        "memory": est.memory if est else None, "emulated_on": board.name,
        **engines(path.stem, modelled),
        "kernel_functions": sorted({c.function for c in fw.generated.calls if c.function}),
        "code_breakdown": code_breakdown(work / "firmware.map", flash.origin + flash.size_bytes),
        "operator_cycles": [o.cycles for o in est.operators] if est else [],
        "model": path.stem, "exact": rep.passed, "samples": len(rep.samples),
        "unit": lat["unit"], "instructions": lat["median"], "macs": macs,
        "instructions_per_mac": lat["median"] / macs if macs else None,
        "flash_bytes": fw.sizes.flash_bytes, "flash_weights_bytes": fw.sizes.flash_weights_bytes,
        "arena_bytes": fw.generated.arena_bytes, "streamed_segments": len(fw.generated.segments),
        "flash_code_bytes": fw.sizes.flash_beyond_weights_bytes,
        "arena_bytes": ram["arena_bytes"], "static_ram_bytes": ram["static_ram_bytes"],
        "ram_weights_bytes": fw.sizes.ram_weights_bytes, "ram_code_bytes": fw.sizes.ram_code_bytes,
        "stack_peak_bytes": ram["stack_peak_bytes"],
        "operators": [{k: o[k] for k in ("index", "type", lat["unit"])} for o in rep.operators()],
    }


def _ratio(theirs, ours) -> str:
    return f"{theirs / ours:.2f}" if theirs and ours else "-"


def print_cycles(rows: list[dict], published: dict[str, dict], board: str) -> None:
    """MACs, instructions, estimated cycles, cycles per MAC, and the published NUCLEO-L4R5ZI
    cycles (ST X-CUBE-AI, TFLM + CMSIS-NN) with ratio = published / edgekit."""
    if not rows or rows[0].get("estimated_cycles") is None:
        return
    r0 = rows[0]
    print(f"\n{board} ({r0['core']}, {r0['kernels']} kernels, run on {r0['emulated_on']}): estimated cycles per "
          f"inference (edgekit cycle model, {r0['memory']}) and ms at {r0['clock_hz'] / 1e6:g} MHz; published: "
          f"MLPerf Tiny on the NUCLEO-L4R5ZI; ratio = published / edgekit")
    print(f"{'model':<24} {'MACs':>11} {'instructions':>13} {'est. cycles':>12} {'cyc/MAC':>8} "
          f"{'ST X-CUBE-AI':>13} {'ratio':>6} {'TFLM+CMSIS':>11} {'ratio':>6} {'code':>7}  exact")
    for r in rows:
        pub = published.get(r["model"], {})
        st, cm = pub.get("st"), pub.get("tflm_cmsis")
        cyc = r["estimated_cycles"]
        print(f"{r['model']:<24} {r['macs']:>11,} {r['instructions']:>13,.0f} {cyc:>12,.0f} "
              f"{r['cycles_per_mac']:>8.2f} {'-' if st is None else format(st, ',.0f'):>13} {_ratio(st, cyc):>6} "
              f"{'-' if cm is None else format(cm, ',.0f'):>11} {_ratio(cm, cyc):>6} {r['flash_code_bytes']:>7,}  "
              f"{'yes' if r['exact'] else 'NO'}")
    if any("tflm_cmsisnn_cycles" in r for r in rows):
        print(f"\nsame run, same cycle model: {'model':<24} {'edgekit':>12} {'ms':>8} {'TFLM+CMSIS-NN':>14} "
              f"{'ratio':>6} {'uTVM+CMSIS-NN':>14} {'ratio':>6}")
        for r in rows:
            tf, tv = r.get("tflm_cmsisnn_cycles"), r.get("utvm_cmsisnn_cycles")
            print(f"{'':<27}{r['model']:<24} {r['estimated_cycles']:>12,} {r['estimated_ms']:>8.2f} "
                  f"{'-' if tf is None else format(tf, ','):>14} {_ratio(tf, r['estimated_cycles']):>6} "
                  f"{'-' if tv is None else format(tv, ','):>14} {_ratio(tv, r['estimated_cycles']):>6}")
    if any("stream_cycles_ratio" in r for r in rows):
        print(f"\nstreamed segments, same run: {'model':<24} {'arena':>8} {'whole':>8} {'est. cycles':>12} "
              f"{'whole':>12} {'ratio':>6}")
        for r in rows:
            if "stream_cycles_ratio" in r:
                print(f"{'':<28}{r['model']:<24} {r['arena_bytes']:>8,} {r['whole_tensor_arena_bytes']:>8,} "
                      f"{r['estimated_cycles']:>12,} {r['whole_tensor_estimated_cycles']:>12,} "
                      f"{r['stream_cycles_ratio']:>6.3f}")
    print_control(rows, "unstaged", f"weights staged (the board's --stage-weights {STAGE_WEIGHTS_WAIT_STATES}: an "
                  "operator's weights copied into the arena before it runs) against none staged", "unstaged",
                  ("arena", "arena_bytes", 8), ("unstaged", "unstaged_arena_bytes", 9))
    print_control(rows, "flash_kernels", "kernels run from RAM (the board's code RAM, copied at reset) against from "
                  "flash (--no-ram-kernels)", "in flash", ("code", "ram_code_bytes", 7))
    if any("ram_weights_estimated_cycles" in r for r in rows):
        print(f"\nweights in RAM (--ram-weights), same run, reported apart from the flash build above: "
              f"{'model':<24} {'in RAM':>8} {'static RAM':>10} {'est. cycles':>12} {'in flash':>12} {'ratio':>6} "
              f"{'ST X-CUBE-AI':>13} {'ratio':>6}  exact")
        for r in rows:
            if "ram_weights_estimated_cycles" in r:
                st = published.get(r["model"], {}).get("st")
                cyc = r["ram_weights_estimated_cycles"]
                print(f"{'':<4}{r['model']:<24} {r['ram_weights_ram_bytes']:>8,} {r['ram_weights_static_ram_bytes']:>10,} "
                      f"{cyc:>12,} {r['estimated_cycles']:>12,} {cyc / r['estimated_cycles']:>6.3f} "
                      f"{'-' if st is None else format(st, ',.0f'):>13} {_ratio(st, cyc):>6}  "
                      f"{'yes' if r['ram_weights_exact'] else 'NO'}")
    print("code = flash beyond the weights: " + "; ".join(
        f"{r['model']}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["code_breakdown"].items(), key=lambda kv: -kv[1]))
        for r in rows))


def print_control(rows: list[dict], control: str, title: str, label: str, *columns: tuple[str, str, int]) -> None:
    """The rows that carry ``control``'s build (the same model without one of the board's defaults,
    measured in the same run: ``<control>_estimated_cycles``, ``<control>_exact``): ``columns``
    (header, key, width), cycles against the control's (headed ``label``) and their ratio."""
    if not any(f"{control}_estimated_cycles" in r for r in rows):
        return
    head = " ".join(f"{h:>{w}}" for h, _, w in columns)
    print(f"\n{title}, same run: {'model':<24} {head} {'est. cycles':>12} {label:>12} {'ratio':>6}  exact")
    for r in rows:
        if f"{control}_estimated_cycles" in r:
            other = r[f"{control}_estimated_cycles"]
            cells = " ".join(f"{r[k]:>{w},}" for _, k, w in columns)
            print(f"{'':<4}{r['model']:<24} {cells} {r['estimated_cycles']:>12,} {other:>12,} "
                  f"{r['estimated_cycles'] / other:>6.3f}  {'yes' if r[f'{control}_exact'] else 'NO'}")


def print_tables(rows: list[dict], anchors: dict[str, dict], board: str) -> None:
    unit = rows[0]["unit"] if rows else "instructions"
    print(f"\n{board}: {unit} per inference (median), TFLM from ANCHORS.md; ratio = TFLM / edgekit")
    print(f"{'model':<24} {'MACs':>11} {'edgekit':>12} {'per MAC':>8} {'TFLM+CMSIS-NN':>14} {'ratio':>6} "
          f"{'TFLM ref':>12} {'ratio':>6}  exact")
    for r in rows:
        a = anchors.get(r["model"], {})
        ipm = f"{r['instructions_per_mac']:.2f}" if r["instructions_per_mac"] else "-"
        cm, ref = a.get("cmsis_instructions"), a.get("ref_instructions")
        print(f"{r['model']:<24} {r['macs']:>11,} {r['instructions']:>12,.0f} {ipm:>8} "
              f"{'-' if cm is None else format(cm, ','):>14} {_ratio(cm, r['instructions']):>6} "
              f"{'-' if ref is None else format(ref, ','):>12} {_ratio(ref, r['instructions']):>6}  "
              f"{'yes' if r['exact'] else 'NO'} ({r['samples']} inputs)")

    print(f"\nmemory, bytes (TFLM: CMSIS-NN build); ratio = TFLM / edgekit")
    print(f"{'model':<24} {'weights':>9} {'code':>8} {'TFLM code':>10} {'ratio':>6} {'arena':>8} "
          f"{'TFLM arena':>11} {'ratio':>6} {'static':>8} {'stack':>6} {'TFLM stack':>11}")
    for r in rows:
        a = anchors.get(r["model"], {})
        tc, ta, ts = a.get("flash_code_bytes"), a.get("arena_bytes"), a.get("stack_peak_bytes")

        def f(v):
            return "-" if v is None else f"{v:,}"

        print(f"{r['model']:<24} {r['flash_weights_bytes']:>9,} {r['flash_code_bytes']:>8,} {f(tc):>10} "
              f"{_ratio(tc, r['flash_code_bytes']):>6} {r['arena_bytes']:>8,} {f(ta):>11} "
              f"{_ratio(ta, r['arena_bytes']):>6} {r['static_ram_bytes']:>8,} {r['stack_peak_bytes']:>6,} "
              f"{f(ts):>11}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--board", default="qemu-mps2-an386")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--kernels", choices=["dsp", "plain"], default=None,
                    help="kernel path: the DSP ones where the core has the extension (default), or plain C")
    ap.add_argument("--all", action="store_true",
                    help="Cortex-M4 (DSP kernels), Cortex-M7 (qemu-mps2-an500) and Cortex-M4 with plain C kernels")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON instead")
    ap.add_argument("--no-stream", action="store_true", help="whole tensors only (no streamed segments)")
    ap.add_argument("--ram-weights", type=ram_bytes, default=None, metavar="BYTES",
                    help="also build each model with this many bytes of weights in RAM (all: every array), "
                         "reported separately")
    args = ap.parse_args()
    configs = ([("qemu-mps2-an386", None), ("qemu-mps2-an500", None), ("qemu-mps2-an386", "plain")] if args.all
               else [(args.board, args.kernels)])
    paths = [Path(m) for m in args.models] or [MODELS / f"{m}.tflite" for m in DEFAULT]
    published = read_published()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="edgekit-target-") as tmp:
            for k, (board_name, kernels) in enumerate(configs):
                board = load_board(board_name)
                run_on = emulated_twin(board)  # a real board's kernels run on the emulated core
                target = (board.target(stream=not args.no_stream) if kernels is None
                          else Target(board.cpu, dsp=kernels == "dsp", stream=not args.no_stream))
                rows = []
                for path in paths:
                    print(f"{board.name} {kernels or 'default'} kernels: {path.stem} ...", file=sys.stderr, flush=True)
                    row = measure(path, run_on, args.samples, Path(tmp) / f"{k}-{path.stem}", target, board)
                    if row["streamed_segments"]:  # the whole-tensor build, in the same run: what streaming costs
                        whole = measure(path, run_on, 1, Path(tmp) / f"{k}-{path.stem}-whole",
                                        dataclasses.replace(target, stream=False), board)
                        row.update(whole_tensor_arena_bytes=whole["arena_bytes"], whole_tensor_exact=whole["exact"],
                                   whole_tensor_estimated_cycles=whole["estimated_cycles"],
                                   stream_cycles_ratio=row["estimated_cycles"] / whole["estimated_cycles"])
                    if target.stage_weights:  # the board stages weights: the build without, in the same run
                        flash = measure(path, run_on, 1, Path(tmp) / f"{k}-{path.stem}-flash",
                                        dataclasses.replace(target, stage_weights=0), board)
                        row.update(unstaged_estimated_cycles=flash["estimated_cycles"],
                                   unstaged_arena_bytes=flash["arena_bytes"], unstaged_exact=flash["exact"])
                    if target.ram_kernels:  # the board runs the kernels from RAM: the build without, same run
                        in_flash = measure(path, run_on, 1, Path(tmp) / f"{k}-{path.stem}-flash-code",
                                           dataclasses.replace(target, ram_kernels=False), board)
                        row.update(flash_kernels_estimated_cycles=in_flash["estimated_cycles"],
                                   flash_kernels_exact=in_flash["exact"])
                    if args.ram_weights is not None:  # the same build with weights in RAM, in the same run
                        in_ram = measure(path, run_on, 1, Path(tmp) / f"{k}-{path.stem}-ram",
                                         dataclasses.replace(target, ram_weights=args.ram_weights), board)
                        row.update(ram_weights_estimated_cycles=in_ram["estimated_cycles"],
                                   ram_weights_ram_bytes=in_ram["ram_weights_bytes"],
                                   ram_weights_static_ram_bytes=in_ram["static_ram_bytes"],
                                   ram_weights_exact=in_ram["exact"])
                    rows.append(row)
                results.append((board, rows))
    finally:
        reference.shutdown()
    if args.json:
        print(json.dumps([{"board": b.name, "models": rows, "published": published,
                           "tflm": read_anchors() if b.name == "qemu-mps2-an386" else {}} for b, rows in results],
                         indent=2))
    else:
        for board, rows in results:
            print_cycles(rows, published, board.name)
            print_tables(rows, read_anchors() if board.name == "qemu-mps2-an386" else {}, board.name)
    return 0 if all(r["exact"] and r.get("ram_weights_exact", True) and r.get("unstaged_exact", True)
                    and r.get("flash_kernels_exact", True)
                    for _, rows in results for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

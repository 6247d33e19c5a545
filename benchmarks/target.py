"""On the target: edgekit's firmware on the emulated Cortex-M4 (QEMU mps2-an386, -icount shift=0)
against TFLM's numbers on the same emulated board (/work/shared/ANCHORS.md, first table).

Per model: build the firmware, start QEMU, run seeded random inputs through the serial harness
(outputs checked against tflite-micro bit for bit), and report instructions per inference
(TIMER0 ticks x 40), MACs (edgekit.analysis), instructions per MAC, flash (weights, and code =
flash beyond the weights) and RAM (arena, static .data + .bss, stack peak). Ratios are
TFLM / edgekit: above 1, edgekit needs fewer instructions or bytes.

TFLM's "code beyond model" is its flash minus the .tflite file; edgekit's "code" is its flash
minus the weight arrays. Under -icount every run of the same input is identical, so a few
inputs suffice; the median is reported.

    python benchmarks/target.py [--board qemu-mps2-an386] [--samples 3] [--json] [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit import reference  # noqa: E402
from edgekit.analysis import totals  # noqa: E402
from edgekit.boards import load_board  # noqa: E402
from edgekit.build import build_firmware  # noqa: E402
from edgekit.deploy import connect, flash_facts  # noqa: E402
from edgekit.harness.profile import profile  # noqa: E402
from edgekit.ir import read_tflite  # noqa: E402

SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
ANCHORS = SHARED / "ANCHORS.md"
DEFAULT = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


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


def measure(path: Path, board, samples: int, work: Path) -> dict:
    graph = read_tflite(path)
    fw = build_firmware(path, board, work)
    with connect(board, None, fw.elf, log=lambda m: None) as dev:
        rep = profile(dev, path, board.name, emulated=board.emulated,
                      icount_shift=board.emulator.icount_shift if board.emulator else 0,
                      samples=samples, seed=0, flash=flash_facts(fw.sizes))
    lat = rep.latency()
    ram = rep.ram()
    macs = totals(graph).macs
    return {
        "model": path.stem, "exact": rep.passed, "samples": len(rep.samples),
        "unit": lat["unit"], "instructions": lat["median"], "macs": macs,
        "instructions_per_mac": lat["median"] / macs if macs else None,
        "flash_bytes": fw.sizes.flash_bytes, "flash_weights_bytes": fw.sizes.flash_weights_bytes,
        "flash_code_bytes": fw.sizes.flash_beyond_weights_bytes,
        "arena_bytes": ram["arena_bytes"], "static_ram_bytes": ram["static_ram_bytes"],
        "stack_peak_bytes": ram["stack_peak_bytes"],
        "operators": [{k: o[k] for k in ("index", "type", lat["unit"])} for o in rep.operators()],
    }


def _ratio(theirs, ours) -> str:
    return f"{theirs / ours:.2f}" if theirs and ours else "-"


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
              f"{cm if cm is None else format(cm, ','):>14} {_ratio(cm, r['instructions']):>6} "
              f"{ref if ref is None else format(ref, ','):>12} {_ratio(ref, r['instructions']):>6}  "
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
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON instead")
    args = ap.parse_args()
    board = load_board(args.board)
    if not board.emulated:
        ap.error(f"{board.name} is a real board; this benchmark starts QEMU")
    paths = [Path(m) for m in args.models] or [MODELS / f"{m}.tflite" for m in DEFAULT]
    anchors = read_anchors() if board.name == "qemu-mps2-an386" else {}
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="edgekit-target-") as tmp:
            for path in paths:
                print(f"{path.stem} ...", file=sys.stderr, flush=True)
                rows.append(measure(path, board, args.samples, Path(tmp) / path.stem))
    finally:
        reference.shutdown()
    if args.json:
        print(json.dumps({"board": board.name, "models": rows, "tflm": anchors}, indent=2))
    else:
        print_tables(rows, anchors, board.name)
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

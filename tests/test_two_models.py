"""Two models in one program: generated separately with different prefixes, compiled and linked
with one copy of the ek/ runtime (the first model's), on the host (gcc) and on the emulated
Cortex-M4 (DSP kernels, QEMU); both give tflite-micro's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.codegen import generate
from edgekit.codegen.core import HOST, target_for_cpu
from edgekit.files import FIRMWARE
from edgekit.frontend import reference
from edgekit.harness.transport import TransportTimeout, open_transport
from edgekit.ir import read_tflite
from edgekit.target import emulator
from edgekit.target.boards import load_board
from edgekit.target.build import COMMON_SUPPORT, compile_flags, render_linker_script
from edgekit.target.toolchain import compile_host, find_tool, run

MODELS = {"ad": "ad01_int8.tflite", "kws": "kws_ref_model.tflite"}
BOARD = "qemu-mps2-an386"


def _inputs(graph, seed: int) -> np.ndarray:
    t = graph.tensors[graph.inputs[0]]
    return np.random.default_rng(seed).integers(-128, 128, t.shape, dtype=np.int8)


def _generate_apart(mlperf_models: Path, tmp: Path, target):
    """Each model into its own folder; returns {prefix: (output bytes, folder, input)}."""
    out = {}
    for k, (prefix, name) in enumerate(MODELS.items()):
        graph = read_tflite(mlperf_models / name)
        gen = generate(graph, tmp / prefix, prefix=prefix, source=name, target=target)
        assert len(gen.inputs) == len(gen.outputs) == 1
        out[prefix] = (gen.outputs[0].tensor.nbytes, tmp / prefix, _inputs(graph, k))
    return out


def _main_c(models: dict, path: Path, board: bool) -> Path:
    """A program that runs both models on fixed inputs and prints each output byte in hex."""
    lines = ["#include <stdint.h>"]
    lines += ['#include "ek_board.h"'] if board else ["#include <stdio.h>"]
    for prefix, (out_bytes, _d, x) in models.items():
        lines.append(f'#include "{prefix}.h"')
        vals = ", ".join(str(int(v)) for v in x.reshape(-1))
        lines.append(f"static const int8_t {prefix}_in[{x.size}] = {{{vals}}};")
        lines.append(f"static int8_t {prefix}_out[{out_bytes}];")
    lines += ["static void put(const char *s, uint32_t n)", "{"]
    lines += ["    ek_uart_write((const uint8_t *)s, n);"] if board else ["    fwrite(s, 1, n, stdout);"]
    lines += ["}", "static void hex(const int8_t *p, uint32_t n)", "{",
              '    static const char digits[] = "0123456789abcdef";',
              "    for (uint32_t i = 0; i < n; i++) {",
              "        const char b[2] = {digits[((uint8_t)p[i]) >> 4], digits[((uint8_t)p[i]) & 15]};",
              "        put(b, 2);", "    }", '    put("\\n", 1);', "}", "int main(void)", "{"]
    if board:  # QEMU drops what is printed before the test connects: wait for its first byte
        lines += ["    ek_board_init();", "    uint8_t go;", "    while (!ek_uart_read_byte(&go)) {", "    }"]
    for prefix in models:
        lines.append(f"    if ({prefix}_invoke({prefix}_in, {prefix}_out) != 0) return 1;")
        lines.append(f"    hex({prefix}_out, sizeof {prefix}_out);")
    lines += ['    put("END\\n", 4);', "    return 0;", "}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sources(models: dict) -> list[Path]:
    shared_ek = next(iter(models.values()))[1] / "ek"  # the first model's runtime serves both
    srcs = [d / f"{p}{s}.c" for p, (_g, d, _x) in models.items() for s in ("", "_weights")]
    return srcs + sorted(shared_ek.glob("*.c")), shared_ek


def _expected_from(mlperf_models: Path, models: dict) -> list[str]:
    lines = []
    for prefix, (_g, _d, x) in models.items():
        y = reference.run_tflm((mlperf_models / MODELS[prefix]).read_bytes(), [[x]])
        lines.append(bytes(np.asarray(y[0][0]).astype(np.int8).view(np.uint8).reshape(-1)).hex())
    return lines


def test_two_models_one_runtime_on_the_host(mlperf_models, tmp_path):
    models = _generate_apart(mlperf_models, tmp_path, HOST)
    srcs, ek = _sources(models)
    main = _main_c(models, tmp_path / "main.c", board=False)
    include = [ek, *(d for _g, d, _x in models.values())]
    exe = compile_host([main, *srcs], include, tmp_path / "two")
    got = run([str(exe)], "two models").stdout.split()
    assert got[:-1] == _expected_from(mlperf_models, models) and got[-1] == "END"


def test_two_models_one_runtime_on_the_emulated_board(mlperf_models, tmp_path):
    board = load_board(BOARD)
    models = _generate_apart(mlperf_models, tmp_path, target_for_cpu(board.cpu))
    for _g, d, _x in models.values():  # so that one ek/ can serve both, their switches must agree
        assert (d / "ek" / "ek_config.h").read_text() == (tmp_path / "ad" / "ek" / "ek_config.h").read_text()
    srcs, ek = _sources(models)
    main = _main_c(models, tmp_path / "main.c", board=True)
    support = [COMMON_SUPPORT / "startup_cortexm.c", *sorted(board.support_dir.glob("*.c"))]  # no harness
    include = [ek, FIRMWARE / "board", COMMON_SUPPORT, board.support_dir, *(d for _g, d, _x in models.values())]
    cc = find_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi")
    script = render_linker_script(board, tmp_path / "link.ld")
    elf = tmp_path / "two.elf"
    run([cc, *compile_flags(board), *[f"-I{d}" for d in include], "-nostartfiles", "-Wl,--gc-sections",
         "-T", str(script), str(main), *map(str, srcs), *map(str, support), "-o", str(elf),
         "-Wl,--start-group", "-lc", "-lgcc", "-Wl,--end-group"], "arm-none-eabi-gcc (two models)")
    text = b""
    with emulator.start(board, elf, serial="tcp") as emu:
        port = open_transport(emu.port_url, open_timeout_s=10)
        try:
            port.write(b"g", 5)
            while b"END\n" not in text:
                try:
                    text += port.read(4096, 60)
                except TransportTimeout:
                    pytest.fail(f"the firmware printed {text!r} and then nothing")
        finally:
            port.close()
    got = text.decode().split()
    assert got[:-1] == _expected_from(mlperf_models, models) and got[-1] == "END"


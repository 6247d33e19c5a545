"""Firmware builds: every board builds ad01 (and the other MLPerf Tiny models), sizes add up, a firmware
that does not fit fails with one line naming the limit, and the emulated board answers HELLO
and runs the model like the host build does (raw pyserial, no edgekit.harness)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import struct
import subprocess
import zlib

import numpy as np
import pytest
import yaml

from edgekit.files import BOARDS
from edgekit.target.boards import board_names, load_board
from edgekit.target.build import FirmwareTooLarge, build_firmware, crc32_mpeg2, read_build_info
from edgekit.cli import main
from conftest import REAL_MODELS

REAL_BOARDS = ["nucleo-l4r5zi", "stm32f746g-disco", "nrf52840-dk", "rpi-pico"]


@pytest.fixture(scope="session")
def firmware(tmp_path_factory, mlperf_models):
    """``firmware(model_name, board_name)``: built once per session."""
    built = {}

    def get(model: str, board: str):
        if (model, board) not in built:
            out = tmp_path_factory.mktemp(f"fw-{model}-{board}")
            built[model, board] = build_firmware(mlperf_models / f"{model}.tflite", board, out)
        return built[model, board]

    return get


def _tool(name: str, *args: str) -> str:
    return subprocess.run([f"arm-none-eabi-{name}", *args], capture_output=True, text=True, check=True).stdout


def _symbols(elf) -> dict[str, int]:
    out = {}
    for line in _tool("nm", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


# ---------------------------------------------------------------------------- builds


@pytest.mark.parametrize("board_name", board_names())
def test_ad01_builds_on_every_board(firmware, board_name):
    fw = firmware("ad01_int8", board_name)
    board, s = fw.board, fw.sizes
    for f in (fw.elf, fw.bin, fw.hex, fw.out_dir / "link.ld", fw.out_dir / "firmware.map"):
        assert f.is_file(), f
    # sizes add up and fit
    assert s.flash_weights_bytes == fw.generated.weight_bytes
    assert s.flash_bytes == s.flash_weights_bytes + s.flash_code_bytes + s.flash_data_bytes <= board.flash_bytes
    assert s.flash_bytes <= fw.bin.stat().st_size <= s.flash_bytes + 1024  # the image is what we counted
    assert 0 < s.flash_code_bytes < 64 * 1024
    assert s.ram_arena_bytes == json.loads((fw.out_dir / "model" / "metadata.json").read_text())["arena_bytes"]
    assert s.ram_stack_bytes == board.stack_bytes
    assert s.ram_bytes == s.ram_arena_bytes + s.ram_other_static_bytes + s.ram_code_bytes + s.ram_stack_bytes
    assert s.ram_region_bytes <= board.ram_bytes
    # the kernels run from the code RAM of a board whose flash has wait states, else from flash
    syms = _symbols(fw.elf)
    code = syms["__ramcode_end__"] - syms["__ramcode_start__"]
    assert code == s.ram_code_bytes
    if board.target().ram_kernels:
        assert 0 < code <= board.code_ram_region.size_bytes
        assert board.code_ram_region.contains(syms["ek_fully_connected_dsp_s8"])
        assert board.flash_region.contains(syms["__ramcode_load__"])
        assert s.ram_region_bytes == s.ram_bytes - code
    else:
        assert code == 0 and board.flash_region.contains(syms["Reset_Handler"])
    # the ELF starts where the board's flash starts, with a vector table the core can boot from
    vectors = board.flash_region.origin + (board.boot_stage.size_bytes if board.boot_stage else 0)
    assert syms["ek_vector_table"] == vectors
    image = fw.bin.read_bytes()
    sp, reset = struct.unpack_from("<II", image, vectors - board.flash_region.origin)
    assert sp == syms["__stack_top__"] and board.ram_region.contains(sp - 4)
    assert reset == syms["Reset_Handler"] | 1
    assert syms["__stack_top__"] - syms["__stack_limit__"] == board.stack_bytes
    # compiled for this board's core and float ABI
    attrs = _tool("readelf", "-A", str(fw.elf))
    assert ("Tag_ABI_VFP_args: VFP registers" in attrs) == (board.float_abi == "hard")
    # build.json: what edgekit flash and the profiler read
    info = read_build_info(fw.out_dir)
    assert info["board"] == board_name and info["model"] == "ad01_int8" and info["elf"] == "firmware.elf"
    assert info["sizes"]["ram_bytes"] == s.ram_bytes and info["sizes"]["flash_bytes"] == s.flash_bytes
    assert info["emulated"] == board.emulated


def test_rp2040_image_has_a_valid_boot_stage_and_uf2(firmware):
    fw = firmware("ad01_int8", "rpi-pico")
    image = fw.bin.read_bytes()
    boot2 = image[:256]
    assert struct.unpack("<I", boot2[252:])[0] == crc32_mpeg2(boot2[:252])
    assert boot2[:2] == b"\x00\xb5"  # push {lr}: the boot ROM enters with lr = 0
    uf2 = fw.uf2.read_bytes()
    assert len(uf2) % 512 == 0 and len(uf2) // 512 == (len(image) + 255) // 256
    for n in range(len(uf2) // 512):
        block = uf2[512 * n:512 * (n + 1)]
        magic0, magic1, flags, addr, size, index, count, family = struct.unpack_from("<8I", block)
        assert (magic0, magic1, struct.unpack_from("<I", block, 508)[0]) == (0x0A324655, 0x9E5D5157, 0x0AB16F30)
        assert flags & 0x2000 and family == fw.board.uf2_family_id
        assert (addr, size, index, count) == (0x10000000 + 256 * n, 256, n, len(uf2) // 512)
        assert block[32:32 + 256] == image[256 * n:256 * (n + 1)].ljust(256, b"\0")


@pytest.mark.parametrize("model", REAL_MODELS)
def test_mlperf_models_build_on_the_default_board(firmware, model):
    fw = firmware(model, "qemu-mps2-an386")
    assert fw.sizes.flash_weights_bytes > 0 and fw.sizes.ram_bytes <= fw.board.ram_bytes
    assert fw.sizes.ram_arena_bytes == fw.generated.arena_bytes


@pytest.mark.slow
@pytest.mark.parametrize("board_name", REAL_BOARDS)
@pytest.mark.parametrize("model", [m for m in REAL_MODELS if m != "ad01_int8"])
def test_mlperf_models_build_on_real_boards(firmware, model, board_name):
    fw = firmware(model, board_name)
    s = fw.sizes
    assert s.flash_bytes <= fw.board.flash_bytes and s.ram_bytes <= fw.board.ram_bytes
    # the build accounts for exactly the constants the generator wrote (their layout depends on
    # the core's kernels: DSP cores get reordered weights); the arena is the planner's
    assert s.flash_weights_bytes == fw.generated.weight_bytes
    assert s.ram_arena_bytes == fw.generated.arena_bytes


# ---------------------------------------------------------------------------- does not fit


def test_ram_limit_failure_names_the_limit_and_the_excess(firmware, mlperf_models, tmp_path):
    need = firmware("ad01_int8", "nrf52840-dk").sizes.ram_bytes
    limit = need - 1234
    with pytest.raises(FirmwareTooLarge) as e:
        build_firmware(mlperf_models / "ad01_int8.tflite", "nrf52840-dk", tmp_path, ram_limit=limit)
    assert str(e.value) == (f"ad01_int8 does not fit nrf52840-dk: RAM needs {need:,} bytes, "
                            f"limit is {limit:,} (over by 1,234)")


def test_board_too_small_fails_with_both_limits(firmware, mlperf_models, tmp_path):
    """A part with 128 KiB flash and 5 KiB RAM: the link overflows; the message still says by how
    much, with the sizes the same code has on the full-size part."""
    data = yaml.safe_load((BOARDS / "nrf52840-dk.yaml").read_text())
    data = copy.deepcopy(data)
    data["name"] = "tiny-m4"
    data["memory"][0]["size_bytes"] = 128 * 1024
    data["memory"][1]["size_bytes"] = 5 * 1024
    data["stack_bytes"] = 4096
    path = tmp_path / "tiny-m4.yaml"
    path.write_text(yaml.safe_dump(data))
    full = firmware("ad01_int8", "nrf52840-dk").sizes
    with pytest.raises(FirmwareTooLarge) as e:
        build_firmware(mlperf_models / "ad01_int8.tflite", load_board(path), tmp_path / "out")
    m = re.fullmatch(r"ad01_int8 does not fit tiny-m4: RAM needs ([\d,]+) bytes, board has 5,120 "
                     r"\(over by ([\d,]+)\); flash needs ([\d,]+) bytes, board has 131,072 \(over by ([\d,]+)\)",
                     str(e.value))
    assert m, str(e.value)
    ram_need, ram_over, flash_need, flash_over = (int(g.replace(",", "")) for g in m.groups())
    assert (ram_need - 5120, flash_need - 131072) == (ram_over, flash_over)
    # the same code as on the full-size part; only the board name string differs
    assert ram_need == full.ram_bytes - full.ram_stack_bytes + 4096
    assert abs(flash_need - full.flash_bytes) <= 16
    assert not (tmp_path / "out" / "firmware.elf").exists()


def test_cli_build_too_large_is_one_line_and_exit_2(mlperf_models, tmp_path, capsys):
    code = main(["build", str(mlperf_models / "ad01_int8.tflite"), "--board", "rpi-pico",
                 "-o", str(tmp_path), "--ram-limit", "4096"])
    err = capsys.readouterr().err
    assert code == 2
    assert re.fullmatch(r"edgekit: error: ad01_int8 does not fit rpi-pico: RAM needs [\d,]+ bytes, "
                        r"limit is 4,096 \(over by [\d,]+\)\n", err)


def test_cli_build_prints_the_sizes(mlperf_models, tmp_path, capsys):
    assert main(["build", str(mlperf_models / "ad01_int8.tflite"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ad01_int8 on qemu-mps2-an386" in out
    assert re.search(r"flash [\d,]+ of [\d,]+ bytes: weights [\d,]+, code [\d,]+, data [\d,]+", out)
    assert re.search(r"RAM +[\d,]+ of [\d,]+ bytes: arena [\d,]+, other static [\d,]+, stack [\d,]+", out)


def test_flash_without_a_tool_says_what_to_install(firmware, capsys):
    fw = firmware("ad01_int8", "nucleo-l4r5zi")
    code = main(["flash", str(fw.out_dir), "--board", "nucleo-l4r5zi"])
    err = capsys.readouterr().err.strip()
    if code == 0:
        pytest.skip("a flashing tool is installed and a board answered")
    assert code == 2 and "\n" not in err
    assert "openocd" in err


def test_flash_refuses_a_build_for_another_board(firmware, capsys):
    fw = firmware("ad01_int8", "rpi-pico")
    assert main(["flash", str(fw.out_dir), "--board", "nrf52840-dk"]) == 2
    assert "was built for rpi-pico, not nrf52840-dk" in capsys.readouterr().err


# ---------------------------------------------------------------------------- on the emulator


def _frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    body = struct.pack("<BBH", msg_type, seq, len(payload)) + payload
    return b"\xa5\x5a" + body + struct.pack("<I", zlib.crc32(body))


def _read_frame(port) -> tuple[int, int, bytes]:
    head = port.read(6)
    assert len(head) == 6 and head[:2] == b"\xa5\x5a", f"no frame: {head!r}"
    msg_type, seq, n = struct.unpack("<BBH", head[2:])
    rest = port.read(n + 4)
    assert len(rest) == n + 4, "truncated frame"
    assert struct.unpack("<I", rest[n:])[0] == zlib.crc32(head[2:] + rest[:n]), "bad CRC from the device"
    return msg_type, seq, rest[:n]


def _parse_hello(p: bytes) -> dict:
    version, reserved = p[0], p[1]
    sha = p[2:34].hex()
    clock, timer, arena, static_ram, stack = struct.unpack_from("<5I", p, 34)
    num_ops, n_in, n_out = struct.unpack_from("<HBB", p, 54)
    pos, tensors = 58, []
    for _ in range(n_in + n_out):
        dtype, rank = p[pos], p[pos + 1]
        dims = list(struct.unpack_from(f"<{rank}I", p, pos + 2))
        nbytes = struct.unpack_from("<I", p, pos + 2 + 4 * rank)[0]
        tensors.append((dtype, dims, nbytes))
        pos += 2 + 4 * rank + 4
    name = p[pos + 1:pos + 1 + p[pos]].decode()
    assert pos + 1 + p[pos] == len(p)
    return dict(version=version, reserved=reserved, sha256=sha, clock_hz=clock, timer_hz=timer,
                arena=arena, static_ram=static_ram, stack=stack, num_ops=num_ops,
                inputs=tensors[:n_in], outputs=tensors[n_in:], board=name)


@pytest.mark.parametrize("board_name, serial_kind", [("qemu-mps2-an386", "pty"), ("qemu-mps2-an500", "tcp")])
def test_emulated_board_answers_hello(firmware, mlperf_models, board_name, serial_kind):
    import serial

    from edgekit.target import emulator

    fw = firmware("ad01_int8", board_name)
    meta = json.loads((fw.out_dir / "model" / "metadata.json").read_text())
    with emulator.start(fw.board, fw.elf, serial=serial_kind, startup_timeout_s=10) as emu:
        port = serial.serial_for_url(emu.port_url, timeout=5)
        try:
            port.write(_frame(0x01, 0x42))
            msg_type, seq, payload = _read_frame(port)
        finally:
            port.close()
    assert (msg_type, seq) == (0x81, 0x42)
    h = _parse_hello(payload)
    board = fw.board
    assert h["version"] == 1 and h["reserved"] == 0
    assert h["sha256"] == hashlib.sha256((mlperf_models / "ad01_int8.tflite").read_bytes()).hexdigest()
    assert (h["clock_hz"], h["timer_hz"], h["stack"]) == (board.clock_hz, board.timer_hz, board.stack_bytes)
    assert h["arena"] == meta["arena_bytes"] and h["num_ops"] == len(meta["ops"])
    assert h["static_ram"] == fw.sizes.static_ram_bytes  # linker symbols agree with objdump
    assert h["board"] == board_name
    for got, io in zip(h["inputs"] + h["outputs"], meta["inputs"] + meta["outputs"]):
        assert got == (9, io["shape"], io["bytes"])


def test_emulated_board_runs_the_model_like_the_host_build(firmware, runtime_lib, tmp_path):
    """INPUT_CHUNK, INVOKE, READ_OUTPUT, READ_PROFILE on QEMU; outputs equal to the same
    generated C compiled for the host."""
    import serial

    from edgekit.target import emulator
    from edgekit.target.host import build_host_runner, run_host

    fw = firmware("ad01_int8", "qemu-mps2-an386")
    gen = fw.generated
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, size=gen.inputs[0].shape, dtype=np.int64).astype(np.int8)
    want = run_host(build_host_runner(gen, tmp_path, sanitize=True, runtime_lib=runtime_lib),
                    gen.inputs, gen.outputs, [[x]])[0][0]
    raw = x.tobytes()
    out_bytes = gen.outputs[0].nbytes
    with emulator.start(fw.board, fw.elf) as emu:
        port = serial.serial_for_url(emu.port_url, timeout=10)
        try:
            port.write(_frame(0x04, 1, struct.pack("<IH", 0, 16)))
            t, _, p = _read_frame(port)
            assert t == 0xEE and p[0] == 5 and p[1] == 0x04  # not ready before INVOKE
            for seq, off in enumerate(range(0, len(raw), 1020), start=2):
                port.write(_frame(0x02, seq, struct.pack("<I", off) + raw[off:off + 1020]))
                assert _read_frame(port) == (0x82, seq, struct.pack("<BI", 0x02, min(off + 1020, len(raw))))
            port.write(_frame(0x03, 100))
            t, seq, p = _read_frame(port)
            assert (t, seq, len(p)) == (0x84, 100, 16)
            status, ticks, stack_peak, overhead = struct.unpack("<4I", p)
            got = b""
            while len(got) < out_bytes:
                n = min(1016, out_bytes - len(got))
                port.write(_frame(0x04, 101, struct.pack("<IH", len(got), n)))
                t, _, p = _read_frame(port)
                assert t == 0x83 and struct.unpack_from("<I", p)[0] == len(got)
                got += p[4:]
            n_ops = len(gen.calls)
            port.write(_frame(0x05, 102, struct.pack("<HH", 0, n_ops)))
            t, _, p = _read_frame(port)
            assert t == 0x85 and struct.unpack_from("<HH", p) == (0, n_ops)
            op_ticks = struct.unpack_from(f"<{n_ops}I", p, 4)
            port.write(_frame(0x05, 103, struct.pack("<HH", 1, n_ops)))
            t, _, p = _read_frame(port)
            assert t == 0xEE and p[0] == 4  # past the last operator
        finally:
            port.close()
    np.testing.assert_array_equal(np.frombuffer(got, dtype=np.int8).reshape(want.shape), want)
    assert status == 0 and ticks > 0 and overhead < 10
    assert 0 < stack_peak < fw.board.stack_bytes
    assert all(t > 0 for t in op_ticks) and sum(op_ticks) <= ticks


def test_emulator_errors_are_one_line(firmware, tmp_path):
    from edgekit.target import emulator

    bad = tmp_path / "not-an-elf.elf"
    bad.write_text("hello")
    with pytest.raises(emulator.EmulatorError, match="not an ELF file"):
        emulator.start("qemu-mps2-an386", bad)
    # an ELF whose vector table is all zeros: the core locks up at reset and QEMU exits
    fw_elf = firmware("ad01_int8", "qemu-mps2-an386").elf
    line = next(ln for ln in _tool("objdump", "-h", "-w", str(fw_elf)).splitlines() if " .vectors " in ln)
    size, offset = int(line.split()[2], 16), int(line.split()[5], 16)
    elf = bytearray(fw_elf.read_bytes())
    elf[offset:offset + size] = bytes(size)
    crash = tmp_path / "crash.elf"
    crash.write_bytes(bytes(elf))
    with pytest.raises(emulator.EmulatorError) as e:
        emulator.start("qemu-mps2-an386", crash, startup_timeout_s=10)
    assert "exited with" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(emulator.EmulatorError, match="real board"):
        emulator.start("nrf52840-dk", firmware("ad01_int8", "nrf52840-dk").elf)
    with pytest.raises(emulator.EmulatorError, match="no such firmware"):
        emulator.start("qemu-mps2-an386", tmp_path / "missing.elf")


def test_emulator_stop_ends_qemu(firmware):
    from edgekit.target import emulator

    emu = emulator.start("qemu-mps2-an386", firmware("ad01_int8", "qemu-mps2-an386").elf)
    assert emu.running and emu.port_url.startswith("/dev/") and emu.icount_shift == 0
    assert "-icount" in emu.command and "shift=0" in emu.command and "-nographic" in emu.command
    emu.stop()
    assert not emu.running
    emu.stop()  # twice is harmless


def test_a_ram_limit_under_the_default_build_plans_a_smaller_arena(mlperf_models, tmp_path):
    """kws on the default board needs 25.6 KB of RAM with its default plan; under --ram-limit 25,500 the
    build plans its arena under what is left (streaming more, codegen.fit_arena), fits, and says so.
    Under 20,000 even the smallest plan does not fit: one line that says how small the arena would
    have to be and the least edgekit plans."""
    model = mlperf_models / "kws_ref_model.tflite"
    default = build_firmware(model, "qemu-mps2-an386", tmp_path / "default")
    assert default.sizes.ram_bytes > 25_500 and default.generated.limit_note is None
    fw = build_firmware(model, "qemu-mps2-an386", tmp_path / "limited", ram_limit=25_500)
    assert fw.sizes.ram_bytes <= 25_500 < default.sizes.ram_bytes
    assert fw.sizes.ram_arena_bytes < default.sizes.ram_arena_bytes and fw.generated.segments
    assert "arena limit" in fw.generated.limit_note and fw.generated.limit_note in fw.summary()
    with pytest.raises(FirmwareTooLarge) as e:
        build_firmware(model, "qemu-mps2-an386", tmp_path / "tiny", ram_limit=20_000)
    msg = str(e.value)
    assert "\n" not in msg and "limit is 20,000" in msg
    assert f"the smallest edgekit plans is {fw.sizes.ram_arena_bytes:,} bytes" in msg


def test_a_board_whose_ram_the_default_plan_overflows_gets_a_smaller_arena(mlperf_models, tmp_path):
    """The default board with 25,500 bytes of RAM: kws's default firmware overflows the region at
    link time; the build plans the arena under what the rest leaves and links."""
    data = copy.deepcopy(yaml.safe_load((BOARDS / "qemu-mps2-an386.yaml").read_text()))
    ram = next(r for r in data["memory"] if r["kind"] == "ram")
    ram["size_bytes"] = 25_500
    path = tmp_path / "qemu-mps2-an386.yaml"
    path.write_text(yaml.safe_dump(data))
    fw = build_firmware(mlperf_models / "kws_ref_model.tflite", load_board(path), tmp_path / "out")
    assert fw.sizes.ram_bytes <= 25_500 and fw.generated.segments
    assert fw.generated.limit_note.startswith("to fit the ")

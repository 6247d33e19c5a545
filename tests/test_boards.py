"""Board files: every boards/*.yaml loads and is consistent; a malformed file is one clear line."""

from __future__ import annotations

import copy

import pytest
import yaml

from edgekit.files import BOARD_SUPPORT, BOARDS
from edgekit.target.boards import DEFAULT_BOARD, Board, BoardError, all_boards, board_names, load_board, parse_board
from edgekit.cli import main

REAL_BOARDS = ["nucleo-l4r5zi", "stm32f746g-disco", "nrf52840-dk", "rpi-pico"]
EMULATED_BOARDS = ["qemu-mps2-an386", "qemu-mps2-an500"]


def test_the_boards_we_promise_exist():
    assert set(REAL_BOARDS + EMULATED_BOARDS) <= set(board_names())
    assert DEFAULT_BOARD in board_names()
    assert load_board(DEFAULT_BOARD).emulated


@pytest.mark.parametrize("name", board_names())
def test_board_file_is_consistent(name):
    b = load_board(name)
    assert isinstance(b, Board) and b.name == name and b.path == BOARDS / f"{name}.yaml"
    flash, ram = b.flash_region, b.ram_region
    assert 0 < b.flash_bytes <= flash.size_bytes and 0 < b.ram_bytes <= ram.size_bytes
    assert b.stack_bytes < b.ram_bytes and b.stack_bytes % 8 == 0
    assert b.clock_hz > 0 and b.timer_hz > 0
    assert b.support_dir.is_dir() and list(b.support_dir.glob("*.c")), "board support sources"
    assert (f"-mcpu={b.cpu}") in b.cpu_flags and "-mthumb" in b.cpu_flags
    if b.fpu == "none":
        assert b.float_abi == "soft" and not any(f.startswith("-mfpu") for f in b.cpu_flags)
    defines = dict(d.split("=", 1) for d in b.c_defines)
    assert defines["EK_BOARD_CLOCK_HZ"] == f"{b.clock_hz}u"
    assert defines["EK_BOARD_TIMER_HZ"] == f"{b.timer_hz}u"
    if b.emulated:
        assert b.emulator.program.startswith("qemu-system-")
        assert b.timer != "dwt-cyccnt", "QEMU has no DWT cycle counter"
    else:
        assert b.flash_tools, "a real board says how to flash it"
        for t in b.flash_tools:
            assert any("{" in a for a in t.args), f"{t.tool} must be given the firmware file"
    if b.boot_stage is not None:
        assert (BOARD_SUPPORT / b.boot_stage.source).is_file()
    assert b.to_json()["name"] == name


@pytest.mark.parametrize("name", ["nucleo-l4r5zi", "stm32f746g-disco", "nrf52840-dk"])
def test_cortex_m4_m7_boards_time_with_the_cycle_counter(name):
    b = load_board(name)
    assert b.timer == "dwt-cyccnt" and b.timer_hz == b.clock_hz


def test_m0plus_board_uses_systick_not_dwt():
    b = load_board("rpi-pico")
    assert b.cpu == "cortex-m0plus" and b.timer == "systick" and b.timer_hz == b.clock_hz
    assert b.boot_stage is not None and b.boot_stage.size_bytes == 256
    assert b.uf2_family_id is not None


def test_all_boards_and_cli_listing(capsys):
    names = [b.name for b in all_boards()]
    assert names == board_names()
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for n in names:
        assert n in out
    assert main(["boards", "--json"]) == 0
    assert '"clock_hz"' in capsys.readouterr().out


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError) as e:
        load_board("arduino-uno")
    msg = str(e.value)
    assert "unknown board 'arduino-uno'" in msg and DEFAULT_BOARD in msg and "\n" not in msg


def _base() -> dict:
    return yaml.safe_load((BOARDS / "nrf52840-dk.yaml").read_text())


def _drop(key):
    def f(d):
        del d[key]
    return f


def _set(key, value):
    def f(d):
        d[key] = value
    return f


def _region(i, key, value):
    def f(d):
        d["memory"][i][key] = value
    return f


MALFORMED = [
    ("missing clock", _drop("clock_hz"), "missing key clock_hz"),
    ("unknown key", _set("ram", 256), "unknown key 'ram'"),
    ("clock as string", _set("clock_hz", "64 MHz"), "clock_hz: expected an integer"),
    ("zero timer", _set("timer_hz", 0), "timer_hz: must be in 1.."),
    ("bad cpu", _set("cpu", "cortex-a53"), "cpu: 'cortex-a53' is not one of"),
    ("hard float without fpu", _set("fpu", "none"), "float_abi hard needs an fpu"),
    ("bad opt", _set("opt", "-O9"), "opt: '-O9' is not one of"),
    ("odd stack", _set("stack_bytes", 1001), "stack_bytes must be a multiple of 8"),
    ("stack eats ram", _set("stack_bytes", 262144), "does not leave any RAM"),
    ("no support dir", _set("support", "esp32"), "no directory boards/support/esp32/"),
    ("overlap", _region(1, "origin", 0x80000), "overlap"),
    ("two flash", _region(1, "kind", "flash"), "exactly one region of kind"),
    ("region kind", _region(0, "kind", "rom"), "memory[0].kind: 'rom' is not one of"),
    ("two code RAMs", lambda d: d["memory"].extend([{"name": "C1", "kind": "code_ram", "origin": 0x10000000,
                                                      "size_bytes": 1024},
                                                     {"name": "C2", "kind": "code_ram", "origin": 0x10001000,
                                                      "size_bytes": 1024}]), "2 regions of kind code_ram, at most one"),
    ("region size", _region(1, "size_bytes", -4), "memory[1].size_bytes: must be in 1.."),
    ("region unknown key", _region(0, "length", 4), "unknown key 'length' in memory[0]"),
    ("limit over region", _set("ram_limit_bytes", 1 << 20), "ram_limit_bytes 1,048,576 exceeds"),
    ("placeholder", _set("flash_tools", [{"tool": "x", "args": ["{firmware}"]}]), "unknown placeholder {firmware}"),
    ("nowhere to run", _set("flash_tools", []), "needs flash_tools or an emulator"),
    ("define", _set("defines", {"2BAD": 1}), "'2BAD' is not a C identifier"),
    ("define value", _set("defines", {"OK": "a b"}), "is not a plain C token"),
    ("emulator shift", _set("emulator", {"program": "qemu-system-arm", "machine": "m", "icount_shift": 20}),
     "icount_shift must be in 0..10"),
    ("not a mapping", lambda d: d.clear() or d.update({"name": ["x"]}), "name: expected a string"),
    ("tiny stack", _set("stack_bytes", 8), "stack_bytes 8 is too small"),
    ("bogus timer", _set("timer", "rtc"), "timer: 'rtc' is not one of"),
    ("timer faster than the core", _set("timer_hz", 128_000_000), "a timer counts at most the core clock"),
    ("clock of a PC", _set("clock_hz", 3_500_000_000), "is not a Cortex-M clock"),
    ("dwt on an m0+", _set("cpu", "cortex-m0plus"), "has no DWT cycle counter"),
    ("emulator of another core", _set("emulator", {"program": "qemu-system-arm", "machine": "mps2-an500",
                                                   "icount_shift": 0}), "emulates a cortex-m7, not the board's cortex-m4"),
    ("unknown machine", _set("emulator", {"program": "qemu-system-arm", "machine": "virt", "icount_shift": 0}),
     "is not one edgekit knows the core of"),
]


@pytest.mark.parametrize("label, mutate, expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_board_gives_one_line(tmp_path, label, mutate, expected):
    data = copy.deepcopy(_base())
    mutate(data)
    path = tmp_path / "nrf52840-dk.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BoardError) as e:
        load_board(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("nrf52840-dk.yaml: ")
    assert expected in msg


def test_file_name_must_match_board_name(tmp_path):
    path = tmp_path / "my-board.yaml"
    path.write_text((BOARDS / "nrf52840-dk.yaml").read_text())
    with pytest.raises(BoardError, match=r"^my-board.yaml: name 'nrf52840-dk' does not match the file name"):
        load_board(path)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nmemory: [\n  {name: FLASH\n")
    with pytest.raises(BoardError) as e:
        load_board(path)
    assert "not valid YAML" in str(e.value) and " line " in str(e.value) and "\n" not in str(e.value)


def test_parse_board_without_a_file():
    data = _base()
    b = parse_board(data, "inline")
    assert b.name == "nrf52840-dk" and b.path is None
    data["ram_limit_bytes"] = 65536
    assert parse_board(data, "inline").ram_bytes == 65536


def test_cli_reports_a_bad_board_as_an_error(tmp_path, capsys):
    path = tmp_path / "nrf52840-dk.yaml"
    data = _base()
    data["clock_hz"] = "fast"
    path.write_text(yaml.safe_dump(data))
    code = main(["build", str(tmp_path / "missing.tflite"), "--board", str(path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "clock_hz: expected an integer" in err


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    """Nested aliases (a few hundred bytes expanding to gigabytes) are not YAML a board file needs."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(BoardError) as e:
        load_board(path)
    assert "aliases" in str(e.value) and len(str(e.value)) < 200


@pytest.mark.parametrize("content, says", [
    (bytes(range(256)) * 4, "not UTF-8"),
    (b"name: x\n" + b"# padding\n" * 10_000, "at most"),
])
def test_binary_or_huge_board_file_is_one_line(tmp_path, content, says):
    path = tmp_path / "x.yaml"
    path.write_bytes(content)
    with pytest.raises(BoardError) as e:
        load_board(path)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_kernels_run_from_a_code_ram_only_where_the_flash_waits():
    l4 = load_board("nucleo-l4r5zi")
    assert l4.code_ram_region is not None and l4.memory_system.flash_wait_states > 0
    assert l4.target().ram_kernels
    # the code RAM is SRAM2's instruction-bus alias: its physical bytes are not the RAM's
    sram2_physical = 0x20030000 + (l4.code_ram_region.origin - 0x10000000)
    assert not l4.ram_region.contains(sram2_physical)
    assert not l4.ram_region.contains(sram2_physical + l4.code_ram_region.size_bytes - 1)
    for name in ("qemu-mps2-an386", "nrf52840-dk", "stm32f746g-disco"):
        assert not load_board(name).target().ram_kernels, name

"""The firmware harness under random and corrupted input, compiled for the host with
AddressSanitizer and UndefinedBehaviorSanitizer.

Two programs: the frame parser alone (firmware/harness/fuzz/ek_frame_fuzz.c prints every event
it finds) and the whole harness with a generated model on the host "board" (stdin/stdout).
Seeded streams of a few hundred thousand bytes mix valid frames, garbage and mutated frames.
A small Python model of PROTOCOL.md predicts every event and every answer; the C must agree
exactly, every valid frame must be found, every mutated frame with intact sync bytes must be
answered with ERROR, and the sanitizers must stay quiet.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

from edgekit.files import BOARD_SUPPORT
from edgekit.target.build import BOARD_API_DIR, HARNESS_DIR, render_glue
from edgekit.codegen import generate
from edgekit.ir import read_tflite
from edgekit.target.toolchain import C_WARNINGS, SANITIZE, find_tool

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 1024
STREAM_BYTES = 300_000
HOST = BOARD_SUPPORT / "host"


def frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    body = struct.pack("<BBH", msg_type, seq, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


def _gcc(sources, include_dirs, exe, extra=()):
    cc = find_tool("gcc", "install gcc")
    cmd = [cc, *C_WARNINGS, "-O1", "-g", *SANITIZE, *extra, *[f"-I{d}" for d in include_dirs],
           *map(str, sources), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def _run(exe, stream: bytes) -> bytes:
    proc = subprocess.run([str(exe)], input=stream, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    assert b"runtime error" not in proc.stderr and b"Sanitizer" not in proc.stderr, proc.stderr[-3000:]
    return proc.stdout


# ---------------------------------------------------------------------------- the spec, in Python


@dataclass(frozen=True)
class Event:
    kind: str  # "OK", "CRC", "LEN"
    offset: int  # of the frame's first sync byte in the stream
    type: int
    seq: int
    length: int
    payload: bytes = b""


def spec_events(stream: bytes) -> tuple[list[Event], int]:
    """PROTOCOL.md's parser: scan for the sync; a bad frame resumes the scan after its sync.
    Returns the events and the number of bytes still waiting at the end."""
    events, i, n = [], 0, len(stream)
    while True:
        j = stream.find(SYNC, i)
        if j < 0:
            return events, (1 if n > i and stream[-1] == SYNC[0] else 0)
        if j + 6 > n:
            return events, n - j
        t, s, length = stream[j + 2], stream[j + 3], struct.unpack_from("<H", stream, j + 4)[0]
        if length > MAX_PAYLOAD:
            events.append(Event("LEN", j, t, s, length))
            i = j + 2
            continue
        end = j + 6 + length + 4
        if end > n:
            return events, n - j
        if zlib.crc32(stream[j + 2:j + 6 + length]) == struct.unpack_from("<I", stream, end - 4)[0]:
            events.append(Event("OK", j, t, s, length, stream[j + 6:j + 6 + length]))
            i = end
        else:
            events.append(Event("CRC", j, t, s, length))
            i = j + 2


# ---------------------------------------------------------------------------- streams


@dataclass
class Stream:
    data: bytearray
    valid: list[tuple[int, bytes]]  # offset, frame
    mutated: list[int]  # offsets of mutated frames whose sync bytes are intact


def _mutate(rng, f: bytes) -> bytes:
    b = bytearray(f)
    kind = rng.integers(6)
    if kind == 0:  # flip one bit after the sync
        pos = int(rng.integers(2, len(b)))
        b[pos] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncate
        return bytes(b[:int(rng.integers(6, len(b)))])
    elif kind == 2:  # length over the maximum
        b[4:6] = struct.pack("<H", int(rng.integers(MAX_PAYLOAD + 1, 65536)))
    elif kind == 3:  # another length within the maximum
        old = struct.unpack_from("<H", b, 4)[0]
        new = int(rng.integers(0, MAX_PAYLOAD + 1))
        b[4:6] = struct.pack("<H", new if new != old else (old + 1) % (MAX_PAYLOAD + 1))
    elif kind == 4:  # a byte inserted
        pos = int(rng.integers(2, len(b)))
        b[pos:pos] = bytes([int(rng.integers(256))])
    else:  # a byte dropped
        pos = int(rng.integers(2, len(b)))
        del b[pos]
    return bytes(b)


def _garbage(rng) -> bytes:
    g = bytearray(rng.integers(0, 256, size=int(rng.integers(0, 400)), dtype=np.uint8).tobytes())
    for _ in range(int(rng.integers(0, 4))):  # false sync bytes, sometimes with a plausible header
        pos = int(rng.integers(0, len(g) + 1))
        g[pos:pos] = SYNC + (bytes(rng.integers(0, 256, 4, dtype=np.uint8)) if rng.random() < 0.5 else b"")
    return bytes(g)


def make_stream(seed: int, make_request, target: int = STREAM_BYTES) -> Stream:
    """Valid requests from ``make_request(rng, seq)``, garbage, and mutated requests, in random
    order, then zero padding so every candidate frame completes."""
    rng = np.random.default_rng(seed)
    s = Stream(bytearray(), [], [])
    seq = 0
    while len(s.data) < target:
        seq = (seq + 1) & 0xFF
        r = rng.random()
        if r < 0.5:
            f = make_request(rng, seq)
            s.valid.append((len(s.data), f))
            s.data += f
        elif r < 0.75:
            s.data += _garbage(rng)
        else:
            m = _mutate(rng, make_request(rng, seq))
            if m[:2] == SYNC:
                s.mutated.append(len(s.data))
            s.data += m
    s.data += bytes(MAX_PAYLOAD + 16)
    return s


def check_found(events: list[Event], s: Stream) -> None:
    by_offset = {e.offset: e for e in events}
    for off, f in s.valid:
        e = by_offset.get(off)
        assert e is not None and e.kind == "OK" and frame(e.type, e.seq, e.payload) == f, f"valid frame at {off} lost"
    for off in s.mutated:
        assert by_offset[off].kind in ("CRC", "LEN"), f"mutated frame at {off} not reported"


# ---------------------------------------------------------------------------- the parser alone


@pytest.fixture(scope="module")
def parser_exe(tmp_path_factory):
    work = tmp_path_factory.mktemp("frame-fuzz")
    return _gcc([HARNESS_DIR / "ek_frame.c", HARNESS_DIR / "fuzz" / "ek_frame_fuzz.c"], [HARNESS_DIR],
                work / "ek_frame_fuzz")


def _any_frame(rng, seq):
    n = int(rng.choice([0, 1, 4, 6, int(rng.integers(0, 64)), int(rng.integers(0, MAX_PAYLOAD + 1)), MAX_PAYLOAD]))
    return frame(int(rng.integers(256)), seq, rng.integers(0, 256, n, dtype=np.uint8).tobytes())


def _parse_driver_output(out: bytes) -> tuple[list[tuple], int]:
    lines = out.decode().splitlines()
    assert lines[-1].startswith("PENDING ")
    events = []
    for ln in lines[:-1]:
        kind, off, t, s, n, crc = ln.split()
        events.append((kind, int(off), int(t), int(s), int(n), int(crc, 16)))
    return events, int(lines[-1].split()[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parser_finds_every_frame_and_reports_every_bad_one(parser_exe, seed):
    s = make_stream(seed, _any_frame)
    out = _run(parser_exe, bytes(s.data))
    got, pending = _parse_driver_output(out)
    want, want_pending = spec_events(bytes(s.data))
    assert got == [(e.kind, e.offset, e.type, e.seq, e.length, zlib.crc32(e.payload) if e.kind == "OK" else 0)
                   for e in want]
    assert pending == want_pending == 0
    check_found(want, s)
    assert len(s.valid) > 100 and len(s.mutated) > 50


def test_parser_edge_cases(parser_exe):
    cases = [
        b"",
        SYNC,  # a lone sync waits
        b"\xa5" * 50 + frame(1, 2),  # repeated first sync byte
        frame(1, 1)[:-1] + frame(1, 2),  # truncated frame swallows the next, which is then found
        SYNC + b"\x01\x02\xff\xff" + frame(3, 4),  # length 65535
        frame(2, 9, bytes(MAX_PAYLOAD)) * 3,  # back-to-back maximum frames (buffer compaction)
        bytes(range(256)) * 8 + frame(5, 6, b"\xa5\x5a" * 10),  # sync bytes inside a payload
    ]
    for stream in cases:
        got, pending = _parse_driver_output(_run(parser_exe, stream))
        want, want_pending = spec_events(stream)
        assert got == [(e.kind, e.offset, e.type, e.seq, e.length, zlib.crc32(e.payload) if e.kind == "OK" else 0)
                       for e in want], stream[:40]
        assert pending == want_pending


# ---------------------------------------------------------------------------- the whole harness


@pytest.fixture(scope="module")
def harness(tmp_path_factory, mlperf_models, runtime_lib):
    """The harness with ad01 on the host board, and what the model looks like."""
    work = tmp_path_factory.mktemp("harness-fuzz")
    gen = generate(read_tflite(mlperf_models / "ad01_int8.tflite"), work / "model", prefix="model")
    glue = render_glue(gen, work / "ek_model_glue.c", "host-fuzz", 1000, 1000, 0)
    sources = [gen.out_dir / "model.c", gen.out_dir / "model_weights.c", glue,
               *(HARNESS_DIR / s for s in ("ek_frame.c", "ek_harness.c", "ek_main.c")),
               HOST / "board_host.c", HOST / "ek_memory_host.c", runtime_lib]
    exe = _gcc(sources, [gen.out_dir, gen.out_dir / "ek", HARNESS_DIR, BOARD_API_DIR], work / "harness",
               extra=["-include", "ek_op_hook.h"])
    return exe, gen


class HarnessModel:
    """What the harness must answer (PROTOCOL.md), request by request."""

    def __init__(self, in_bytes: int, out_bytes: int, num_ops: int):
        self.in_bytes, self.out_bytes, self.num_ops = in_bytes, out_bytes, num_ops
        self.have_output = False  # cleared by new input: it shares the arena with the output
        self.have_profile = False

    def answer(self, e: Event) -> tuple:
        """(answer type, seq, error code or a payload check)."""
        if e.kind == "CRC":
            return (0xEE, e.seq, (1, 0))
        if e.kind == "LEN":
            return (0xEE, e.seq, (2, 0))
        t, p = e.type, e.payload

        def err(code):
            return (0xEE, e.seq, (code, t))

        if t == 0x01:
            return (0x81, e.seq, None) if not p else err(6)
        if t == 0x02:
            if len(p) < 4:
                return err(6)
            off = struct.unpack_from("<I", p)[0]
            if off + len(p) - 4 > self.in_bytes:
                return err(4)
            self.have_output = False
            return (0x82, e.seq, struct.pack("<BI", 0x02, off + len(p) - 4))
        if t == 0x03:
            if p:
                return err(6)
            self.have_output = self.have_profile = True
            return (0x84, e.seq, 16)
        if t == 0x04:
            if len(p) != 6:
                return err(6)
            if not self.have_output:
                return err(5)
            off, n = struct.unpack("<IH", p)
            if n > 1016 or off + n > self.out_bytes:
                return err(4)
            return (0x83, e.seq, struct.pack("<I", off), 4 + n)
        if t == 0x05:
            if len(p) != 4:
                return err(6)
            if not self.have_profile:
                return err(5)
            first, count = struct.unpack("<HH", p)
            if count > 250 or first + count > self.num_ops:
                return err(4)
            return (0x85, e.seq, struct.pack("<HH", first, count), 4 + 4 * count)
        return err(3)


def _decode_all(out: bytes) -> list[tuple[int, int, bytes]]:
    frames, i = [], 0
    while i < len(out):
        assert out[i:i + 2] == SYNC, f"answer stream broken at {i}"
        t, s, n = struct.unpack_from("<BBH", out, i + 2)
        assert n <= MAX_PAYLOAD
        body = out[i + 2:i + 6 + n]
        assert zlib.crc32(body) == struct.unpack_from("<I", out, i + 6 + n)[0], f"bad CRC in answer at {i}"
        frames.append((t, s, out[i + 6:i + 6 + n]))
        i += 10 + n
    return frames


def _request_maker(in_bytes: int, out_bytes: int, num_ops: int):
    invokes = [0]

    def make(rng, seq):
        r = rng.random()
        if r < 0.1:
            return frame(0x01, seq)
        if r < 0.4:
            off = int(rng.integers(0, in_bytes + 8))
            n = int(rng.integers(0, min(1020, in_bytes + 8 - off) + 1))
            return frame(0x02, seq, struct.pack("<I", off) + rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        if r < 0.43 and invokes[0] < 12:
            invokes[0] += 1
            return frame(0x03, seq)
        if r < 0.65:
            off = int(rng.integers(0, out_bytes + 4))
            return frame(0x04, seq, struct.pack("<IH", off, int(rng.integers(0, out_bytes - off + 4))))
        if r < 0.8:
            first = int(rng.integers(0, num_ops + 2))
            return frame(0x05, seq, struct.pack("<HH", first, int(rng.integers(0, num_ops - first + 3))))
        if r < 0.9:  # malformed: a request with the wrong payload size
            t = int(rng.choice([0x01, 0x02, 0x03, 0x04, 0x05]))
            return frame(t, seq, rng.integers(0, 256, int(rng.choice([1, 2, 3, 5, 7])), dtype=np.uint8).tobytes())
        return frame(int(rng.choice([0x00, 0x06, 0x81, 0xEE, int(rng.integers(256))])), seq)

    return make


@pytest.mark.parametrize("seed", [10, 11])
def test_harness_answers_every_request_as_the_protocol_says(harness, seed):
    exe, gen = harness
    in_bytes, out_bytes, num_ops = gen.inputs[0].nbytes, gen.outputs[0].nbytes, len(gen.calls)
    s = make_stream(seed, _request_maker(in_bytes, out_bytes, num_ops))
    answers = _decode_all(_run(exe, bytes(s.data)))
    events, _ = spec_events(bytes(s.data))
    check_found(events, s)
    model = HarnessModel(in_bytes, out_bytes, num_ops)
    want = [model.answer(e) for e in events]
    assert len(answers) == len(want)
    for (t, seq, payload), w, e in zip(answers, want, events):
        assert (t, seq) == w[:2], (e, w)
        if t == 0xEE:
            assert tuple(payload[:2]) == w[2], (e, payload)
        elif t == 0x82:
            assert payload == w[2]
        elif t == 0x84:
            assert len(payload) == 16 and struct.unpack_from("<I", payload)[0] == 0
        elif t in (0x83, 0x85):
            assert payload.startswith(w[2]) and len(payload) == w[3]
        elif t == 0x81:
            assert payload[0] == 1 and payload.endswith(b"\x09host-fuzz")
            assert payload[2:34].hex() == gen.graph.digest
    kinds = {w[0] for w in want} | {w[2][0] for w in want if w[0] == 0xEE}
    assert {0x81, 0x82, 0x83, 0x84, 0x85, 0xEE, 1, 2, 3, 4, 5, 6} <= kinds, "the stream exercises every answer"

"""The harness protocol on the host: frame codec, resynchronisation, and Device's retry rules.

The device side is ``fakedevice.FakeDevice``, an independent Python implementation of
PROTOCOL.md behind a TCP port, opened through the real pyserial transport (``socket://``).
"""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest

from edgekit.harness import protocol as P
from edgekit.harness.device import Device, DeviceError
from edgekit.harness.transport import SerialTransport, Transport, TransportClosed, TransportTimeout
from fakedevice import FakeDevice, fake_model


# ---------------------------------------------------------------------------- codec


def test_crc_is_ieee_802_3():
    assert P.crc32(b"123456789") == 0xCBF43926


def test_frame_layout():
    f = P.encode_frame(P.MsgType.INPUT_CHUNK, 7, b"\x01\x02\x03")
    assert f[:2] == b"\xa5\x5a"
    assert f[2:6] == bytes([0x02, 7, 3, 0])
    assert f[6:9] == b"\x01\x02\x03"
    assert struct.unpack("<I", f[9:])[0] == zlib.crc32(f[2:9])


@pytest.mark.parametrize("size", [0, 1, 255, 1024])
def test_roundtrip_byte_by_byte(size):
    payload = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
    wire = P.encode_frame(0x83, 200, payload)
    dec = P.FrameDecoder()
    got = []
    for b in wire:
        got += dec.feed(bytes([b]))
    assert got == [P.Frame(0x83, 200, payload)]
    assert dec.pending == 0


def test_payload_over_limit_is_refused():
    with pytest.raises(ValueError):
        P.encode_frame(0x02, 0, bytes(1025))


def test_garbage_between_frames_is_skipped():
    a, b = P.encode_frame(0x81, 1, b"one"), P.encode_frame(0x82, 2, b"two")
    wire = b"boot banner\r\n\xa5" + a + b"\x00\xa5\xff" + b
    frames = P.FrameDecoder().feed(wire)
    assert frames == [P.Frame(0x81, 1, b"one"), P.Frame(0x82, 2, b"two")]


@pytest.mark.parametrize("pos", [2, 3, 4, 6, 10, 13])
def test_corrupt_byte_gives_bad_frame_then_resync(pos):
    bad = bytearray(P.encode_frame(0x83, 5, b"abcdefgh"))
    bad[pos] ^= 0x40
    good = P.encode_frame(0x84, 6, b"ok")
    # a corrupted length field may announce more bytes than the frame has: pad so it completes
    items = P.FrameDecoder().feed(bytes(bad) + good + bytes(P.MAX_FRAME))
    assert items[-1] == P.Frame(0x84, 6, b"ok")
    assert all(isinstance(i, P.BadFrame) for i in items[:-1]) and items[:-1]
    assert not any(isinstance(i, P.Frame) and i.seq == 5 for i in items)


def test_length_over_limit_resumes_after_sync():
    good = P.encode_frame(0x82, 9, b"x")
    wire = b"\xa5\x5a\x83\x01\xff\xff" + good
    items = P.FrameDecoder().feed(wire)
    assert items[0] == P.BadFrame("length", 0x83, 1)
    assert items[1] == P.Frame(0x82, 9, b"x")


def test_frame_hidden_inside_a_bad_frame_is_found():
    """The bad frame's length swallows the next frame; rescanning after its sync finds it."""
    good = P.encode_frame(0x81, 3, b"hi")
    bad = b"\xa5\x5a\x83\x01" + struct.pack("<H", 20)  # claims 20 payload bytes
    items = P.FrameDecoder().feed(bad + good + bytes(40))
    assert isinstance(items[0], P.BadFrame) and items[0].reason == "crc"
    assert P.Frame(0x81, 3, b"hi") in items


def test_split_sync_across_feeds():
    wire = P.encode_frame(0x85, 1, b"")
    dec = P.FrameDecoder()
    assert dec.feed(b"zz" + wire[:1]) == []
    assert dec.feed(wire[1:]) == [P.Frame(0x85, 1, b"")]


def _hello(**kw) -> P.HelloReply:
    base = dict(version=1, model_sha256="ab" * 32, clock_hz=120_000_000, timer_hz=120_000_000,
                arena_bytes=22_000, static_ram_bytes=30_000, stack_reserve_bytes=4096, num_ops=14,
                inputs=(P.TensorInfo(9, (1, 49, 10, 1), 490),),
                outputs=(P.TensorInfo(9, (1, 12), 12), P.TensorInfo(2, (3,), 12)), board="nucleo-l4r5zi")
    base.update(kw)
    return P.HelloReply(**base)


def test_hello_reply_roundtrip():
    h = _hello()
    assert P.parse_hello_reply(P.encode_hello_reply(h)) == h
    assert h.input_bytes == 490 and h.output_bytes == 24


def test_hello_reply_truncated_or_wrong_version():
    wire = P.encode_hello_reply(_hello())
    for n in (0, 1, 20, len(wire) - 1):
        with pytest.raises(P.ProtocolError):
            P.parse_hello_reply(wire[:n])
    with pytest.raises(P.ProtocolError, match="trailing"):
        P.parse_hello_reply(wire + b"\x00")
    with pytest.raises(P.ProtocolError, match="version 2"):
        P.parse_hello_reply(P.encode_hello_reply(_hello(version=2)))


def test_answer_parsers():
    assert P.parse_ack(struct.pack("<BI", 2, 1020)) == (2, 1020)
    assert P.parse_output_data(struct.pack("<I", 8) + b"xyz") == (8, b"xyz")
    assert P.parse_invoke_done(struct.pack("<IIII", 0, 99, 700, 3)) == P.InvokeDone(0, 99, 700, 3)
    assert P.parse_profile_data(struct.pack("<HH2I", 4, 2, 10, 20)) == (4, [10, 20])
    with pytest.raises(P.ProtocolError):
        P.parse_profile_data(struct.pack("<HH1I", 4, 2, 10))
    with pytest.raises(P.ProtocolError):
        P.parse_invoke_done(b"\x00" * 12)
    e = P.parse_error(bytes([1, 2]) + b"bad crc")
    assert e.transient and "bad crc" in e.describe() and "INPUT_CHUNK" in e.describe()
    assert not P.parse_error(bytes([4, 4])).transient


# ---------------------------------------------------------------------------- Device on a fake device


def _device(url, **kw) -> Device:
    return Device(SerialTransport(url, open_timeout_s=5), timeout_s=kw.pop("timeout_s", 1.0), **kw)


def test_fake_device_end_to_end():
    with FakeDevice() as fake:
        dev = _device(fake.url)
        try:
            info = dev.hello()
            assert info.board == "fake-board" and info.num_ops == 3
            assert info.inputs[0].shape == (1, 40) and info.outputs[0].nbytes == 10
            rng = np.random.default_rng(0)
            for _ in range(3):
                x = rng.integers(-128, 128, (1, 40), dtype=np.int8)
                out, done, ticks = dev.run(x.tobytes())
                np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(1, 10), fake_model(x))
                assert done.ticks == 1234 and done.stack_peak_bytes == 512
                assert ticks == [100, 200, 300]
            assert dev.stats.retries == 0 and dev.stats.discarded_frames == 0
        finally:
            dev.transport.close()


def test_lost_invoke_answer_reruns_from_the_input():
    """The model overwrites its input (it lives in the arena): an INVOKE whose answer was lost is
    retried after the input is written again, so the output is the one of the input sent."""
    with FakeDevice(lose_invoke_answers=2) as fake:
        dev = _device(fake.url, invoke_timeout_s=0.3, retries=3, resync_s=0.05)
        try:
            x = np.random.default_rng(1).integers(-128, 128, (1, 40), dtype=np.int8)
            out, _, _ = dev.run(x.tobytes())
            np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(1, 10), fake_model(x))
            assert fake.invokes == 3 and dev.stats.retries >= 2
        finally:
            dev.transport.close()


def test_device_stuck_inside_a_frame_is_flushed():
    """A corrupted length left the device waiting for 1000 payload bytes: the HELLO after it is
    swallowed; after the timeout the host's run of zeros completes that frame, and the retry works."""
    with FakeDevice() as fake:
        dev = _device(fake.url, timeout_s=0.3, hello_timeout_s=0.3)
        try:
            dev.transport.write(b"\xa5\x5a\x01\x00" + struct.pack("<H", 1000), 1.0)
            info = dev.hello()
            assert info.board == "fake-board"
            assert dev.stats.timeouts == 1 and dev.stats.retries == 1
            assert fake.errors_sent >= 1  # the stuck frame ended as a bad CRC
        finally:
            dev.transport.close()


def test_device_refusal_is_not_retried():
    with FakeDevice() as fake:
        dev = _device(fake.url)
        try:
            dev.hello()
            with pytest.raises(DeviceError, match="not ready"):
                dev.read_output(10)  # before any INVOKE: error 5, a fact, not line noise
            assert dev.stats.retries == 0
        finally:
            dev.transport.close()


def test_silent_device_fails_in_bounded_time():
    with FakeDevice(silent=True) as fake:
        dev = _device(fake.url, timeout_s=0.2, hello_timeout_s=0.2, retries=2)
        t0 = time.monotonic()
        try:
            with pytest.raises(DeviceError, match="no valid answer after 3 attempts"):
                dev.hello()
        finally:
            dev.transport.close()
        assert time.monotonic() - t0 < 15
        assert dev.stats.timeouts == 3


def test_unopenable_port_is_a_clear_error():
    with pytest.raises(TransportClosed, match="cannot open"):
        SerialTransport("/dev/edgekit-no-such-port")


def test_peer_closing_is_transport_closed():
    fake = FakeDevice()
    t = SerialTransport(fake.url, open_timeout_s=5)
    try:
        fake.close()
        with pytest.raises((TransportClosed, TransportTimeout)):
            for _ in range(20):
                t.write(P.encode_frame(1, 1), 0.5)
                t.read(10, 0.2)
    finally:
        t.close()


# ---------------------------------------------------------------------------- scripted link


class ScriptedTransport(Transport):
    """Answers each written frame with ``script(frame) -> bytes`` (in-memory, no sockets)."""

    def __init__(self, script):
        self.script, self.pending, self.sent = script, bytearray(), []
        self._dec = P.FrameDecoder()

    def write(self, data, timeout_s):
        for f in self._dec.feed(data):
            if isinstance(f, P.Frame):
                self.sent.append(f)
                self.pending += self.script(f)

    def read(self, n, timeout_s):
        if not self.pending:
            time.sleep(min(timeout_s, 0.01))
            raise TransportTimeout("nothing")
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out

    def close(self):
        pass


def test_wrong_seq_answers_are_discarded_never_used():
    def script(f):
        if f.type == P.MsgType.READ_OUTPUT:
            stale = P.encode_frame(0x83, (f.seq - 1) & 0xFF, struct.pack("<I", 0) + b"WRONG!")
            wrong_type = P.encode_frame(0x84, f.seq, bytes(16))
            return stale + wrong_type + P.encode_frame(0x83, f.seq, struct.pack("<I", 0) + b"right!")
        return b""

    dev = Device(ScriptedTransport(script), timeout_s=0.5)
    assert dev.read_output(6) == b"right!"
    assert dev.stats.discarded_frames == 2 and dev.stats.retries == 0


def test_transient_error_is_retried_with_a_new_seq():
    calls = []

    def script(f):
        calls.append(f.seq)
        if len(calls) == 1:
            return P.encode_frame(0xEE, f.seq, bytes([1, f.type]) + b"bad crc")
        return P.encode_frame(0x82, f.seq, struct.pack("<BI", 2, 4))

    dev = Device(ScriptedTransport(script), timeout_s=0.5)
    dev.write_input(b"abcd")
    assert len(calls) == 2 and calls[0] != calls[1]
    assert dev.stats.retries == 1 and dev.stats.error_frames == 1


def test_lost_answer_is_retried_after_resync():
    calls = []

    def script(f):
        calls.append(f)
        if len(calls) == 1:
            return b""  # the answer is lost
        return P.encode_frame(0x84, f.seq, struct.pack("<IIII", 0, 5, 6, 7))

    t = ScriptedTransport(script)
    dev = Device(t, timeout_s=0.1)
    assert dev.invoke() == P.InvokeDone(0, 5, 6, 7)
    assert dev.stats.timeouts == 1 and dev.stats.resyncs == 1


def test_wrong_offset_or_size_is_an_error_not_a_result():
    def script(f):
        off, n = struct.unpack("<IH", f.payload)
        return P.encode_frame(0x83, f.seq, struct.pack("<I", off) + bytes(n - 1))

    dev = Device(ScriptedTransport(script), timeout_s=0.2)
    with pytest.raises(DeviceError, match="asked for 6"):
        dev.read_output(6)


def test_failed_invoke_status_is_reported():
    def script(f):
        return P.encode_frame(0x84, f.seq, struct.pack("<IIII", 3, 0, 0, 0))

    with pytest.raises(DeviceError, match="status 3"):
        Device(ScriptedTransport(script), timeout_s=0.2).invoke()


def test_chunking_of_long_transfers():
    """Input over several INPUT_CHUNKs, output over several READ_OUTPUTs, profile in blocks of 250."""
    store = bytearray(3000)

    def script(f):
        if f.type == P.MsgType.INPUT_CHUNK:
            off = struct.unpack_from("<I", f.payload)[0]
            data = f.payload[4:]
            store[off:off + len(data)] = data
            return P.encode_frame(0x82, f.seq, struct.pack("<BI", 2, off + len(data)))
        if f.type == P.MsgType.READ_OUTPUT:
            off, n = struct.unpack("<IH", f.payload)
            return P.encode_frame(0x83, f.seq, struct.pack("<I", off) + bytes(store[off:off + n]))
        first, count = struct.unpack("<HH", f.payload)
        return P.encode_frame(0x85, f.seq, struct.pack(f"<HH{count}I", first, count,
                                                        *range(first, first + count)))

    t = ScriptedTransport(script)
    dev = Device(t, timeout_s=0.5)
    data = bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))
    dev.write_input(data)
    assert dev.read_output(3000) == data
    assert dev.read_profile(600) == list(range(600))
    sizes = [len(f.payload) for f in t.sent]
    assert max(sizes) <= P.MAX_PAYLOAD
    assert [f.type for f in t.sent].count(P.MsgType.READ_PROFILE) == 3


# ---------------------------------------------------------------------------- hostile or broken devices


def test_device_text_is_escaped():
    hostile = "brd\n\x1b[2J\\x"
    with FakeDevice(board=hostile) as fake:
        dev = _device(fake.url)
        try:
            name = dev.hello().board
        finally:
            dev.transport.close()
    assert name == "brd\\x0a\\x1b[2J\\x5cx"
    assert all(0x20 <= ord(c) < 0x7F for c in name)
    err = P.parse_error(P.encode_error(4, 2, "bad\r\nline\x07" + "y" * 500))
    assert "\r" not in err.message and "\n" not in err.message and "\x07" not in err.message
    assert err.message.startswith("bad\\x0d\\x0aline\\x07") and err.message.endswith("(310 more bytes)")


def test_deadline_bounds_a_device_that_stops_answering():
    with FakeDevice(die_after_invokes=1) as fake:
        # each INVOKE may take 30 s, retried 4 times: without a deadline this would wait 150 s
        dev = _device(fake.url, invoke_timeout_s=30.0, retries=4, resync_s=0.1)
        try:
            x = bytes(40)
            dev.run(x)
            dev.set_deadline(2.0)
            t0 = time.monotonic()
            with pytest.raises(DeviceError, match="deadline of 2 s passed"):
                dev.run(x)
        finally:
            dev.transport.close()
    assert time.monotonic() - t0 < 5


def test_operator_times_beyond_the_total_are_refused():
    with FakeDevice(op_ticks_each=4_000_000_000) as fake:
        dev = _device(fake.url)
        try:
            with pytest.raises(DeviceError, match="inconsistent: its operators took 12,000,000,000 ticks"):
                dev.run(bytes(40))
        finally:
            dev.transport.close()


class _LongFramesDamaged(Transport):
    """A line on which every frame longer than ``limit`` bytes arrives with a flipped bit (the
    limit of a noisy UART: the chance a frame gets through falls with its length)."""

    def __init__(self, inner: Transport, limit: int):
        self.inner, self.limit, self.damaged = inner, limit, 0

    def read(self, n, timeout_s):
        return self.inner.read(n, timeout_s)

    def write(self, data, timeout_s):
        if len(data) > self.limit and data[:2] == P.SYNC:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x10
            self.damaged += 1
        self.inner.write(bytes(data), timeout_s)

    def close(self):
        self.inner.close()


def test_chunks_shrink_until_they_get_through(monkeypatch):
    n = 654
    with FakeDevice(inputs=((9, (1, n)),), model_fn=lambda b: b[:10]) as fake:
        line = _LongFramesDamaged(SerialTransport(fake.url, open_timeout_s=5), limit=200)
        dev = Device(line, timeout_s=0.5, retries=3, resync_s=0.05)
        x = bytes(np.random.default_rng(0).integers(-128, 128, n, dtype=np.int8).view(np.uint8))
        try:
            out, _done, _ticks = dev.run(x)
        finally:
            dev.transport.close()
    assert out == x[:10] and line.damaged > 0
    # the control: the same line with chunks that never shrink does not get the input through
    import edgekit.harness.device as device_module
    monkeypatch.setattr(device_module, "SMALLEST_CHUNK", P.MAX_INPUT_CHUNK)
    with FakeDevice(inputs=((9, (1, n)),), model_fn=lambda b: b[:10]) as fake:
        dev = Device(_LongFramesDamaged(SerialTransport(fake.url, open_timeout_s=5), limit=200), timeout_s=0.5,
                     retries=3, resync_s=0.05)
        try:
            with pytest.raises(DeviceError, match="INPUT_CHUNK: no valid answer after 4 attempts"):
                dev.run(x)
        finally:
            dev.transport.close()

"""Test doubles for the on-target harness: a device speaking PROTOCOL.md, and a faulty wire.

``FakeDevice`` is an independent Python implementation of the firmware side of
firmware/harness/PROTOCOL.md (it does not use ``edgekit.harness.protocol``): a byte-at-a-time
parser that resynchronises the way the C parser must, behind a TCP port that pyserial opens as
``socket://127.0.0.1:PORT``. Its "model" is a fixed integer function of the input, so a test
knows the right output for any input.

``FaultProxy`` sits between a client and a TCP server (the fake device or QEMU's serial port)
and corrupts, drops, delays and inserts bytes with a seeded random generator.
"""

from __future__ import annotations

import hashlib
import random
import select
import socket
import struct
import threading
import time
import zlib

import numpy as np

SYNC = b"\xa5\x5a"


def frame(msg_type: int, seq: int, payload: bytes) -> bytes:
    body = struct.pack("<BBH", msg_type, seq, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def fake_model(x: np.ndarray) -> np.ndarray:
    """The fake device's model: int8 in (1, 40), int8 out (1, 10): clamped sums of 4 inputs."""
    s = x.astype(np.int32).reshape(10, 4).sum(axis=1) // 2 + 3
    return np.clip(s, -128, 127).astype(np.int8).reshape(1, 10)


class FakeDevice:
    """A TCP server acting as the harness firmware.

    By default its model is :func:`fake_model` (int8 (1, 40) -> int8 (1, 10), 3 operators); pass
    ``model_fn(input_bytes) -> output_bytes`` with ``inputs`` / ``outputs`` as
    ``(tflite type code, shape)`` and ``num_ops`` to stand in for a real model.
    """

    def __init__(self, model_sha256: str = hashlib.sha256(b"fake model").hexdigest(),
                 invoke_delay_s: float = 0.0, board: str = "fake-board", version: int = 1,
                 timer_hz: int = 25_000_000, clock_hz: int = 25_000_000, silent: bool = False,
                 model_fn=None, inputs=((9, (1, 40)),), outputs=((9, (1, 10)),), num_ops: int = 3,
                 die_after_invokes: int | None = None, lose_invoke_answers: int = 0,
                 op_ticks_each: int | None = None):
        self.sha = model_sha256
        self.invoke_delay_s = invoke_delay_s
        self.board = board
        self.version = version
        self.timer_hz, self.clock_hz = timer_hz, clock_hz
        self.silent = silent  # never answers (a board without the harness firmware)
        self.model_fn = model_fn or (lambda b: fake_model(np.frombuffer(b, np.int8).reshape(1, 40)).tobytes())
        itemsize = {9: 1, 3: 1, 7: 2, 2: 4, 0: 4}
        self.inputs = [(c, tuple(s), int(np.prod(s)) * itemsize[c]) for c, s in inputs]
        self.outputs = [(c, tuple(s), int(np.prod(s)) * itemsize[c]) for c, s in outputs]
        self.NUM_OPS = num_ops
        # operator k takes 100 (k + 1) ticks, the whole inference a little more than all of them
        # (what the firmware's timer reads give); op_ticks_each replaces each with a fixed value
        self.op_ticks_each = op_ticks_each
        self.total_ticks = max(1234, 50 * num_ops * (num_ops + 1) + 34)
        self.die_after_invokes = die_after_invokes  # stop answering after this many INVOKEs
        self.lose_invoke_answers = lose_invoke_answers  # run the first INVOKEs but send no answer
        self.input = bytearray(sum(n for _, _, n in self.inputs))
        self.output: bytes | None = None
        self.invokes = 0
        self.requests: list[tuple[int, int]] = []  # (type, seq) of every well-formed request
        self.errors_sent = 0
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(4)
        self.port = self._srv.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -------------------------------------------------------------------- server

    def close(self) -> None:
        self._stop.set()
        self._srv.close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._srv], [], [], 0.05)
                if not r:
                    continue
                conn, _ = self._srv.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            r, _, _ = select.select([conn], [], [], 0.05)
            if not r:
                continue
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            for reply in self._parse(buf):
                if not self.silent:
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return

    # -------------------------------------------------------------------- parser

    def _parse(self, buf: bytearray):
        """Consume complete frames from ``buf``; yield answers. Keeps incomplete tails."""
        while True:
            i = buf.find(SYNC)
            if i < 0:
                del buf[:max(0, len(buf) - 1) if buf[-1:] == SYNC[:1] else len(buf)]
                return
            del buf[:i]
            if len(buf) < 6:
                return
            t, seq, n = struct.unpack_from("<BBH", buf, 2)
            if n > 1024:
                self.errors_sent += 1
                yield frame(0xEE, seq, bytes([2, t]) + b"length over 1024")
                del buf[:2]
                continue
            if len(buf) < 6 + n + 4:
                return
            body = bytes(buf[2:6 + n])
            (crc,) = struct.unpack_from("<I", buf, 6 + n)
            if crc != zlib.crc32(body) & 0xFFFFFFFF:
                self.errors_sent += 1
                yield frame(0xEE, seq, bytes([1, t]) + b"bad crc")
                del buf[:2]
                continue
            del buf[:6 + n + 4]
            self.requests.append((t, seq))
            yield self._answer(t, seq, body[4:])

    def _answer(self, t: int, seq: int, p: bytes) -> bytes:
        def err(code, msg):
            self.errors_sent += 1
            return frame(0xEE, seq, bytes([code, t]) + msg.encode())

        if t == 0x01:
            if p:
                return err(6, "hello takes no payload")
            return frame(0x81, seq, self.hello_payload())
        if t == 0x02:
            if len(p) < 4:
                return err(6, "short")
            (off,) = struct.unpack_from("<I", p)
            data = p[4:]
            if off + len(data) > len(self.input):
                return err(4, "input out of range")
            self.input[off:off + len(data)] = data
            return frame(0x82, seq, struct.pack("<BI", 0x02, off + len(data)))
        if t == 0x03:
            if self.die_after_invokes is not None and self.invokes >= self.die_after_invokes:
                self.silent = True
            if self.invoke_delay_s:
                time.sleep(self.invoke_delay_s)
            self.output = self.model_fn(bytes(self.input))
            self.invokes += 1
            # the firmware's input lives in the model's arena, which the inference overwrites
            self.input[:] = bytes((0x5A + i) & 0xFF for i in range(len(self.input)))
            if self.lose_invoke_answers > 0:
                self.lose_invoke_answers -= 1
                return b""
            return frame(0x84, seq, struct.pack("<IIII", 0, self.total_ticks, 512, 2))
        if t == 0x04:
            if len(p) != 6:
                return err(6, "malformed")
            off, n = struct.unpack("<IH", p)
            if self.output is None:
                return err(5, "no invoke yet")
            if n > 1016 or off + n > len(self.output):
                return err(4, "output out of range")
            return frame(0x83, seq, struct.pack("<I", off) + self.output[off:off + n])
        if t == 0x05:
            if len(p) != 4:
                return err(6, "malformed")
            first, count = struct.unpack("<HH", p)
            if count > 250 or first + count > self.NUM_OPS:
                return err(4, "op out of range")
            ticks = [self.op_ticks_each if self.op_ticks_each is not None else 100 * (first + i + 1)
                     for i in range(count)]
            return frame(0x85, seq, struct.pack(f"<HH{count}I", first, count, *ticks))
        return err(3, "unknown type")

    def hello_payload(self) -> bytes:
        p = struct.pack("<BB", self.version, 0) + bytes.fromhex(self.sha)
        p += struct.pack("<IIIIIHBB", self.clock_hz, self.timer_hz, 64, 4096, 2048, self.NUM_OPS,
                         len(self.inputs), len(self.outputs))
        for code, shape, nbytes in (*self.inputs, *self.outputs):
            p += struct.pack(f"<BB{len(shape)}II", code, len(shape), *shape, nbytes)
        return p + bytes([len(self.board)]) + self.board.encode()


# ---------------------------------------------------------------------------- faulty wire


class FaultProxy:
    """A TCP proxy that damages the byte stream in both directions, reproducibly per seed.

    Per byte: flip one bit with probability ``p_flip``, drop it with ``p_drop``, insert a random
    byte before it with ``p_insert``; per chunk forwarded, stall ``delay_s`` with ``p_delay``.
    ``budget`` caps the number of faults (then the wire is clean), so a test can check both
    that faults are survived and that the run ends.
    """

    def __init__(self, upstream: tuple[str, int], seed: int, p_flip=0.0, p_drop=0.0, p_insert=0.0,
                 p_delay=0.0, delay_s=0.0, budget: int | None = None):
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.p_flip, self.p_drop, self.p_insert = p_flip, p_drop, p_insert
        self.p_delay, self.delay_s = p_delay, delay_s
        self.budget = budget
        self.faults = 0
        self._lock = threading.Lock()
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.url = f"socket://127.0.0.1:{self._srv.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._srv.close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fault(self, p: float) -> bool:
        if p <= 0 or (self.budget is not None and self.faults >= self.budget):
            return False
        if self.rng.random() < p:
            self.faults += 1
            return True
        return False

    def _damage(self, data: bytes) -> tuple[bytes, bool]:
        with self._lock:  # one generator for both directions: reproducible given the traffic
            out = bytearray()
            for b in data:
                if self._fault(self.p_insert):
                    out.append(self.rng.randrange(256))
                if self._fault(self.p_drop):
                    continue
                if self._fault(self.p_flip):
                    b ^= 1 << self.rng.randrange(8)
                out.append(b)
            return bytes(out), self._fault(self.p_delay)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._srv], [], [], 0.05)
                if not r:
                    continue
                client, _ = self._srv.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with client, server:
                self._pump(client, server)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peer = {client: server, server: client}
        while not self._stop.is_set():
            r, _, _ = select.select([client, server], [], [], 0.05)
            for s in r:
                try:
                    data = s.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                out, stall = self._damage(data)
                if stall:
                    time.sleep(self.delay_s)
                try:
                    peer[s].sendall(out)
                except OSError:
                    return

"""The host side of the harness protocol: one request, one answer, every wait bounded.

A request that is answered with a line error (bad CRC, bad length, malformed payload) or not
answered in time is sent again, with a fresh sequence number, up to ``retries`` times. Before
a retry after a timeout the line is resynchronised: pending input is discarded and a run of zero
bytes as long as the largest frame is sent, which completes (and so fails) any half-received
frame the device may still be waiting on; the device then scans for the next sync bytes. An
answer whose sequence number is not the one of the request in flight is discarded, never used:
it belongs to an earlier attempt. All answers are CRC-checked; a payload of the wrong size or
for the wrong offset is an error, not a result.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import EdgekitError
from . import protocol as P
from .transport import Transport, TransportTimeout


class DeviceError(EdgekitError):
    """The device reported an error, or did not answer correctly after every retry."""


class NoAnswer(DeviceError):
    """No valid answer to a request after every attempt."""


@dataclass
class LinkStats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    error_frames: int = 0  # ERROR answers to our requests
    bad_frames: int = 0  # frames that failed their CRC or length check on the host
    discarded_frames: int = 0  # valid frames with a sequence number or type we were not waiting for
    resyncs: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


class Device:
    """A device running the edgekit harness firmware, over any :class:`Transport`.

    ``timeout_s`` bounds each ordinary answer, ``invoke_timeout_s`` the answer to INVOKE (one
    inference), ``hello_timeout_s`` the first HELLO (a board or QEMU may still be booting),
    ``resync_s`` each of the two waits for the line to go quiet before a retry. A request takes
    at most (retries + 1) x (its timeout + 2 x resync_s + the time to send a frame twice).
    """

    def __init__(self, transport: Transport, timeout_s: float = 2.0, invoke_timeout_s: float = 120.0,
                 hello_timeout_s: float = 10.0, retries: int = 4, resync_s: float = 1.0,
                 log: Callable[[str], None] | None = None, first_seq: int | None = None):
        self.transport = transport
        self.resync_s = resync_s
        self.timeout_s = timeout_s
        self.invoke_timeout_s = invoke_timeout_s
        self.hello_timeout_s = hello_timeout_s
        self.retries = retries
        self.log = log or (lambda _m: None)
        self.stats = LinkStats()
        self.info: P.HelloReply | None = None
        self._decoder = P.FrameDecoder()
        self._frames: collections.deque = collections.deque()
        # a random start: answers left over from an earlier session are unlikely to match
        self._seq = os.urandom(1)[0] if first_seq is None else (first_seq - 1) & 0xFF

    # ------------------------------------------------------------------------ requests

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def request(self, msg_type: P.MsgType, payload: bytes = b"", timeout_s: float | None = None,
                attempts: int | None = None) -> P.Frame:
        """Send one request and return its answer frame (never an ERROR frame); ``attempts``
        (default retries + 1) bounds how often it is sent."""
        expect = P.ANSWER[msg_type]
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        attempts = self.retries + 1 if attempts is None else attempts
        frame_problem = ""
        self.stats.requests += 1
        for attempt in range(attempts):
            if attempt:
                self.stats.retries += 1
                self.log(f"retrying {msg_type.name} ({frame_problem})")
            seq = self._next_seq()
            try:
                self.transport.write(P.encode_frame(msg_type, seq, payload), self.timeout_s)
            except TransportTimeout as exc:
                self.stats.timeouts += 1
                frame_problem = str(exc)
                self._resync(flush_device=False)
                continue
            try:
                frame = self._await(seq, expect, timeout_s)
            except TransportTimeout:
                self.stats.timeouts += 1
                frame_problem = f"no answer in {timeout_s:.3g} s"
                self._resync(flush_device=True)
                continue
            if frame.type == P.MsgType.ERROR:
                self.stats.error_frames += 1
                err = P.parse_error(frame.payload)
                if not err.transient:
                    raise DeviceError(f"device refused {msg_type.name}: {err.describe()}")
                frame_problem = f"device reported {err.describe()}"
                self._resync(flush_device=False)
                continue
            return frame
        raise NoAnswer(f"{msg_type.name}: no valid answer after {attempts} attempts "
                       f"(last: {frame_problem}); is the harness firmware running on this port?")

    def _await(self, seq: int, expect: int, timeout_s: float) -> P.Frame:
        deadline = time.monotonic() + timeout_s
        while True:
            while self._frames:
                item = self._frames.popleft()
                if isinstance(item, P.BadFrame):
                    self.stats.bad_frames += 1
                elif item.seq == seq and item.type in (expect, P.MsgType.ERROR):
                    return item
                else:
                    self.stats.discarded_frames += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportTimeout(f"no answer in {timeout_s:.3g} s")
            self._frames.extend(self._decoder.feed(self.transport.read(4096, left)))

    def _resync(self, flush_device: bool) -> None:
        self.stats.resyncs += 1
        self._frames.clear()
        quiet = min(0.05, self.resync_s / 4)
        self.transport.drain(quiet_s=quiet, max_s=self.resync_s)
        if flush_device:
            # zeros contain no sync byte: they only complete a frame the device is stuck inside
            try:
                self.transport.write(bytes(P.MAX_FRAME), self.timeout_s)
            except TransportTimeout:
                pass
            self.transport.drain(quiet_s=2 * quiet, max_s=self.resync_s)
        self._decoder.reset()

    # ------------------------------------------------------------------------ operations

    def hello(self) -> P.HelloReply:
        self.transport.drain(quiet_s=0.02, max_s=0.5)  # a boot banner or stale answers
        frame = self.request(P.MsgType.HELLO, timeout_s=self.hello_timeout_s)
        self.info = P.parse_hello_reply(frame.payload)
        return self.info

    def write_input(self, data: bytes, chunk_bytes: int = P.MAX_INPUT_CHUNK) -> None:
        chunk_bytes = max(1, min(chunk_bytes, P.MAX_INPUT_CHUNK))
        for off in range(0, len(data), chunk_bytes):
            part = data[off:off + chunk_bytes]
            frame = self.request(P.MsgType.INPUT_CHUNK, P.input_chunk(off, part))
            req, end = P.parse_ack(frame.payload)
            if req != P.MsgType.INPUT_CHUNK or end != off + len(part):
                raise DeviceError(f"device acknowledged input bytes up to {end}, expected {off + len(part)}")

    def invoke(self, attempts: int | None = None) -> P.InvokeDone:
        frame = self.request(P.MsgType.INVOKE, timeout_s=self.invoke_timeout_s, attempts=attempts)
        done = P.parse_invoke_done(frame.payload)
        if done.status != 0:
            raise DeviceError(f"inference failed on the device: status {done.status}")
        return done

    def invoke_on(self, input_bytes: bytes) -> P.InvokeDone:
        """Write the input and INVOKE; an INVOKE whose answer is lost is retried only after the
        input is written again: the model runs in the arena that holds its input, so a second run
        on what the first left there would give other outputs."""
        last: NoAnswer | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self.log("retrying INVOKE from the input")
            try:
                self.write_input(input_bytes)
            except NoAnswer as exc:
                if not attempt:
                    raise
                raise NoAnswer(f"INVOKE: no answer ({last}); sending its input again then failed: {exc}") from None
            try:
                return self.invoke(attempts=1)
            except NoAnswer as exc:
                last = exc
        raise NoAnswer(f"INVOKE: no valid answer after {self.retries + 1} attempts, each from a fresh input "
                       f"({last})")

    def read_output(self, nbytes: int) -> bytes:
        out = bytearray()
        while len(out) < nbytes:
            n = min(P.MAX_OUTPUT_CHUNK, nbytes - len(out))
            frame = self.request(P.MsgType.READ_OUTPUT, P.read_output(len(out), n))
            off, data = P.parse_output_data(frame.payload)
            if off != len(out) or len(data) != n:
                raise DeviceError(f"device sent {len(data)} output bytes at offset {off}, "
                                  f"asked for {n} at {len(out)}")
            out += data
        return bytes(out)

    def read_profile(self, num_ops: int) -> list[int]:
        ticks: list[int] = []
        while len(ticks) < num_ops:
            count = min(P.MAX_PROFILE_OPS, num_ops - len(ticks))
            frame = self.request(P.MsgType.READ_PROFILE, P.read_profile(len(ticks), count))
            first, part = P.parse_profile_data(frame.payload)
            if first != len(ticks) or len(part) != count:
                raise DeviceError(f"device sent profile of operators {first}..{first + len(part) - 1}, "
                                  f"asked for {len(ticks)}..{len(ticks) + count - 1}")
            ticks += part
        return ticks

    def run(self, input_bytes: bytes, profile: bool = True) -> tuple[bytes, P.InvokeDone, list[int] | None]:
        """One inference: send the input, invoke, read the output (and per-operator ticks)."""
        info = self.info or self.hello()
        if len(input_bytes) != info.input_bytes:
            raise ValueError(f"input of {len(input_bytes)} bytes, the model takes {info.input_bytes}")
        done = self.invoke_on(input_bytes)
        out = self.read_output(info.output_bytes)
        ticks = self.read_profile(info.num_ops) if profile and info.num_ops else None
        return out, done, ticks

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

DEFAULT_INVOKE_TIMEOUT_S = 120.0  # one inference, when nothing is known of the model
SMALLEST_CHUNK = 64  # bytes: the chunk size retries shrink to (a frame of 78 bytes)


class DeviceError(EdgekitError):
    """The device reported an error, or did not answer correctly after every retry."""


class NoAnswer(DeviceError):
    """No valid answer to a request after every attempt."""


class DeadlinePassed(NoAnswer):
    """The run's deadline passed: no retry, no smaller chunk, no fresh input can help."""


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
    at most (retries + 1) x (its timeout + 2 x resync_s + the time to send a frame twice), and
    nothing waits past :meth:`set_deadline`'s deadline. ``invoke_timeout_s=None`` means
    :data:`DEFAULT_INVOKE_TIMEOUT_S` until the caller sets one from the model
    (:func:`edgekit.harness.profile.invoke_timeout_s`).
    """

    def __init__(self, transport: Transport, timeout_s: float = 2.0, invoke_timeout_s: float | None = None,
                 hello_timeout_s: float = 10.0, retries: int = 4, resync_s: float = 1.0,
                 log: Callable[[str], None] | None = None, first_seq: int | None = None):
        self.transport = transport
        self.deadline: float | None = None  # time.monotonic() after which nothing more is waited for
        self._deadline_s = 0.0
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

    def set_deadline(self, seconds: float | None) -> None:
        """Give up on any request still unanswered ``seconds`` from now (None: no deadline)."""
        self._deadline_s = seconds or 0.0
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def _time_left(self, what: str) -> float:
        if self.deadline is None:
            return float("inf")
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(f"{what}: gave up, the run's deadline of {self._deadline_s:.0f} s passed "
                           "(--deadline SECONDS gives it longer)")
        return left

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
            wait = min(timeout_s, self._time_left(msg_type.name))
            seq = self._next_seq()
            try:
                self.transport.write(P.encode_frame(msg_type, seq, payload), min(self.timeout_s, wait))
            except TransportTimeout as exc:
                self.stats.timeouts += 1
                frame_problem = str(exc)
                self._resync(flush_device=False)
                continue
            try:
                frame = self._await(seq, expect, wait)
            except TransportTimeout:
                self.stats.timeouts += 1
                frame_problem = f"no answer in {wait:.3g} s"
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
        resync_s = (self.resync_s if self.deadline is None
                    else max(0.0, min(self.resync_s, self.deadline - time.monotonic())))
        self.transport.drain(quiet_s=quiet, max_s=resync_s)
        if flush_device:
            # zeros contain no sync byte: they only complete a frame the device is stuck inside
            try:
                self.transport.write(bytes(P.MAX_FRAME), self.timeout_s)
            except TransportTimeout:
                pass
            self.transport.drain(quiet_s=2 * quiet, max_s=resync_s)
        self._decoder.reset()

    # ------------------------------------------------------------------------ operations

    def hello(self) -> P.HelloReply:
        self.transport.drain(quiet_s=0.02, max_s=0.5)  # a boot banner or stale answers
        frame = self.request(P.MsgType.HELLO, timeout_s=self.hello_timeout_s)
        self.info = P.parse_hello_reply(frame.payload)
        return self.info

    def _chunked(self, msg_type: P.MsgType, total: int, largest: int, payload: Callable[[int, int], bytes],
                 accept: Callable[[P.Frame, int, int], None]) -> None:
        """Move ``total`` bytes in chunks of at most ``largest``. A chunk that gets no valid answer
        in two attempts is halved (down to :data:`SMALLEST_CHUNK`, then given every retry): on a
        noisy line a short frame gets through where a long one almost never does."""
        size, off = max(1, min(largest, total)), 0
        while off < total:
            n = min(size, total - off)
            small = size <= SMALLEST_CHUNK
            try:
                frame = self.request(msg_type, payload(off, n), attempts=None if small else 2)
            except DeadlinePassed:
                raise
            except NoAnswer as exc:
                if small:
                    raise
                size = max(SMALLEST_CHUNK, size // 2)
                self.log(f"{msg_type.name}: chunks of {size} bytes from now on ({exc})")
                continue
            accept(frame, off, n)
            off += n

    def write_input(self, data: bytes, chunk_bytes: int = P.MAX_INPUT_CHUNK) -> None:
        def accept(frame: P.Frame, off: int, n: int) -> None:
            req, end = P.parse_ack(frame.payload)
            if req != P.MsgType.INPUT_CHUNK or end != off + n:
                raise DeviceError(f"device acknowledged input bytes up to {end}, expected {off + n}")

        self._chunked(P.MsgType.INPUT_CHUNK, len(data), min(chunk_bytes, P.MAX_INPUT_CHUNK),
                      lambda off, n: P.input_chunk(off, data[off:off + n]), accept)

    def invoke(self, attempts: int | None = None) -> P.InvokeDone:
        frame = self.request(P.MsgType.INVOKE, timeout_s=self.invoke_timeout_s or DEFAULT_INVOKE_TIMEOUT_S,
                             attempts=attempts)
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
                if not attempt or isinstance(exc, DeadlinePassed):
                    raise
                raise NoAnswer(f"INVOKE: no answer ({last}); sending its input again then failed: {exc}") from None
            try:
                return self.invoke(attempts=1)
            except DeadlinePassed:
                raise
            except NoAnswer as exc:
                last = exc
        raise NoAnswer(f"INVOKE: no valid answer after {self.retries + 1} attempts, each from a fresh input "
                       f"({last})")

    def read_output(self, nbytes: int) -> bytes:
        out = bytearray()

        def accept(frame: P.Frame, want_off: int, n: int) -> None:
            off, data = P.parse_output_data(frame.payload)
            if off != want_off or len(data) != n:
                raise DeviceError(f"device sent {len(data)} output bytes at offset {off}, "
                                  f"asked for {n} at {want_off}")
            out.extend(data)

        self._chunked(P.MsgType.READ_OUTPUT, nbytes, P.MAX_OUTPUT_CHUNK, P.read_output, accept)
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
        check_timing(done, ticks)
        return out, done, ticks


def check_timing(done: P.InvokeDone, op_ticks: list[int] | None) -> None:
    """The firmware times each operator between two reads of the timer that lie inside the
    inference's own two reads: the operators' ticks cannot add up to more than the total."""
    if done.timer_overhead_ticks > done.ticks:
        raise DeviceError(f"device report is inconsistent: reading the timer took {done.timer_overhead_ticks:,} "
                          f"ticks, the whole inference {done.ticks:,}")
    if op_ticks and sum(op_ticks) > done.ticks:
        worst = max(range(len(op_ticks)), key=op_ticks.__getitem__)
        raise DeviceError(f"device report is inconsistent: its operators took {sum(op_ticks):,} ticks "
                          f"(operator {worst}: {op_ticks[worst]:,}), the whole inference {done.ticks:,}")

"""The serial protocol between edgekit and the firmware harness (firmware/harness/PROTOCOL.md).

Pure bytes in, bytes out: frame encoding, a resynchronising frame decoder, request payload
builders and typed answer parsers. No I/O here; :mod:`edgekit.harness.device` does the talking.

Frame: sync ``A5 5A`` | type u8 | seq u8 | length u16 | payload | crc32 u32, little-endian,
the CRC (``zlib.crc32``) covering type, seq, length and payload.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

from ..errors import EdgekitError

VERSION = 1
SYNC = b"\xa5\x5a"
HEADER = struct.Struct("<BBH")  # type, seq, length (after the sync bytes)
MAX_PAYLOAD = 1024
MAX_FRAME = len(SYNC) + HEADER.size + MAX_PAYLOAD + 4
MAX_INPUT_CHUNK = MAX_PAYLOAD - 4  # INPUT_CHUNK: u32 offset + bytes
MAX_OUTPUT_CHUNK = 1016  # READ_OUTPUT n
MAX_PROFILE_OPS = 250  # READ_PROFILE count


class MsgType(enum.IntEnum):
    HELLO = 0x01
    INPUT_CHUNK = 0x02
    INVOKE = 0x03
    READ_OUTPUT = 0x04
    READ_PROFILE = 0x05
    HELLO_REPLY = 0x81
    ACK = 0x82
    OUTPUT_DATA = 0x83
    INVOKE_DONE = 0x84
    PROFILE_DATA = 0x85
    ERROR = 0xEE


#: the answer each request expects
ANSWER = {
    MsgType.HELLO: MsgType.HELLO_REPLY,
    MsgType.INPUT_CHUNK: MsgType.ACK,
    MsgType.INVOKE: MsgType.INVOKE_DONE,
    MsgType.READ_OUTPUT: MsgType.OUTPUT_DATA,
    MsgType.READ_PROFILE: MsgType.PROFILE_DATA,
}


class ErrorCode(enum.IntEnum):
    BAD_CRC = 1
    BAD_LENGTH = 2
    UNKNOWN_TYPE = 3
    OUT_OF_RANGE = 4
    NOT_READY = 5
    MALFORMED = 6


#: errors caused by the line (a corrupted or truncated request): worth sending the request again
TRANSIENT_ERRORS = {ErrorCode.BAD_CRC, ErrorCode.BAD_LENGTH, ErrorCode.MALFORMED}


class ProtocolError(EdgekitError):
    """The device answered something this protocol version does not allow."""


# ---------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return encode_frame(self.type, self.seq, self.payload)

    @property
    def type_name(self) -> str:
        try:
            return MsgType(self.type).name
        except ValueError:
            return f"0x{self.type:02x}"


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEADER.pack(msg_type & 0xFF, seq & 0xFF, len(payload)) + bytes(payload)
    return SYNC + body + struct.pack("<I", crc32(body))


@dataclass(frozen=True)
class BadFrame:
    """Something that started with the sync bytes but was not a valid frame."""

    reason: str  # "crc" or "length"
    type: int
    seq: int


class FrameDecoder:
    """Turns a byte stream into frames, resynchronising after garbage.

    Like the device's parser: scan for the sync bytes; a frame whose length exceeds
    ``MAX_PAYLOAD`` or whose CRC fails is reported as :class:`BadFrame`, and scanning resumes
    at the byte after that frame's sync, so a valid frame hidden inside garbage is still found.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped_bytes = 0  # bytes outside any frame, for diagnostics

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        self._buf += data
        out: list[Frame | BadFrame] = []
        buf = self._buf
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # keep a trailing first sync byte: its partner may be in the next chunk
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                self.skipped_bytes += len(buf) - keep
                del buf[:len(buf) - keep]
                break
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < len(SYNC) + HEADER.size:
                break
            msg_type, seq, length = HEADER.unpack_from(buf, len(SYNC))
            if length > MAX_PAYLOAD:
                out.append(BadFrame("length", msg_type, seq))
                del buf[:len(SYNC)]  # resume at the byte after this frame's sync
                continue
            total = len(SYNC) + HEADER.size + length + 4
            if len(buf) < total:
                break
            body = bytes(buf[len(SYNC):total - 4])
            (crc,) = struct.unpack_from("<I", buf, total - 4)
            if crc != crc32(body):
                out.append(BadFrame("crc", msg_type, seq))
                del buf[:len(SYNC)]
                continue
            out.append(Frame(msg_type, seq, body[HEADER.size:]))
            del buf[:total]
        return out

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        self.skipped_bytes += len(self._buf)
        self._buf.clear()


# ---------------------------------------------------------------------------- requests


def input_chunk(offset: int, data: bytes) -> bytes:
    if len(data) > MAX_INPUT_CHUNK:
        raise ValueError(f"input chunk of {len(data)} bytes exceeds {MAX_INPUT_CHUNK}")
    return struct.pack("<I", offset) + bytes(data)


def read_output(offset: int, n: int) -> bytes:
    if not 0 < n <= MAX_OUTPUT_CHUNK:
        raise ValueError(f"output read of {n} bytes: must be 1..{MAX_OUTPUT_CHUNK}")
    return struct.pack("<IH", offset, n)


def read_profile(first: int, count: int) -> bytes:
    if not 0 < count <= MAX_PROFILE_OPS:
        raise ValueError(f"profile read of {count} operators: must be 1..{MAX_PROFILE_OPS}")
    return struct.pack("<HH", first, count)


# ---------------------------------------------------------------------------- answers

#: TFLite TensorType codes the harness reports, as numpy dtype names
DTYPE_CODES = {9: "int8", 3: "uint8", 7: "int16", 2: "int32", 0: "float32"}


@dataclass(frozen=True)
class TensorInfo:
    dtype_code: int
    shape: tuple[int, ...]
    nbytes: int

    @property
    def dtype(self) -> str:
        return DTYPE_CODES.get(self.dtype_code, f"type{self.dtype_code}")

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "shape": list(self.shape), "bytes": self.nbytes}


@dataclass(frozen=True)
class HelloReply:
    version: int
    model_sha256: str  # hex
    clock_hz: int
    timer_hz: int
    arena_bytes: int
    static_ram_bytes: int
    stack_reserve_bytes: int
    num_ops: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    board: str

    @property
    def input_bytes(self) -> int:
        return sum(t.nbytes for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        return sum(t.nbytes for t in self.outputs)

    def to_json(self) -> dict:
        return {"protocol_version": self.version, "model_sha256": self.model_sha256,
                "board": self.board, "clock_hz": self.clock_hz, "timer_hz": self.timer_hz,
                "arena_bytes": self.arena_bytes, "static_ram_bytes": self.static_ram_bytes,
                "stack_reserve_bytes": self.stack_reserve_bytes, "num_ops": self.num_ops,
                "inputs": [t.to_json() for t in self.inputs],
                "outputs": [t.to_json() for t in self.outputs]}


def device_text(raw: bytes, limit: int = 200) -> str:
    """Text the device sent, safe to print: printable ASCII as is, every other byte (newlines,
    escape sequences, backslashes) as ``\\xNN``, at most ``limit`` bytes of it."""
    out = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in raw[:limit])
    return out + (f"... ({len(raw) - limit} more bytes)" if len(raw) > limit else "")


class _Reader:
    """Bounds-checked little-endian reads from a payload; short payloads raise ProtocolError."""

    def __init__(self, payload: bytes, what: str):
        self.buf, self.pos, self.what = payload, 0, what

    def take(self, fmt: str):
        s = struct.Struct("<" + fmt)
        if self.pos + s.size > len(self.buf):
            raise ProtocolError(f"{self.what}: payload of {len(self.buf)} bytes is too short")
        vals = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ProtocolError(f"{self.what}: payload of {len(self.buf)} bytes is too short")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def rest(self) -> bytes:
        b = self.buf[self.pos:]
        self.pos = len(self.buf)
        return bytes(b)

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise ProtocolError(f"{self.what}: {len(self.buf) - self.pos} unexpected trailing bytes")


def parse_hello_reply(payload: bytes) -> HelloReply:
    r = _Reader(payload, "HELLO_REPLY")
    version, _reserved = r.take("BB")
    if version != VERSION:
        raise ProtocolError(f"device speaks harness protocol version {version}; edgekit speaks {VERSION}: "
                            "rebuild the firmware with this edgekit")
    sha = r.bytes(32).hex()
    clock_hz, timer_hz, arena, static_ram, stack_reserve = r.take("IIIII")
    num_ops = r.take("H")
    n_in, n_out = r.take("BB")

    def tensor() -> TensorInfo:
        code, rank = r.take("BB")
        dims = tuple(r.take("I") for _ in range(rank))
        return TensorInfo(code, dims, r.take("I"))

    inputs = tuple(tensor() for _ in range(n_in))
    outputs = tuple(tensor() for _ in range(n_out))
    name = device_text(r.bytes(r.take("B")))
    r.end()
    if timer_hz == 0:
        raise ProtocolError("HELLO_REPLY: timer frequency 0")
    return HelloReply(version, sha, clock_hz, timer_hz, arena, static_ram, stack_reserve,
                      num_ops, inputs, outputs, name)


def encode_hello_reply(h: HelloReply) -> bytes:
    """The HELLO_REPLY payload for ``h`` (what the firmware sends; used by tests)."""
    out = bytearray(struct.pack("<BB", h.version, 0))
    out += bytes.fromhex(h.model_sha256)
    out += struct.pack("<IIIIIHBB", h.clock_hz, h.timer_hz, h.arena_bytes, h.static_ram_bytes,
                       h.stack_reserve_bytes, h.num_ops, len(h.inputs), len(h.outputs))
    for t in (*h.inputs, *h.outputs):
        out += struct.pack("<BB", t.dtype_code, len(t.shape))
        out += b"".join(struct.pack("<I", d) for d in t.shape) + struct.pack("<I", t.nbytes)
    name = h.board.encode("ascii")
    return bytes(out + struct.pack("<B", len(name)) + name)


def parse_ack(payload: bytes) -> tuple[int, int]:
    """(request type, offset + n)."""
    r = _Reader(payload, "ACK")
    vals = r.take("BI")
    r.end()
    return vals


def parse_output_data(payload: bytes) -> tuple[int, bytes]:
    r = _Reader(payload, "OUTPUT_DATA")
    offset = r.take("I")
    return offset, r.rest()


@dataclass(frozen=True)
class InvokeDone:
    status: int
    ticks: int
    stack_peak_bytes: int
    timer_overhead_ticks: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


def parse_invoke_done(payload: bytes) -> InvokeDone:
    r = _Reader(payload, "INVOKE_DONE")
    vals = r.take("IIII")
    r.end()
    return InvokeDone(*vals)


def parse_profile_data(payload: bytes) -> tuple[int, list[int]]:
    """(first operator, ticks per operator)."""
    r = _Reader(payload, "PROFILE_DATA")
    first, count = r.take("HH")
    if len(payload) != 4 + 4 * count:
        raise ProtocolError(f"PROFILE_DATA: {count} operators need {4 + 4 * count} bytes, got {len(payload)}")
    return first, list(struct.unpack_from(f"<{count}I", payload, 4))


@dataclass(frozen=True)
class DeviceErrorInfo:
    code: int
    request_type: int
    message: str

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_ERRORS

    def describe(self) -> str:
        try:
            name = ErrorCode(self.code).name.lower().replace("_", " ")
        except ValueError:
            name = f"code {self.code}"
        try:
            req = MsgType(self.request_type).name if self.request_type else "?"
        except ValueError:
            req = f"0x{self.request_type:02x}"
        return f"{name} (request {req}){': ' + self.message if self.message else ''}"


def parse_error(payload: bytes) -> DeviceErrorInfo:
    r = _Reader(payload, "ERROR")
    code, req = r.take("BB")
    msg = device_text(r.rest().strip(b"\x00").strip())
    return DeviceErrorInfo(code, req, msg)


def encode_error(code: int, request_type: int, message: str = "") -> bytes:
    return struct.pack("<BB", code, request_type) + message.encode("ascii")

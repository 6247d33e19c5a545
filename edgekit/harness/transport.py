"""Byte transports to a device: a UART, QEMU's serial port, a TCP socket.

A :class:`Transport` moves bytes with explicit timeouts and typed errors; it knows nothing of
frames. :class:`SerialTransport` opens any pyserial URL (``/dev/ttyACM0``, a pty path,
``socket://host:port``, ``rfc2217://host:port``). This module is the only place in edgekit
that imports pyserial.
"""

from __future__ import annotations

import abc
import time

import serial

from ..errors import EdgekitError


class TransportError(EdgekitError):
    """The link to the device failed."""


class TransportTimeout(TransportError):
    """Nothing arrived (or nothing could be sent) before the deadline."""


class TransportClosed(TransportError):
    """The port is closed, or the other end went away."""


class Transport(abc.ABC):
    """A bidirectional byte stream with bounded waits."""

    @abc.abstractmethod
    def read(self, n: int, timeout_s: float) -> bytes:
        """Between 1 and ``n`` bytes: whatever has arrived, waiting at most ``timeout_s`` for
        the first byte. Raises :class:`TransportTimeout` if none came, never returns ``b""``."""

    @abc.abstractmethod
    def write(self, data: bytes, timeout_s: float) -> None:
        """All of ``data``, or :class:`TransportTimeout` after ``timeout_s``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port; further reads and writes raise :class:`TransportClosed`."""

    def drain(self, quiet_s: float, max_s: float) -> int:
        """Read and discard input until the line has been quiet for ``quiet_s`` (at most
        ``max_s`` in all). Returns the number of bytes discarded."""
        deadline = time.monotonic() + max_s
        dropped = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return dropped
            try:
                dropped += len(self.read(4096, min(quiet_s, left)))
            except TransportTimeout:
                return dropped

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialTransport(Transport):
    """Any pyserial URL. ``baudrate`` matters for real UARTs only."""

    def __init__(self, url: str, baudrate: int = 115200, open_timeout_s: float = 2.0):
        self.url = url
        self._serial_exc = serial.SerialException
        self._timeout_exc = serial.SerialTimeoutException
        # a just-started QEMU may not be listening yet: network URLs are retried until the deadline
        patient = url.startswith(("socket://", "rfc2217://"))
        deadline = time.monotonic() + open_timeout_s
        while True:
            try:
                self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=1.0)
                break
            except (serial.SerialException, OSError, ValueError) as exc:
                if not patient or isinstance(exc, ValueError) or time.monotonic() >= deadline:
                    raise TransportClosed(f"cannot open {url}: {_first_line(exc)}") from None
                time.sleep(0.1)
        self._timeout: float | None = 0
        self._write_timeout: float | None = 1.0

    def _set_timeout(self, t: float) -> None:
        t = max(0.0, t)
        if t != self._timeout:  # reconfiguring a tty costs a syscall: only when it changes
            self._port.timeout = t
            self._timeout = t

    def read(self, n: int, timeout_s: float) -> bytes:
        if self._port is None:
            raise TransportClosed(f"{self.url}: port closed")
        try:
            self._set_timeout(timeout_s)
            first = self._port.read(1)
            if not first:
                raise TransportTimeout(f"{self.url}: nothing received in {timeout_s:.3g} s")
            if n <= 1:
                return first
            self._set_timeout(0)
            return first + self._port.read(n - 1)
        except self._serial_exc as exc:
            raise TransportClosed(f"{self.url}: {_first_line(exc)}") from None
        except OSError as exc:
            raise TransportClosed(f"{self.url}: {_first_line(exc)}") from None

    def write(self, data: bytes, timeout_s: float) -> None:
        if self._port is None:
            raise TransportClosed(f"{self.url}: port closed")
        try:
            if timeout_s != self._write_timeout:
                self._port.write_timeout = timeout_s
                self._write_timeout = timeout_s
            written = self._port.write(data)
            self._port.flush()
        except self._timeout_exc:
            raise TransportTimeout(f"{self.url}: could not send {len(data)} bytes in {timeout_s:.3g} s") from None
        except self._serial_exc as exc:
            raise TransportClosed(f"{self.url}: {_first_line(exc)}") from None
        except OSError as exc:
            raise TransportClosed(f"{self.url}: {_first_line(exc)}") from None
        if written is not None and written != len(data):
            raise TransportTimeout(f"{self.url}: sent {written} of {len(data)} bytes in {timeout_s:.3g} s")

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_transport(url: str, baudrate: int = 115200, open_timeout_s: float = 2.0) -> Transport:
    return SerialTransport(url, baudrate=baudrate, open_timeout_s=open_timeout_s)

"""A damaged wire between edgekit and the device: the host recovers or fails with a clear
message, never hangs, never accepts a wrong result.

``FaultProxy`` (tests/fakedevice.py) sits between pyserial (``socket://``) and the device and
flips bits, drops, inserts and delays bytes in both directions, seeded. Every scenario runs in a
thread with a hard deadline, so a hang fails the test instead of stalling the run. The device is
the fake one (fast, many seeds) and the real harness firmware on QEMU (a few seeds).
"""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from edgekit.frontend import reference
from edgekit.errors import EdgekitError
from edgekit.harness.device import Device, DeviceError
from edgekit.harness.transport import SerialTransport, TransportError
from fakedevice import FakeDevice, FaultProxy, fake_model

DEADLINE_S = 60.0


def bounded(fn, deadline_s=DEADLINE_S):
    """Run ``fn()`` in a thread; fail the test if it has not finished by the deadline."""
    box = {}

    def body():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
            box["error"] = exc

    t0 = time.monotonic()
    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(deadline_s)
    assert not th.is_alive(), f"no answer and no error after {deadline_s} s: the host hangs"
    return box, time.monotonic() - t0


def _run_samples(url, inputs, **dev_kw):
    dev = Device(SerialTransport(url, open_timeout_s=5), first_seq=0, **dev_kw)
    try:
        dev.hello()
        return [dev.run(x.tobytes())[0] for x in inputs], dev.stats
    finally:
        dev.transport.close()


def _inputs(seed, n=4):
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, (1, 40), dtype=np.int8) for _ in range(n)]


# a fault budget keeps each run finite: the link is damaged, then becomes clean
MIXES = {
    "flip": dict(p_flip=0.01, budget=8),
    "drop": dict(p_drop=0.01, budget=8),
    "insert": dict(p_insert=0.01, budget=8),
    "delay": dict(p_delay=0.2, delay_s=0.5, budget=4),
    "everything": dict(p_flip=0.005, p_drop=0.005, p_insert=0.005, p_delay=0.05, delay_s=0.4, budget=12),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_fake_device_recovers(mix, seed):
    xs = _inputs(seed)
    with FakeDevice() as fake, FaultProxy(("127.0.0.1", fake.port), seed=seed, **MIXES[mix]) as proxy:
        box, elapsed = bounded(lambda: _run_samples(proxy.url, xs, timeout_s=0.3, hello_timeout_s=0.3,
                                                     invoke_timeout_s=0.3, retries=6, resync_s=0.2))
    if "error" in box:
        # a clear, one-line, typed failure is acceptable; silence or a traceback-worthy bug is not
        assert isinstance(box["error"], EdgekitError), repr(box["error"])
        assert "\n" not in str(box["error"])
        pytest.fail(f"gave up after {proxy.faults} faults: {box['error']}")
    outs, stats = box["value"]
    for x, out in zip(xs, outs):
        np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(1, 10), fake_model(x))
    if proxy.faults:
        assert stats.retries + stats.discarded_frames + stats.bad_frames > 0 or mix == "delay"


@pytest.mark.parametrize("seed", range(3))
def test_hopeless_line_fails_clearly(seed):
    """A wire that damages nearly every frame: a clear DeviceError in bounded time, no result."""
    with FakeDevice() as fake, FaultProxy(("127.0.0.1", fake.port), seed=seed, p_flip=0.05) as proxy:
        box, elapsed = bounded(lambda: _run_samples(proxy.url, _inputs(seed), timeout_s=0.2, invoke_timeout_s=0.2,
                                                     hello_timeout_s=0.2, retries=3, resync_s=0.1))
    assert "value" not in box, "a result came through a line that corrupts every frame"
    assert elapsed < 20, f"gave up only after {elapsed:.1f} s"
    assert isinstance(box["error"], (DeviceError, TransportError)), repr(box["error"])
    assert "no valid answer after 4 attempts" in str(box["error"])


def test_device_gone_midway_fails_clearly():
    xs = _inputs(0)
    with FakeDevice(die_after_invokes=1) as fake:
        box, elapsed = bounded(lambda: _run_samples(fake.url, xs, timeout_s=0.2, invoke_timeout_s=0.3,
                                                     retries=2, resync_s=0.1))
    assert isinstance(box.get("error"), DeviceError)
    assert "INVOKE" in str(box["error"]) and elapsed < 10


# ---------------------------------------------------------------------------- on QEMU


@pytest.fixture(scope="module")
def qemu_ad01(mlperf_models, tmp_path_factory):
    """The real harness firmware for ad01_int8 on qemu-mps2-an386, serving on a TCP port."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("needs qemu-system-arm")
    from edgekit.target import emulator
    from edgekit.target.boards import load_board
    from edgekit.target.build import build_firmware

    board = load_board("qemu-mps2-an386")
    model = mlperf_models / "ad01_int8.tflite"
    fw = build_firmware(model, board, tmp_path_factory.mktemp("fw-ad01"))
    with emulator.start(board, fw.elf, serial="tcp") as emu:
        yield model, emu
    reference.shutdown()


def _tcp_address(url: str) -> tuple[str, int]:
    assert url.startswith("socket://"), f"fault tests need QEMU's serial on TCP, got {url}"
    host, port = url[len("socket://"):].rsplit(":", 1)
    return host, int(port)


@pytest.mark.parametrize("seed", range(3))
def test_qemu_firmware_recovers(qemu_ad01, seed, tmp_path):
    from edgekit.harness.profile import profile

    model, emu = qemu_ad01
    # a fresh proxy per run; QEMU's serial socket takes one client at a time
    with FaultProxy(_tcp_address(emu.port_url), seed=seed, p_flip=0.0005, p_drop=0.0005, p_insert=0.0005,
                    p_delay=0.02, delay_s=0.5, budget=10) as proxy:
        def run():
            dev = Device(SerialTransport(proxy.url, open_timeout_s=10), timeout_s=2.0,
                         invoke_timeout_s=20.0, retries=6, resync_s=0.3, first_seq=seed * 50)
            try:
                return profile(dev, model, "qemu-mps2-an386", emulated=True, samples=3, seed=seed,
                               report_path=tmp_path / "r.json")
            finally:
                dev.transport.close()

        box, _ = bounded(run, deadline_s=240)
    if "error" in box:
        assert isinstance(box["error"], EdgekitError), repr(box["error"])
        pytest.fail(f"gave up after {proxy.faults} faults: {box['error']}")
    rep = box["value"]
    assert rep.passed, rep.summary()
    assert proxy.faults > 0, "the proxy injected no fault: the test proved nothing"
    print(f"seed {seed}: {proxy.faults} faults, link {rep.link}")
    assert rep.link["retries"] + rep.link["bad_frames"] + rep.link["discarded_frames"] > 0


def test_qemu_firmware_stuck_in_a_frame_recovers(qemu_ad01):
    """The C parser waits for the 1000 payload bytes a corrupted length announced; the host's
    resync completes that frame and the HELLO retried after it is answered."""
    import struct

    _, emu = qemu_ad01
    dev = Device(SerialTransport(emu.port_url, open_timeout_s=10), timeout_s=1.0, hello_timeout_s=1.0,
                 retries=3, resync_s=0.3)
    try:
        dev.transport.write(b"\xa5\x5a\x01\x00" + struct.pack("<H", 1000), 1.0)
        box, _ = bounded(dev.hello, deadline_s=30)
    finally:
        dev.transport.close()
    assert "value" in box, box.get("error")
    assert box["value"].board == "qemu-mps2-an386"
    assert dev.stats.timeouts == 1 and dev.stats.retries == 1

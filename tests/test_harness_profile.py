"""``profile()`` against a fake device standing in for ad01_int8: hash check, comparison with
tflite-micro, units, and the JSON report written as results arrive (also when it fails midway).

The fake device answers with tflite-micro's own outputs (computed here), so these tests check the
host's bookkeeping, not the kernels; QEMU runs of the real firmware are in test_deploy.py.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from edgekit.frontend import reference
from edgekit.harness.device import Device, DeviceError
from edgekit.harness.profile import ModelMismatch, invoke_timeout_s, profile
from edgekit.harness.transport import SerialTransport
from edgekit.ir import parse_tflite
from edgekit.target.host import random_inputs
from fakedevice import FakeDevice

SAMPLES, SEED = 4, 3


@pytest.fixture(scope="module", autouse=True)
def _stop_reference_pool():
    yield
    reference.shutdown()


@pytest.fixture(scope="module")
def ad01(mlperf_models):
    path = mlperf_models / "ad01_int8.tflite"
    model = path.read_bytes()
    graph = parse_tflite(model)
    data = random_inputs(graph, SAMPLES, SEED)  # what profile() will send, in order
    data += random_inputs(graph, 2, 99)  # the --inputs file of test_inputs_file_first
    want = reference.run_tflm(model, data)
    table = {x[0].tobytes(): y[0].tobytes() for x, y in zip(data, want)}
    return path, hashlib.sha256(model).hexdigest(), graph, table


def _fake(ad01, wrong_on=None, **kw):
    path, sha, graph, table = ad01
    seen = []

    def model_fn(b):
        seen.append(b)
        out = bytearray(table[b])
        if len(seen) - 1 == wrong_on:
            out[5] ^= 1
        return bytes(out)

    t_in, t_out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    return FakeDevice(model_sha256=kw.pop("sha", sha), model_fn=model_fn, inputs=[(9, t_in.shape)],
                      outputs=[(9, t_out.shape)], num_ops=len(graph.ops), **kw)


def _device(fake, **kw):
    return Device(SerialTransport(fake.url, open_timeout_s=5), timeout_s=kw.pop("timeout_s", 1.0), **kw)


def test_profile_passes_and_reports(ad01, tmp_path):
    path = ad01[0]
    with _fake(ad01, board="qemu-mps2-an386") as fake:
        dev = _device(fake)
        try:
            rep = profile(dev, path, "qemu-mps2-an386", emulated=True, samples=SAMPLES, seed=SEED,
                          report_path=tmp_path / "r.json")
        finally:
            dev.transport.close()
    assert rep.passed and rep.reference == "tflite-micro"
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["status"] == "complete" and j["passed"] and j["samples_equal"] == SAMPLES
    # 25 MHz timer under -icount shift=0: 40 instructions per tick
    assert j["latency"]["unit"] == "instructions" and j["latency"]["median"] == fake.total_ticks * 40
    assert len(j["operators"]) == 10 and j["operators"][0]["type"] == "FULLY_CONNECTED"
    assert j["ram"]["stack_peak_bytes"] == 512 and j["ram"]["total_bytes"] == 4096 + 512
    assert "PASS: 4/4" in rep.summary()


def test_real_board_units_are_cycles_and_ms(ad01):
    with _fake(ad01, timer_hz=120_000_000, clock_hz=120_000_000) as fake:
        dev = _device(fake)
        try:
            rep = profile(dev, ad01[0], "fake-board", emulated=False, samples=1, seed=SEED)
        finally:
            dev.transport.close()
    lat = rep.latency()
    assert lat["unit"] == "cycles" and lat["median"] == fake.total_ticks
    assert lat["ms_median"] == pytest.approx(fake.total_ticks / 120e3)


def test_wrong_output_fails(ad01):
    with _fake(ad01, wrong_on=2) as fake:
        dev = _device(fake)
        try:
            rep = profile(dev, ad01[0], "fake-board", emulated=True, samples=SAMPLES, seed=SEED)
        finally:
            dev.transport.close()
    assert not rep.passed
    assert [s["equal"] for s in rep.samples] == [True, True, False, True]
    assert rep.samples[2]["max_abs_diff"] == [1]
    assert "FAIL: 3/4" in rep.summary()


def test_hash_mismatch_is_one_line(ad01, tmp_path):
    with _fake(ad01, sha="00" * 32) as fake:
        dev = _device(fake)
        try:
            with pytest.raises(ModelMismatch) as exc:
                profile(dev, ad01[0], "fake-board", emulated=True, samples=1, report_path=tmp_path / "r.json")
        finally:
            dev.transport.close()
    msg = str(exc.value)
    assert "\n" not in msg and "another model" in msg and "ad01_int8.tflite" in msg
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["status"] == "failed" and j["samples_run"] == 0


def test_failure_midway_keeps_gathered_results(ad01, tmp_path):
    with _fake(ad01, die_after_invokes=2) as fake:
        dev = _device(fake, timeout_s=0.2, invoke_timeout_s=0.2, retries=1)
        try:
            with pytest.raises(DeviceError, match="INVOKE: no valid answer"):
                profile(dev, ad01[0], "fake-board", emulated=True, samples=SAMPLES, seed=SEED,
                        report_path=tmp_path / "r.json")
        finally:
            dev.transport.close()
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["status"] == "failed" and "INVOKE" in j["error"]
    assert j["samples_run"] == 2 and j["samples_equal"] == 2 and j["latency"] is not None


def test_deadline_ends_the_run_and_keeps_what_was_measured(ad01, tmp_path):
    with _fake(ad01, die_after_invokes=2) as fake:
        dev = _device(fake, timeout_s=0.5, resync_s=0.1)  # INVOKE's timeout from the model: seconds
        t0 = time.monotonic()
        try:
            with pytest.raises(DeviceError, match="deadline of 3 s passed"):
                profile(dev, ad01[0], "fake-board", emulated=True, samples=SAMPLES, seed=SEED,
                        report_path=tmp_path / "r.json", deadline_s=3)
        finally:
            dev.transport.close()
    assert time.monotonic() - t0 < 8
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["status"] == "failed" and j["samples_run"] == 2 and j["samples_equal"] == 2


def test_invoke_timeout_grows_with_the_model(ad01, mlperf_models):
    with _fake(ad01) as fake:
        dev = _device(fake)
        try:
            info = dev.hello()
        finally:
            dev.transport.close()
    small = invoke_timeout_s(ad01[2], info, emulated=True)
    big = invoke_timeout_s(parse_tflite((mlperf_models / "vww_96_int8.tflite").read_bytes()), info, emulated=True)
    # ad01 (0.26 M MACs) runs in well under a second even with the cycle plugin; vww has 30x the MACs
    assert 5 < small < 15 and big > 3 * small
    # a real board at 25 MHz may take 1/4 instruction per cycle: slower than the emulator's floor
    assert invoke_timeout_s(ad01[2], info, emulated=False) > 5


def test_inputs_file_first(ad01, tmp_path):
    graph = ad01[2]
    given = np.stack([x[0] for x in random_inputs(graph, 2, 99)])
    np.save(tmp_path / "x.npy", given)
    with _fake(ad01) as fake:
        dev = _device(fake)
        try:
            rep = profile(dev, ad01[0], "fake-board", emulated=True, samples=1, seed=SEED,
                          inputs_file=tmp_path / "x.npy")
        finally:
            dev.transport.close()
    assert rep.passed and [s["input"] for s in rep.samples] == ["x.npy[0]", "x.npy[1]", f"random (seed {SEED}) #0"]
    assert rep.inputs_description == f"3 inputs (2 from x.npy, 1 random (seed {SEED}))"


def test_without_tflm_compares_with_litert_and_says_so(ad01, monkeypatch):
    from edgekit.errors import ReferenceUnavailable

    def no_tflm(*a, **k):
        raise ReferenceUnavailable("the tflite-micro interpreter crashed on this model")

    monkeypatch.setattr(reference, "run_tflm", no_tflm)
    with _fake(ad01) as fake:
        dev = _device(fake)
        try:
            rep = profile(dev, ad01[0], "fake-board", emulated=True, samples=2, seed=SEED)
        finally:
            dev.transport.close()
    assert rep.reference == "LiteRT reference kernels"
    assert "tflite-micro could not run this model" in rep.reference_note
    assert "note: tflite-micro could not run" in rep.summary()
    assert f"outputs equal to LiteRT reference kernels" in rep.summary()

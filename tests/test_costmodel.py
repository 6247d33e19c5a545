"""edgekit.compress.costmodel: the fit recovers what it is given, the shipped model was fitted on
the current kernels and cycle model, and it predicts the estimated cycles of networks it was not
fitted on, run on the emulated board now, within 15 %."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.compress import costmodel, costnets
from edgekit.compress.costmodel import OpFeatures
from edgekit.errors import EdgekitError
from edgekit.target.boards import load_board


def _op(rng, i, op_type, fn):
    ch, pix, taps = (int(v) for v in rng.integers(1, 64, size=3))
    return OpFeatures(i, op_type, fn, ch * pix * taps, ch * pix, int(rng.integers(10, 5000)), ch, pix)


def test_fit_recovers_coefficients():
    rng = np.random.default_rng(0)
    true = {"ek_a_s8": {"per_call": 300.0, "per_block_mac": 1.5, "per_block_output": 12.0},
            "ek_b_s8": {"per_call": 50.0, "per_output": 20.0, "per_input": 3.0}}
    rows = []
    for fn, c in true.items():
        for i in range(30):
            f = _op(rng, i, "CONV_2D" if fn == "ek_a_s8" else "ADD", fn)
            rows.append((f, float(np.dot([c.get(t, 0.0) for t in costmodel.TERMS], f.vector()))))
    coeffs, errors = costmodel.fit(rows)
    for fn, c in true.items():
        np.testing.assert_allclose([coeffs[fn][t] for t in costmodel.TERMS],
                                   [c.get(t, 0.0) for t in costmodel.TERMS], rtol=1e-6, atol=1e-6)
        assert errors[fn] < 1e-9
    m = costmodel.CostModel("qemu-mps2-an386", "cortex-m4", coeffs)
    assert m.cycles(rows[0][0]) == pytest.approx(rows[0][1])
    assert m.latency_ms(1e6, 25_000_000) == pytest.approx(40.0)
    # an unknown kernel falls back to its operator type; an alias costs nothing
    f = OpFeatures(0, "ADD", "ek_new_s8", 0, 100, 100, 10, 10)
    assert m.cycles(f) == pytest.approx(50 + 2000 + 300)
    assert m.cycles(OpFeatures(0, "RESHAPE", "", 0, 100, 100)) == 0.0


def test_block_terms_count_pixels_in_fours():
    one, four, five = (OpFeatures(0, "CONV_2D", "k", 8 * p * 9, 8 * p, 9 * p, 8, p).vector() for p in (1, 4, 5))
    at = {t: i for i, t in enumerate(costmodel.TERMS)}
    assert one[at["per_block_mac"]] == four[at["per_block_mac"]] == 8 * 4 * 9
    assert five[at["per_block_output"]] == 8 * 8 and five[at["per_block_tap"]] == 8 * 9


def test_shipped_cost_model_is_fitted_on_the_current_kernels(tmp_path):
    fitted = json.loads(costmodel.DATA_FILE.read_text())["boards"]
    assert costmodel.DEFAULT_BOARD in fitted
    for board in fitted:
        m = costmodel.load(board)
        assert m.board == board and m.samples > 0 and m.code_bytes > 0 and "default" in m.coefficients
        assert costmodel.stale(m) == [], (f"the kernels or the cycle model changed since the cost model of {board} "
                                          f"was fitted ({costmodel.stale(m)}): run {costmodel.REFIT_COMMAND} "
                                          f"--board {board}")
    m = costmodel.load(costmodel.DEFAULT_BOARD)
    # the kernels the DSP lowering chooses in the training networks, incl. Winograd, depthwise
    # rows and palettized weights (the chunked and the one-pixel kernels), have their own coefficients
    for fn in ("ek_conv2d_dsp_s8", "ek_conv3x3_wino_dsp_s8", "ek_depthwise_rows_dsp_s8", "ek_conv2d_pal_dsp_s8",
               "ek_conv2d_pal_dsp_pixel_s8", "ek_fully_connected_dsp_s8"):
        assert fn in m.coefficients, fn
    # a board with no section of its own gets the model of the emulated board of its core
    assert "nrf52840-dk" not in fitted and costmodel.load("nrf52840-dk").board == costmodel.DEFAULT_BOARD
    out = costmodel.save(m, tmp_path / "c.json")
    assert costmodel.load("qemu-mps2-an386", out).coefficients == m.coefficients
    with pytest.raises(EdgekitError, match="no cost model"):
        costmodel.load("rpi-pico", out)


def test_stale_names_what_changed():
    m = costmodel.load("qemu-mps2-an386")
    m.sources = {**m.sources, "kernels": "0" * 16}
    assert costmodel.stale(m) == ["kernels"]


@pytest.fixture(scope="module")
def held_out():
    data = costnets.digits()
    return [(spec, costnets.build(spec, data)) for spec in costnets.HELD_OUT]


def test_held_out_networks_within_15_percent(held_out):
    """Networks the model was not fitted on, run on the emulated board now."""
    board = load_board(costmodel.DEFAULT_BOARD)
    m = costmodel.load(board)
    fitted = set(m.networks)
    errors = {}
    for spec, tfl in held_out:
        assert spec.name not in fitted
        got = costmodel.measure(tfl, board)
        assert got.passed and got.cycles > 0
        errors[spec.name] = m.predict(tfl, board) / got.cycles - 1
    assert max(abs(e) for e in errors.values()) <= 0.15, errors

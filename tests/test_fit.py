"""edgekit.compress.costmodel and edgekit fit: the cost model fits what it is given, the data file
loads, and the search screens, trains, picks and saves a network that fits the board."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.compress import costmodel, fit
from edgekit.compress.costmodel import OpFeatures


def test_fit_recovers_coefficients():
    rng = np.random.default_rng(0)
    true = {"ek_a_s8": (300.0, 1.5, 12.0, 0.0), "ek_b_s8": (50.0, 0.0, 20.0, 3.0)}
    rows = []
    for fn, c in true.items():
        for i in range(12):
            f = OpFeatures(i, "CONV_2D" if fn == "ek_a_s8" else "ADD", fn,
                           int(rng.integers(0, 100000)) if c[1] else 0,
                           int(rng.integers(10, 5000)), int(rng.integers(10, 5000)))
            rows.append((f, float(np.dot(c, f.vector()))))
    coeffs, errors = costmodel.fit(rows)
    for fn, c in true.items():
        np.testing.assert_allclose([coeffs[fn][t] for t in costmodel.TERMS], c, rtol=1e-6, atol=1e-6)
        assert errors[fn] < 1e-9
    m = costmodel.CostModel("cortex-m4", coeffs, cycles_per_instruction=1.25)
    f = rows[0][0]
    assert m.instructions(f) == pytest.approx(rows[0][1])
    assert m.latency_ms(1e6, 100_000_000) == pytest.approx(12.5)
    # an unknown kernel falls back to its operator type
    assert m.instructions(OpFeatures(0, "ADD", "ek_new_s8", 0, 100, 100)) == pytest.approx(50 + 2000 + 300)


def test_shipped_cost_model_loads(tmp_path):
    m = costmodel.load("cortex-m4")
    assert m.samples > 0 and m.code_bytes > 0 and "default" in m.coefficients
    assert "ek_conv2d_pal_s8" in m.coefficients  # the compressed kernels were measured too
    out = costmodel.save(m, tmp_path / "c.json")
    assert costmodel.load("cortex-m4", out).coefficients == m.coefficients
    from edgekit.errors import EdgekitError

    with pytest.raises(EdgekitError, match="no cost model"):
        costmodel.load("cortex-m0plus", out)


@pytest.fixture(scope="module")
def digits():
    from edgekit.compress.data import digits

    return digits()


def test_search_picks_a_network_that_fits(digits, tmp_path):
    from edgekit.target.boards import load_board

    board = load_board("qemu-mps2-an386")
    cands = [fit.Candidate("ds_cnn", 0.25, 16, 0.5), fit.Candidate("mobilenet_v1", 0.25, 16, 0.5),
             fit.Candidate("mobilenet_v1", 2.0, 32, 1.0)]  # the last is far too big for flash
    lines = []
    result = fit.search(board.name, digits, None, cands, epochs=2, max_trials=2, out_dir=tmp_path,
                        log=lines.append)
    big = cands[2]
    assert not big.fits and "flash" in big.why_not and not big.trained
    assert result.winner is not None and result.winner.fits and result.winner.trained
    assert result.winner.flash_bytes <= board.flash_bytes and result.winner.ram_bytes <= board.ram_bytes
    assert result.winner.int8_accuracy == max(c.int8_accuracy for c in cands if c.trained)
    assert result.tflite_path.exists() and result.keras_path.exists()
    assert result.firmware_sizes is not None  # the winner's firmware was built for the board
    assert result.firmware_sizes["flash_bytes"] <= board.flash_bytes
    report = json.loads((tmp_path / "fit_report.json").read_text())
    assert len(report["candidates"]) == 3
    assert any(l.startswith("[screen 3/3]") for l in lines) and any(l.startswith("[train") for l in lines)
    assert "<- winner" in result.table()
    # the saved winner is a plain int8 model that validates bit-exact
    from edgekit.compress import measure as deploy

    assert deploy.validate_bit_exact(result.tflite_path.read_bytes(), samples=2).passed


def test_latency_limit_excludes(digits):
    cands = [fit.Candidate("mobilenet_v1", 0.25, 16, 0.5)]
    result = fit.search("qemu-mps2-an386", digits, 1e-4, cands, epochs=1, log=lambda m: None)
    assert result.winner is None and not cands[0].fits and "ms" in cands[0].why_not


def test_cli_fit(tmp_path, capsys):
    from edgekit.cli import main

    code = main(["fit", "--board", "qemu-mps2-an386", "--data", "digits", "--families", "ds_cnn",
                 "--widths", "0.25", "--resolutions", "16", "--depths", "0.5", "--epochs", "1",
                 "--max-trials", "1", "-o", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "winner: ds_cnn w0.25 r16 d0.5" in out.out and "[screen 1/1]" in out.err
    assert (tmp_path / "fit_report.json").exists()

"""edgekit fit: the search screens with the cost model, trains, measures the winner on the emulated
board before accepting it (rejecting it when it misses the budget), and saves a network that fits
the board. The cost model itself: tests/test_costmodel.py."""

from __future__ import annotations

import json

import pytest

from edgekit.compress import costmodel, fit


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
    # the winner was run on the emulated board before it was accepted, and the cost model's
    # prediction of it is within 15 % of what was measured
    w = result.winner
    assert w.measured_cycles > 0 and w.measured_ms == pytest.approx(w.measured_cycles / board.clock_hz * 1e3)
    assert w.latency_ms == pytest.approx(w.predicted_cycles / board.clock_hz * 1e3)
    assert abs(w.latency_error) <= 0.15
    assert report["fit_latency_error_max"] == pytest.approx(result.latency_error_max)
    assert result.latency_error_max <= 0.15
    assert all(c["measured_cycles"] is None or c["trained"] for c in report["candidates"])
    assert any(l.startswith("[measure]") and "predicted" in l and "measured" in l for l in lines)
    # the saved winner is a plain int8 model that validates bit-exact
    from edgekit.compress import measure as deploy

    assert deploy.validate_bit_exact(result.tflite_path.read_bytes(), samples=2).passed


def test_int4_candidates_are_screened_trained_and_measured_as_int4(digits, tmp_path):
    """Precision is a search dimension: an int4 candidate's Conv2D kernels are stored INT4 from the
    screen on (less weight flash than the same network in int8), it is trained with 4-bit QAT, and
    the winner saved is the INT4 model, measured on the emulated board (outputs equal to the
    reference) before it was accepted."""
    from edgekit.codegen.core import target_for_cpu
    from edgekit.compress import measure as deploy
    from edgekit.ir import parse_tflite
    from edgekit.target.boards import load_board

    board = load_board("qemu-mps2-an386")
    c8 = fit.screen(fit.Candidate("ds_cnn", 0.5, 16, 0.5), digits, board, costmodel.load(board),
                    target_for_cpu(board.cpu), None)
    cands = fit.grid(["ds_cnn"], [0.5], [16], [0.5], weight_bits=[4])
    assert [c.label for c in cands] == ["ds_cnn w0.5 r16 d0.5 int4"]
    result = fit.search(board.name, digits, None, cands, epochs=2, max_trials=1, out_dir=tmp_path,
                        build_winner=False, log=lambda m: None)
    c4 = result.winner
    assert c4 is cands[0] and c4.trained and c4.measured_cycles > 0
    assert c4.macs == c8.macs and c4.weight_bytes < c8.weight_bytes
    tfl = result.tflite_path.read_bytes()
    g = parse_tflite(tfl)
    int4_convs = [op for op in g.ops if op.type_name == "CONV_2D" and g.tensors[op.inputs[1]].dtype.np_name == "int4"]
    assert int4_convs
    assert deploy.deploy_stats(tfl, target=target_for_cpu(board.cpu)).weight_bytes < c8.weight_bytes
    assert deploy.validate_bit_exact(tfl, samples=2).passed
    with pytest.raises(Exception, match="8 and 4 bits"):
        fit.grid(["ds_cnn"], weight_bits=[2])


def test_block_sparse_candidates_are_screened_trained_and_measured_sparse(digits, tmp_path):
    """Sparsity is a search dimension: a block-sparse candidate is screened with half of its Conv2D
    kernels' 16x2 blocks zero (less weight flash and fewer predicted cycles than the same network
    dense: the DSP block-sparse convolution neither stores nor computes them), trained with block
    pruning in its last epochs, and the winner saved keeps them zero, runs the block-sparse kernel
    and was measured on the emulated board (outputs equal to the reference)."""
    from edgekit.codegen import generate
    from edgekit.codegen.core import target_for_cpu
    from edgekit.compress import measure as deploy
    from edgekit.ir import parse_tflite
    from edgekit.target.boards import load_board

    board = load_board("qemu-mps2-an386")
    cost = costmodel.load(board)
    dense = fit.screen(fit.Candidate("ds_cnn", 0.5, 16, 0.5), digits, board, cost, target_for_cpu(board.cpu), None)
    cands = fit.grid(["ds_cnn"], [0.5], [16], [0.5], weight_bits=[8, 4], block_sparsities=[0.5])
    assert [c.label for c in cands] == ["ds_cnn w0.5 r16 d0.5 blocks50"]  # not with int4 (an int8 kernel)
    result = fit.search(board.name, digits, None, cands, epochs=2, max_trials=1, out_dir=tmp_path,
                        build_winner=False, log=lambda m: None)
    sparse = result.winner
    assert sparse is cands[0] and sparse.trained and sparse.measured_cycles > 0
    assert sparse.macs == dense.macs and sparse.weight_bytes < dense.weight_bytes
    assert sparse.predicted_cycles < dense.predicted_cycles
    tfl = result.tflite_path.read_bytes()
    gen = generate(parse_tflite(tfl), tmp_path / "gen", target=target_for_cpu(board.cpu))
    assert "ek_conv2d_sparse_dsp_s8" in {c.function for c in gen.calls}
    assert deploy.validate_bit_exact(tfl, samples=2).passed
    with pytest.raises(Exception, match="block sparsity"):
        fit.grid(["ds_cnn"], block_sparsities=[1.0])


def test_latency_limit_excludes(digits):
    cands = [fit.Candidate("mobilenet_v1", 0.25, 16, 0.5)]
    result = fit.search("qemu-mps2-an386", digits, 1e-4, cands, epochs=1, log=lambda m: None)
    assert result.winner is None and not cands[0].fits and "ms" in cands[0].why_not


def test_winner_that_misses_the_budget_when_measured_is_rejected(digits):
    """A cost model that predicts nothing lets every candidate through the screen; measured on
    the emulated board, each misses the budget and is rejected in turn."""
    board = "qemu-mps2-an386"
    shipped = costmodel.load(board)
    blind = costmodel.CostModel(shipped.board, shipped.core, {"default": {t: 0.0 for t in costmodel.TERMS}},
                                shipped.code_bytes, shipped.other_ram_bytes, sources=shipped.sources)
    cands = [fit.Candidate("ds_cnn", 0.25, 16, 0.5), fit.Candidate("mobilenet_v1", 0.125, 16, 0.5)]
    lines = []
    result = fit.search(board, digits, 0.01, cands, epochs=1, max_trials=2, log=lines.append, cost=blind)
    assert result.winner is None
    for c in cands:
        assert c.trained and c.measured_cycles > 0 and c.measured_ms > 0.01
        assert c.predicted_cycles == 0 and c.latency_error == pytest.approx(-1.0)
        assert not c.fits and "measured" in c.why_not
    assert result.latency_error_max == pytest.approx(1.0)
    assert sum("rejected" in l for l in lines) == 2


def test_cli_fit(tmp_path, capsys):
    from edgekit.cli import main

    code = main(["fit", "--board", "qemu-mps2-an386", "--data", "digits", "--families", "ds_cnn",
                 "--widths", "0.25", "--resolutions", "16", "--depths", "0.5", "--epochs", "1",
                 "--max-trials", "1", "-o", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "winner: ds_cnn w0.25 r16 d0.5" in out.out and "[screen 1/1]" in out.err
    assert "predicted" in out.out and "largest latency error" in out.out
    report = json.loads((tmp_path / "fit_report.json").read_text())
    assert report["fit_latency_error_max"] is not None


def test_cli_fit_needs_board_and_data(capsys):
    from edgekit.cli import main

    assert main(["fit", "--board", "qemu-mps2-an386"]) == 2
    assert capsys.readouterr().err.startswith("edgekit: error: fit needs --board and --data")

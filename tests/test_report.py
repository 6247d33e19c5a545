"""``edgekit report``: the HTML page of the digits example (trained here), parsed: one row per
operator with its kernel, measured time from a real profile on the emulated M4, per-layer SQNR
against the float Keras model, flash and RAM equal to what ``edgekit build`` measures, and the
timeline as an embedded PNG; then rendered by a real browser (Debian's Chromium, headless)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

import pytest
from conftest import ROOT

from edgekit.cli import main

BOARD = "qemu-mps2-an386"


class _Page(HTMLParser):
    """The operator table's cells and the images' sources."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self._table, self._cell = [], [], False, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "operators":
            self._table = True
        elif tag == "tr" and self._table:
            self.rows.append([])
        elif tag == "td" and self._table:
            self._cell = ""
        elif tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("digits_example", ROOT / "examples" / "digits.py")
    example = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = example
    spec.loader.exec_module(example)
    d = tmp_path_factory.mktemp("digits")
    trained = example.train(d, epochs=10)
    assert main(["convert", str(trained.model_path), "-o", str(d / "digits.tflite"), "--calib",
                 str(trained.calib_path)]) == 0
    return trained, d / "digits.tflite"


def test_report_of_the_digits_model(digits, tmp_path, capsys):
    trained, tflite = digits
    assert main(["deploy", str(tflite), "--board", BOARD, "--samples", "3", "-o", str(tmp_path / "fw")]) == 0
    assert main(["report", str(tflite), "-o", str(tmp_path / "r.html"), "--board", BOARD, "--keras",
                 str(trained.model_path), "--inputs", str(trained.calib_path),
                 "--profile", str(tmp_path / "fw" / "profile.json")]) == 0
    capsys.readouterr()
    text = (tmp_path / "r.html").read_text()
    page = _Page()
    page.feed(text)
    rows = [r for r in page.rows if r]
    profile = json.loads((tmp_path / "fw" / "profile.json").read_text())
    assert len(rows) == len(profile["operators"]) == 8
    types = [r[1] for r in rows]
    assert types == [o["type"] for o in profile["operators"]]  # the order the firmware runs them in
    for r, o in zip(rows, profile["operators"]):
        assert r[8] == f"{o['instructions']:,}"  # measured on the emulated M4, per operator
    kernels = [r[6] for r in rows]
    assert any(k.endswith("_dsp_s8") for k in kernels)  # the board's DSP kernels
    sqnr = [float(r[10]) for r in rows]
    assert all(15 < v < 80 for v in sqnr), sqnr  # int8 tracks the float model, not perfectly
    build_info = json.loads((tmp_path / "fw" / "build.json").read_text())
    build = build_info["sizes"]
    assert f"<th>stack</th><td>model_invoke needs at most {build_info['invoke_stack_bytes']:,} bytes" in text
    assert f"<th>flash</th><td>{build['flash_bytes']:,} of {build['flash_limit_bytes']:,} bytes" in text
    assert f"<th>RAM</th><td>{build['ram_bytes']:,} of {build['ram_limit_bytes']:,} bytes" in text
    (img,) = [i for i in page.images if i.get("id") == "timeline"]
    png = base64.b64decode(img["src"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")  # self-contained
    _renders_in_a_browser(tmp_path / "r.html", len(rows))


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, timeout=120, check=True)


def _colour_pixels(png: Path) -> int:
    """Pixels whose channels differ by more than 60: colour, not the page's black, grey and white."""
    from PIL import Image

    px = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int(np.sum(px.max(axis=2) - px.min(axis=2) > 60))


def _renders_in_a_browser(page: Path, n_ops: int) -> None:
    """Debian's Chromium, headless: the DOM it builds has the operator table whole, and the
    screenshot shows the timeline. The control is the same page with the picture's data removed:
    the colour the timeline brings must be gone from it."""
    dom = _chromium("--dump-dom", page.as_uri()).stdout.decode()
    parsed = _Page()
    parsed.feed(dom)
    assert len([r for r in parsed.rows if r]) == n_ops
    window = "--window-size=1400,3000"
    _chromium(window, f"--screenshot={page.with_suffix('.png')}", page.as_uri())
    text = page.read_text()
    blank = page.with_name("no-picture.html")
    blank.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', text))
    _chromium(window, f"--screenshot={blank.with_suffix('.png')}", blank.as_uri())
    with_picture, without = _colour_pixels(page.with_suffix(".png")), _colour_pixels(blank.with_suffix(".png"))
    assert with_picture > 20_000 and without < with_picture / 4, (with_picture, without)


def test_report_refuses_another_models_profile(digits, mlperf_models, tmp_path, capsys):
    _trained, tflite = digits
    other = tmp_path / "p.json"
    other.write_text(json.dumps({"model_sha256": "00" * 32}))
    assert main(["report", str(tflite), "-o", str(tmp_path / "r.html"), "--profile", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "profiled another model" in err[0] and not (tmp_path / "r.html").exists()

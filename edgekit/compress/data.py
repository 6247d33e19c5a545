"""Data sets for training and calibration: scikit-learn's ``load_digits`` (no download) or an
``.npz`` file, split with a fixed seed and resized with bilinear interpolation in numpy."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import CalibrationDataError


@dataclass(frozen=True)
class Dataset:
    """Float images (N, H, W, C) in [0, 1] or standardised, integer labels (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def resized(self, resolution) -> "Dataset":
        hw = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
        if hw == self.input_shape[:2]:
            return self
        return replace(self, x_train=resize(self.x_train, hw), x_test=resize(self.x_test, hw))

    def calibration(self, n: int = 100) -> list[list[np.ndarray]]:
        """The first ``n`` training images, batch 1 each (the converter's representative data)."""
        return [[self.x_train[i:i + 1].astype(np.float32)] for i in range(min(n, len(self.x_train)))]


def _axis_weights(n_in: int, n_out: int):
    """Half-pixel-centre bilinear sampling positions along one axis (TensorFlow's default)."""
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def resize(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, H, W, C) images to (N, hw[0], hw[1], C)."""
    x = np.asarray(x, dtype=np.float32)
    lo, hi, f = _axis_weights(x.shape[1], hw[0])
    x = x[:, lo] * (1 - f)[None, :, None, None] + x[:, hi] * f[None, :, None, None]
    lo, hi, f = _axis_weights(x.shape[2], hw[1])
    x = x[:, :, lo] * (1 - f)[None, None, :, None] + x[:, :, hi] * f[None, None, :, None]
    return x.astype(np.float32)


def split(x, y, test_fraction: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    te, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[te], y[te]


def digits(resolution=None, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, shipped with the package), scaled
    to [0, 1], 80/20 split with ``seed``, optionally resized (e.g. to 32x32)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int64)
    ds = Dataset("digits", *split(x, y, 0.2, seed), num_classes=10)
    return ds.resized(resolution) if resolution is not None else ds


def load(spec: str | Path, resolution=None, seed: int = 0) -> Dataset:
    """``digits`` or an ``.npz`` with ``x_train, y_train[, x_test, y_test]`` (or ``x, y``)."""
    if str(spec) == "digits":
        return digits(resolution, seed)
    path = Path(spec)
    if not path.is_file():
        raise CalibrationDataError(f"{spec}: no such data file (give 'digits' or an .npz)")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise CalibrationDataError(f"{path}: cannot read as .npz ({type(exc).__name__})") from None
    keys = set(z.files)
    if {"x_train", "y_train"} <= keys:
        xtr, ytr = z["x_train"], z["y_train"]
        if {"x_test", "y_test"} <= keys:
            xte, yte = z["x_test"], z["y_test"]
        else:
            xtr, ytr, xte, yte = split(xtr, ytr, 0.2, seed)
    elif {"x", "y"} <= keys:
        xtr, ytr, xte, yte = split(z["x"], z["y"], 0.2, seed)
    else:
        raise CalibrationDataError(f"{path}: needs arrays x_train, y_train (or x, y); has {sorted(keys)}")
    xtr, xte = np.asarray(xtr, np.float32), np.asarray(xte, np.float32)
    if xtr.ndim == 3:
        xtr, xte = xtr[..., None], xte[..., None]
    if xtr.ndim != 4:
        raise CalibrationDataError(f"{path}: x has shape {xtr.shape}; expected (N, H, W[, C])")
    ytr, yte = np.asarray(ytr).astype(np.int64).reshape(-1), np.asarray(yte).astype(np.int64).reshape(-1)
    if len(ytr) != len(xtr) or len(yte) != len(xte):
        raise CalibrationDataError(f"{path}: x and y differ in length")
    ds = Dataset(path.stem, xtr, ytr, xte, yte, int(max(ytr.max(), yte.max())) + 1)
    return ds.resized(resolution) if resolution is not None else ds

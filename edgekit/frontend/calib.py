"""Calibration data: ``.npy``, ``.npz``, a folder of images, or synthetic data, fitted to the
model's inputs (conventions in ``edgekit.frontend.convert``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CalibrationDataError
from .keras_model import ModelInput

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".pbm",
                            ".tif", ".tiff", ".webp"})
# pixel x in 0..255 -> x * scale + offset
IMAGE_RANGES = {"unit": (1.0 / 255.0, 0.0), "symmetric": (1.0 / 127.5, -1.0), "raw": (1.0, 0.0)}
LABEL_KEYS = frozenset({"labels", "label", "y"})


SEED = 0


@dataclass
class RawData:
    path: Path
    arrays: list[tuple[str, np.ndarray]] | None = None  # .npy / .npz, in file order
    images: list[Path] | None = None


def read_data(path: Path) -> RawData:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise CalibrationDataError(
                f"{path}: no images in the folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return RawData(path, images=files)
    if not path.exists():
        raise CalibrationDataError(f"{path}: no such calibration file or folder")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise CalibrationDataError(f"{path}: calibration data must be .npy, .npz or a folder of images")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = [(k, loaded[k]) for k in loaded.files]
        else:
            arrays = [("", loaded)]
    except Exception as exc:
        raise CalibrationDataError(f"{path}: cannot read it as {suffix} ({type(exc).__name__})") from None
    if not arrays:
        raise CalibrationDataError(f"{path}: holds no arrays")
    for key, a in arrays:
        what = f"{path}" + (f"[{key!r}]" if key else "")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
            raise CalibrationDataError(f"{what}: {a.dtype} data; calibration data must be real numbers")
        if a.size == 0:
            raise CalibrationDataError(f"{what}: empty array {a.shape}")
    return RawData(path, arrays=arrays)


def fit_arrays(raw: RawData, inputs: list[ModelInput]) -> dict[str, np.ndarray]:
    """One float32 array (N, *input shape) per input name, from a .npy or .npz file."""
    arrays = raw.arrays
    names = [i.name for i in inputs]
    by_key = dict(arrays)
    if len(arrays) == 1 and arrays[0][0] == "":  # .npy
        if len(inputs) != 1:
            raise CalibrationDataError(
                f"{raw.path}: the model has {len(inputs)} inputs ({', '.join(names)}); "
                "give a .npz with one array per input")
        chosen = [arrays[0]]
    elif all(n in by_key for n in names):
        chosen = [(n, by_key[n]) for n in names]
    else:
        data = [(k, a) for k, a in arrays if k not in LABEL_KEYS]
        if len(data) != len(inputs):
            raise CalibrationDataError(
                f"{raw.path}: holds arrays {', '.join(k for k, _ in arrays)}; the model's inputs are "
                f"{', '.join(names)} (key the .npz by input name, or store one array per input in order)")
        chosen = data
    fitted = {}
    for inp, (key, a) in zip(inputs, chosen):
        what = f"{raw.path}" + (f"[{key!r}]" if key else "")
        fitted[inp.name] = _fit_shape(a, inp, what)
    counts = {len(v) for v in fitted.values()}
    if len(counts) != 1:
        raise CalibrationDataError(f"{raw.path}: the arrays hold different numbers of samples")
    for name, a in fitted.items():
        if not np.all(np.isfinite(a)):
            raise CalibrationDataError(f"{raw.path}: data for input {name!r} holds NaN or infinity")
    return fitted


def _fit_shape(a: np.ndarray, inp: ModelInput, what: str) -> np.ndarray:
    want = inp.shape

    def fits(shape) -> bool:
        return len(shape) == len(want) and all(w is None or w == s for s, w in zip(shape, want))

    def squeezed(shape) -> tuple:
        return tuple(d for d in shape if d != 1)

    if fits(a.shape[1:]):
        out = a
    elif fits(a.shape):  # one sample
        out = a[None]
    elif None not in want and a.ndim >= 1 and squeezed(a.shape[1:]) == squeezed(want):
        out = a.reshape((a.shape[0], *want))  # (N, 8, 8) for an (8, 8, 1) input, and the like
    else:
        shown = "(N, " + ", ".join("?" if d is None else str(d) for d in want) + ")"
        raise CalibrationDataError(
            f"{what}: shape {a.shape} does not fit input {inp.name!r} of shape {shown}")
    return np.ascontiguousarray(out, dtype=np.float32)


def image_geometry(inputs: list[ModelInput], where: Path) -> tuple[int, int, int | None]:
    if len(inputs) != 1:
        raise CalibrationDataError(f"{where}: images calibrate single-input models only; give a .npz")
    shape = inputs[0].shape
    if len(shape) == 3 and shape[2] in (1, 3, 4):
        h, w, c = shape
    elif len(shape) == 2:
        (h, w), c = shape, None
    else:
        raise CalibrationDataError(
            f"{where}: the model's input shape {shape} is not an image (height, width, 1/3/4 channels)")
    if h is None or w is None:
        raise CalibrationDataError(f"{where}: the model's input has no fixed height and width; give a .npy")
    return h, w, c


def read_images(files: list[Path], inputs: list[ModelInput], where: Path, image_range: str) -> dict[str, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    h, w, c = image_geometry(inputs, where)
    mode = {None: "L", 1: "L", 3: "RGB", 4: "RGBA"}[c]
    scale, offset = IMAGE_RANGES[image_range]
    out = np.empty((len(files), h, w) + ((c,) if c else ()), np.float32)
    for k, f in enumerate(files):
        try:
            with Image.open(f) as img:
                px = np.asarray(img.convert(mode).resize((w, h), Image.BILINEAR), dtype=np.float32)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise CalibrationDataError(f"{f}: cannot read the image ({type(exc).__name__})") from None
        out[k] = px.reshape(out.shape[1:]) * scale + offset
    return {inputs[0].name: out}


def synthetic_data(inputs: list[ModelInput], n: int, image_range: str) -> dict[str, np.ndarray]:
    """Random data: uniform over ``image_range`` for image-shaped inputs, standard normal else."""
    rng = np.random.default_rng(SEED)
    out = {}
    for inp in inputs:
        if None in inp.shape:
            raise CalibrationDataError(
                f"input {inp.name!r} has unknown dimensions {inp.shape}; give --calib data to fix them")
        if image_shaped(inp):
            scale, offset = IMAGE_RANGES[image_range]
            x = rng.uniform(0, 255, (n, *inp.shape)) * scale + offset
        else:
            x = rng.standard_normal((n, *inp.shape))
        out[inp.name] = x.astype(np.float32)
    return out


def image_shaped(inp: ModelInput) -> bool:
    return len(inp.shape) == 3 and inp.shape[2] in (1, 3, 4)


def shapes_text(shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, (1, *s)))}" for k, s in shapes.items())

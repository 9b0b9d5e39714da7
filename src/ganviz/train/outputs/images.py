"""Sample grids, the progress GIF and loss curves, written atomically as PNG/GIF files."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._io import write_atomic
from ...errors import DataError
from .curves import plot_curves

__all__ = ["to_uint8", "output_range", "make_grid", "grid_size", "save_png", "save_gif", "diversity", "plot_curves"]

_BORDER = 48  # grey between cells


def to_uint8(samples: Any, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Map generator samples to uint8 images of shape (N, H, W, C).

    Args:
        samples: Array (N, H, W), (N, H, W, C) or (N, D) for flat samples that form a square.
        value_range: The (low, high) output range; ``None`` uses the samples' own min and max.

    >>> to_uint8(np.array([[[-1.0, 1.0]]]), (-1.0, 1.0))[..., 0].tolist()
    [[[0, 255]]]
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise DataError(f"cannot draw flat samples of length {x.shape[1]} as square images")
        x = x.reshape(-1, side, side)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"expected image samples (N, H, W[, C]), got shape {x.shape}")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
    span = hi - lo if hi > lo else 1.0
    return np.clip((x - lo) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)


def output_range(generator: Any) -> tuple[float, float] | None:
    """The range a generator's last activation gives (tanh: -1..1, sigmoid: 0..1), or ``None`` if unknown.

    >>> import types
    >>> tanh = types.SimpleNamespace(activation=np.tanh)
    >>> output_range(types.SimpleNamespace(layers=[tanh])), output_range(object())
    ((-1.0, 1.0), None)
    """
    for layer in reversed(getattr(generator, "layers", [])):
        name = str(getattr(getattr(layer, "activation", None), "__name__", "")).lower()
        if "tanh" in name:
            return (-1.0, 1.0)
        if "sigmoid" in name:
            return (0.0, 1.0)
        if name and name != "linear":
            return None
    return None


def grid_size(rows: int, cols: int, height: int, width: int, *, pad: int = 2, zoom: int = 2) -> tuple[int, int]:
    """Pixel (width, height) of a grid image.

    >>> grid_size(4, 4, 28, 28)
    (234, 234)
    """
    return cols * width * zoom + (cols + 1) * pad, rows * height * zoom + (rows + 1) * pad


def make_grid(images: np.ndarray, grid: tuple[int, int], *, pad: int = 2, zoom: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W, C) into one (rows x cols) image, each cell enlarged ``zoom`` times."""
    rows, cols = grid
    n, h, w, c = images.shape
    big = np.repeat(np.repeat(images, zoom, axis=1), zoom, axis=2) if zoom > 1 else images
    out_w, out_h = grid_size(rows, cols, h, w, pad=pad, zoom=zoom)
    out = np.full((out_h, out_w, c), _BORDER, dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, q = divmod(i, cols)
        y, x = pad + r * (h * zoom + pad), pad + q * (w * zoom + pad)
        out[y : y + h * zoom, x : x + w * zoom] = big[i]
    return out[..., 0] if c == 1 else out


def _encode(img: np.ndarray, fmt: str, **kwargs: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a uint8 image as PNG atomically."""
    return write_atomic(path, _encode(image, "PNG"))


def save_gif(path: str | os.PathLike[str], frames: Sequence[np.ndarray], *, duration_ms: int = 200) -> Path | None:
    """Write uint8 frames as a looping GIF atomically (the last frame lingers); ``None`` if no frames."""
    from PIL import Image

    if not frames:
        return None
    pil = [Image.fromarray(f) for f in frames]
    durations = [duration_ms] * (len(pil) - 1) + [max(duration_ms * 5, 1000)]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=durations, loop=0)
    return write_atomic(path, buf.getvalue())


def diversity(images: np.ndarray) -> float:
    """Mean per-pixel standard deviation across a batch of uint8 images, in [0, 0.5].

    >>> diversity(np.zeros((4, 2, 2, 1), np.uint8))
    0.0
    """
    x = images.astype(np.float32) / 255.0
    return float(x.std(axis=0).mean())

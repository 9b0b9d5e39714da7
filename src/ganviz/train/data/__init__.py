"""Datasets for GAN training: embedded digits, MNIST IDX/NPZ files and image folders, scaled for the generator."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError

__all__ = [
    "SCALES",
    "digits",
    "mnist",
    "image_folder",
    "load",
    "check_spec",
    "scale_images",
    "to_dataset",
    "split",
]

SCALES: tuple[str, ...] = ("tanh", "sigmoid")
MAX_DATA_BYTES = 4 << 30  # an IDX file declaring more pixels than this is refused before anything is inflated
MAX_IMAGE_PIXELS = 64_000_000  # one image in a folder dataset (Pillow's own bomb limit is 89 million)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4")}


def scale_images(images: np.ndarray, scale: str = "tanh", *, max_value: float = 255.0) -> np.ndarray:
    """Map pixel values in ``[0, max_value]`` to the generator's output range as float32.

    Args:
        images: Array of pixel values.
        scale: ``"tanh"`` for [-1, 1] or ``"sigmoid"`` for [0, 1].
        max_value: The value that means white.

    >>> scale_images(np.array([0, 255]), "tanh").tolist()
    [-1.0, 1.0]
    >>> scale_images(np.array([0, 255]), "sigmoid").tolist()
    [0.0, 1.0]
    """
    if scale not in SCALES:
        raise DataError(f"unknown scale {scale!r} (must be one of {list(SCALES)})")
    x = np.asarray(images, dtype=np.float32) / np.float32(max_value)
    return (x * 2.0 - 1.0).astype(np.float32) if scale == "tanh" else x


def _resize(images: np.ndarray, size: int, inner: int) -> np.ndarray:
    from PIL import Image

    pad = (size - inner) // 2
    out = np.zeros((len(images), size, size), dtype=np.float32)
    for i, img in enumerate(images):
        pil = Image.fromarray(img.astype(np.float32), mode="F").resize((inner, inner), Image.BICUBIC)
        out[i, pad : pad + inner, pad : pad + inner] = np.asarray(pil)
    return out


def digits(*, size: int = 28, scale: str = "tanh", return_labels: bool = False) -> Any:
    """scikit-learn's 1,797 embedded 8x8 digits, resized and centred like MNIST (no download).

    The 8x8 digit is resized to ``size * 5 // 7`` pixels (20 for 28) and padded to ``size``.

    Args:
        size: Output height and width.
        scale: ``"tanh"`` ([-1, 1]) or ``"sigmoid"`` ([0, 1]).
        return_labels: Also return the int labels.

    Returns:
        float32 images of shape ``(1797, size, size, 1)``, and the labels if asked.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    raw = bunch.images.astype(np.float32)
    resized = np.clip(_resize(raw, size, max(1, size * 5 // 7)), 0.0, 16.0)
    x = scale_images(resized[..., None], scale, max_value=16.0)
    return (x, bunch.target.astype(np.int64)) if return_labels else x


def _read_idx_stream(p: Path, f: Any) -> np.ndarray:
    """Read the IDX header, check the size it declares, then read exactly that many bytes (never more)."""
    head = f.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise DataError(f"{str(p)!r} is not an IDX file (bad header {head[:4].hex() or 'empty'}; expected 0000 08 0N)")
    ndim = head[3]
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{str(p)!r} is truncated: header declares {ndim} dimensions but the file ends early")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = np.dtype(_IDX_DTYPES[head[2]])
    expected = math.prod(dims) * dtype.itemsize
    if expected > MAX_DATA_BYTES:
        raise DataError(
            f"{str(p)!r} declares shape {dims} ({expected / 2**30:.1f} GiB), more than the "
            f"{MAX_DATA_BYTES / 2**30:.0f} GiB ganviz loads; is it an IDX file of images?"
        )
    body = f.read(expected)
    if len(body) != expected or f.read(1):
        got = f"{len(body)}" if len(body) != expected else "more"
        raise DataError(
            f"{str(p)!r} is truncated or corrupt: expected {expected} data bytes for shape {dims}, got {got}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array.

    The declared shape is checked before the data is read, and a gzipped file is inflated as a
    stream that stops at the declared size: a small "gzip bomb" cannot fill the memory.

    Raises:
        DataError: the file is missing, truncated, too big or not IDX.
    """
    p = Path(path)
    try:
        if p.suffix == ".gz":
            with gzip.open(p, "rb") as f:
                return _read_idx_stream(p, f)
        with open(p, "rb") as f:
            return _read_idx_stream(p, f)
    except FileNotFoundError:
        raise DataError(f"data file {str(p)!r} does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read data file {str(p)!r}: {exc} (is it a complete, valid file?)") from None


def _labels_for(images_file: Path) -> Path | None:
    cand = images_file.with_name(
        images_file.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
    )
    return cand if cand != images_file and cand.is_file() else None


def _check_npz_size(p: Path) -> None:
    """Refuse an ``.npz`` whose members would inflate past :data:`MAX_DATA_BYTES` (read from the zip directory)."""
    try:
        with zipfile.ZipFile(p) as z:
            total = sum(info.file_size for info in z.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {str(p)!r} as .npz: {exc} (is it a complete .npz file?)") from None
    if total > MAX_DATA_BYTES:
        raise DataError(
            f"{str(p)!r} inflates to {total / 2**30:.1f} GiB, more than the {MAX_DATA_BYTES / 2**30:.0f} GiB "
            "ganviz loads"
        )


def _mnist_npz(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    _check_npz_size(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            for xs, ys in (
                (("x_train", "x_test"), ("y_train", "y_test")),
                (("images",), ("labels",)),
                (("x",), ("y",)),
            ):
                present = [k for k in xs if k in keys]
                if present:
                    x = np.concatenate([z[k] for k in present])
                    ylist = [z[k] for k in ys if k in keys]
                    y = np.concatenate(ylist) if len(ylist) == len(present) else None
                    return x, y
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {str(p)!r} as .npz: {exc} (is it a complete .npz file?)") from None
    raise DataError(f"{str(p)!r} holds no images (expected arrays named x_train/x_test, images or x; found {keys})")


def mnist(path: str | os.PathLike[str], *, scale: str = "tanh", return_labels: bool = False) -> Any:
    """Load MNIST-style 28x28 digits from IDX files (``.gz`` or not), a folder of them, or an ``.npz``.

    Args:
        path: A folder with ``*images-idx3-ubyte[.gz]`` files (train and test are concatenated), one
            images IDX file (labels found next to it by name), or an ``.npz`` such as Keras's
            ``mnist.npz``.
        scale: ``"tanh"`` ([-1, 1]) or ``"sigmoid"`` ([0, 1]).
        return_labels: Also return labels (``None`` where none are found).

    Returns:
        float32 images of shape ``(N, 28, 28, 1)``, and the labels if asked.

    Raises:
        DataError: missing, corrupt or mismatched files.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"MNIST path {str(p)!r} does not exist (give a folder of IDX files, an IDX file or an .npz)")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if ("images-idx3" in f.name or "images.idx3" in f.name) and f.is_file())
        files.sort(key=lambda f: (not f.name.startswith("train"), f.name))
        if not files:
            raise DataError(f"folder {str(p)!r} has no '*images-idx3-ubyte[.gz]' file")
    elif not p.is_file():
        raise DataError(f"MNIST path {str(p)!r} is not a regular file or folder (give IDX files or an .npz)")
    elif p.suffix == ".npz":
        x, y = _mnist_npz(p)
        files = []
    else:
        files = [p]
    if files:
        xs, ys = [read_idx(f) for f in files], []
        for f, x_part in zip(files, xs):
            lab = _labels_for(f)
            y_part = read_idx(lab) if lab else None
            if y_part is not None and len(y_part) != len(x_part):
                raise DataError(f"{str(lab)!r} has {len(y_part)} labels but {str(f)!r} has {len(x_part)} images")
            ys.append(y_part)
        x = np.concatenate(xs)
        y = np.concatenate(ys) if all(v is not None for v in ys) else None
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise DataError(f"{str(p)!r} holds arrays of shape {x.shape}; expected (N, height, width) images")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{str(p)!r} holds {x.dtype} arrays; expected numbers (uint8 pixels or floats)")
    if x.dtype.kind == "f" and not (finite := np.isfinite(x).all(axis=(1, 2))).all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"{str(p)!r} holds {len(bad)} image(s) with NaN or infinite pixels (the first is image {int(bad[0])}): "
            "fix or drop them, then retry"
        )
    max_value = 255.0 if x.dtype == np.uint8 or float(x.max(initial=0)) > 1.0 else 1.0
    images = scale_images(x[..., None], scale, max_value=max_value)
    labels = None if y is None else np.asarray(y).astype(np.int64)
    return (images, labels) if return_labels else images


def image_folder(path: str | os.PathLike[str], size: int = 28, *, scale: str = "tanh", channels: int = 1) -> np.ndarray:
    """Load every image under ``path`` (recursively), resized to ``size`` x ``size``.

    Args:
        path: Folder of ``.png``/``.jpg``/``.bmp``/``.gif``/``.webp``/``.tif`` files.
        size: Output height and width.
        scale: ``"tanh"`` ([-1, 1]) or ``"sigmoid"`` ([0, 1]).
        channels: 1 (grayscale) or 3 (RGB).

    Returns:
        float32 array of shape ``(N, size, size, channels)``, files in sorted path order.

    Raises:
        DataError: the folder is missing, holds no images, or an image cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist or is not a folder")
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels!r}")
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"image folder {str(root)!r} has no images (looked for {', '.join(_IMAGE_SUFFIXES)})")
    out = np.empty((len(files), size, size, channels), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise DataError(
                        f"image {str(f)!r} is {img.width}x{img.height} pixels, more than the "
                        f"{MAX_IMAGE_PIXELS:,} ganviz reads (shrink it or remove it from the folder)"
                    )
                img = img.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.uint8)
        except DataError:
            raise
        except Image.DecompressionBombError as exc:
            raise DataError(
                f"image {str(f)!r} is too big to read ({exc}); shrink it or remove it from the folder"
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot decode image {str(f)!r}: {exc}") from None
        out[i] = arr[..., None] if channels == 1 else arr
    return scale_images(out, scale)


def check_spec(spec: str) -> tuple[str, Path | None]:
    """Check a data spec without loading anything (and without TensorFlow): its kind and that its path exists.

    >>> check_spec("digits")
    ('digits', None)
    >>> check_spec("imagenet")
    Traceback (most recent call last):
    ...
    ganviz.errors.DataError: unknown data spec 'imagenet' (must be 'digits', 'mnist:PATH' or 'folder:PATH')
    """
    kind, _, rest = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind == "digits" and not rest:
        return kind, None
    if kind not in ("mnist", "folder") or not rest:
        raise DataError(f"unknown data spec {spec!r} (must be 'digits', 'mnist:PATH' or 'folder:PATH')")
    path = Path(rest).expanduser()
    if not path.exists():
        raise DataError(f"{kind} path {str(path)!r} does not exist (check --data {spec})")
    if not (path.is_file() or path.is_dir()):  # a FIFO or device would block the read
        raise DataError(f"{kind} path {str(path)!r} is not a regular file or folder (check --data {spec})")
    if kind == "folder" and not path.is_dir():
        raise DataError(f"image folder {str(path)!r} is not a folder (check --data {spec})")
    if path.is_file() and not path.stat().st_size:
        raise DataError(f"data file {str(path)!r} is empty")
    return kind, path


def load(spec: str, *, scale: str = "tanh", size: int = 28) -> np.ndarray:
    """Load a dataset from a spec: ``digits``, ``mnist:PATH`` or ``folder:PATH``.

    Raises:
        DataError: an unknown spec, or the loader's own errors.
    """
    kind, _, rest = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind == "digits" and not rest:
        return digits(size=size, scale=scale)
    if kind == "mnist" and rest:
        return mnist(rest, scale=scale)
    if kind == "folder" and rest:
        return image_folder(rest, size, scale=scale)
    raise DataError(f"unknown data spec {spec!r} (must be 'digits', 'mnist:PATH' or 'folder:PATH')")


def split(x: np.ndarray, y: np.ndarray | None = None, *, test_fraction: float = 0.2, seed: int = 0) -> tuple[Any, Any]:
    """Shuffle and split arrays into (train, test) parts with a fixed seed.

    Returns:
        ``(x_train, x_test)``, or ``((x_train, y_train), (x_test, y_test))`` when ``y`` is given.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(len(x) * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    if y is None:
        return x[train], x[test]
    return (x[train], y[train]), (x[test], y[test])


def to_dataset(
    x: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = True,
    drop_remainder: bool = True,
) -> Any:
    """Wrap an image array as a batched, shuffled, prefetching ``tf.data.Dataset``.

    Args:
        x: Images.
        batch_size: Global batch size.
        shuffle: Reshuffle every pass (seeded).
        seed: Shuffle seed.
        repeat: Repeat forever (use ``steps_per_epoch`` in ``fit``).
        drop_remainder: Drop the last partial batch (keeps shapes static for XLA).
    """
    import tensorflow as tf

    if len(x) < batch_size and drop_remainder:
        raise DataError(f"dataset has {len(x)} images, fewer than one batch of {batch_size} (lower --batch-size)")
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(x, dtype=np.float32))
    if shuffle:
        ds = ds.shuffle(min(len(x), 10_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

"""Data loaders: embedded digits, MNIST IDX/NPZ files, image folders, and one clear error for bad files."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from ganviz.errors import DataError, GanvizError
from ganviz.train import data

MNIST = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist"
if not MNIST.exists():  # the shared folder sits next to the checkout
    MNIST = Path("/work/shared/data/mnist")
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="MNIST test set not present"
)


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def test_digits_shape_range_and_labels():
    x, y = data.digits(return_labels=True)
    assert x.shape == (1797, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(1.0)
    assert sorted(set(y.tolist())) == list(range(10))
    # centred like MNIST: the 4-pixel border is background
    assert np.all(x[:, :4] == -1.0) and np.all(x[:, -4:] == -1.0)
    s = data.digits(scale="sigmoid")
    assert s.min() == 0.0 and s.max() == pytest.approx(1.0)
    np.testing.assert_allclose((x + 1) / 2, s, atol=1e-6)


@needs_mnist
def test_mnist_gz_folder_and_file():
    x, y = data.mnist(MNIST, return_labels=True)
    assert x.shape == (10000, 28, 28, 1) and y.shape == (10000,)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert -1.0 <= x.min() < -0.99 and x.max() == pytest.approx(1.0)
    x2 = data.mnist(MNIST / "t10k-images-idx3-ubyte.gz", scale="sigmoid")
    np.testing.assert_allclose((x + 1) / 2, x2, atol=1e-6)


def test_mnist_plain_idx_and_npz(tmp_path):
    imgs = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(imgs))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.array([1, 2, 3])))
    x, y = data.mnist(tmp_path / "train-images-idx3-ubyte", scale="sigmoid", return_labels=True)
    assert x.shape == (3, 28, 28, 1) and y.tolist() == [1, 2, 3]
    assert x[0, 0, 1, 0] == pytest.approx(1 / 255)
    np.savez(tmp_path / "mnist.npz", x_train=imgs.astype(np.uint8), y_train=np.array([4, 5, 6]))
    xn, yn = data.mnist(tmp_path / "mnist.npz", scale="sigmoid", return_labels=True)
    np.testing.assert_allclose(xn, x)
    assert yn.tolist() == [4, 5, 6]


@pytest.mark.parametrize(
    "content, name, needle",
    [
        (None, "missing.gz", "does not exist"),
        (b"\x1f\x8b\x08\x00garbage", "bad.gz", "cannot read"),
        (b"PK\x03\x04 not idx", "images-idx3-ubyte", "not an IDX file"),
        (bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 28, 28) + b"\x00" * 100, "short-images-idx3-ubyte", "truncated"),
        (b"not a zip", "x.npz", "cannot read"),
    ],
)
def test_mnist_bad_files_raise_one_clear_error(tmp_path, content, name, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        data.mnist(path)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg and name in msg
    assert isinstance(info.value, GanvizError) and isinstance(info.value, ValueError)


@needs_mnist
def test_truncated_gzip_of_real_file(tmp_path):
    raw = (MNIST / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cannot read data file"):
        data.mnist(tmp_path)


def test_mnist_label_count_mismatch(tmp_path):
    (tmp_path / "a-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros((2, 28, 28)))))
    (tmp_path / "a-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(3))))
    with pytest.raises(DataError, match="3 labels but"):
        data.mnist(tmp_path)


def test_image_folder(tmp_path):
    from PIL import Image

    (tmp_path / "sub").mkdir()
    Image.new("L", (40, 30), 255).save(tmp_path / "a.png")
    Image.new("RGB", (10, 10), (0, 0, 0)).save(tmp_path / "sub" / "b.jpg")
    x = data.image_folder(tmp_path, 16)
    assert x.shape == (2, 16, 16, 1)
    assert x[0].min() == pytest.approx(1.0) and x[1].max() < -0.9
    assert data.image_folder(tmp_path, 8, channels=3, scale="sigmoid").shape == (2, 8, 8, 3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match="cannot decode image .*broken.png"):
        data.image_folder(tmp_path, 16)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.image_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="has no images"):
        data.image_folder(tmp_path)


def test_load_spec(tmp_path):
    assert data.load("digits").shape == (1797, 28, 28, 1)
    with pytest.raises(DataError, match="unknown data spec 'cifar'"):
        data.load("cifar")
    with pytest.raises(DataError, match="does not exist"):
        data.load(f"mnist:{tmp_path / 'none'}")
    if MNIST.exists():
        shutil.copy(MNIST / "t10k-images-idx3-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte.gz")
        assert data.load(f"mnist:{tmp_path}").shape == (10000, 28, 28, 1)


def test_split_and_dataset():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    tr, te = data.split(x, test_fraction=0.3, seed=1)
    assert len(tr) == 7 and len(te) == 3 and sorted(np.concatenate([tr, te]).ravel().tolist()) == list(range(10))
    ds = data.to_dataset(x, 4, seed=0)
    batches = [b.numpy() for b in ds.take(3)]
    assert all(b.shape == (4, 1, 1, 1) for b in batches)
    with pytest.raises(DataError, match="fewer than one batch"):
        data.to_dataset(x, 64)

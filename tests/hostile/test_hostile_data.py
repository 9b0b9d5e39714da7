"""#13.10 and #12.7 (data first): bombs and garbage as training data are one line, before TensorFlow, within memory."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
from harness import assert_refused, run_batch, run_python, snapshot


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels (and holds almost nothing)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def _gzip_bomb(path: Path, inflated_gib: float) -> Path:
    """An MNIST-named IDX.gz whose header declares 10 images but which inflates to ``inflated_gib`` GiB.

    Many gzip members, each 64 MiB of zeros compressed, so the file is small and quick to write.
    """
    member = gzip.compress(b"\0" * (64 << 20), compresslevel=9, mtime=0)
    head = gzip.compress(b"\0\0\x08\x03" + struct.pack(">III", 10, 28, 28), mtime=0)
    with open(path, "wb") as f:
        f.write(head)
        for _ in range(int(inflated_gib * 16)):
            f.write(member)
    return path


def test_bad_training_data_is_one_line_before_tensorflow_and_within_memory(tmp_path: Path) -> None:
    (tmp_path / "pngs").mkdir()
    _png_header(tmp_path / "pngs" / "huge.png", 40_000, 40_000)
    (tmp_path / "pngs2").mkdir()
    _png_header(tmp_path / "pngs2" / "big.png", 9_000, 9_000)  # under Pillow's own limit, over ganviz's
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04" + b"\x17" * 5000)
    (tmp_path / "mnist").mkdir()
    bomb = _gzip_bomb(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", 3.3)
    (tmp_path / "huge_dims").mkdir()
    (tmp_path / "huge_dims" / "train-images-idx3-ubyte").write_bytes(
        b"\0\0\x08\x03" + struct.pack(">III", 2**31, 2**16, 2**16)
    )
    jobs = [
        ["train", "--data", f"folder:{tmp_path / 'pngs'}", "-o", "r1"],
        ["train", "--data", f"folder:{tmp_path / 'pngs2'}", "-o", "r2"],
        ["train", "--data", f"mnist:{tmp_path / 'garbage.npz'}", "-o", "r3"],
        ["train", "--data", f"mnist:{tmp_path / 'mnist'}", "-o", "r4"],
        ["train", "--data", f"mnist:{tmp_path / 'huge_dims'}", "-o", "r5"],
        ["train", "--data", "imagenet", "-o", "r6"],
    ]
    expected = ["decompression bomb", "9000x9000", "as .npz", "truncated or corrupt", "GiB", "unknown data spec"]
    before = snapshot(tmp_path)
    # 1.5 GiB of address space for the whole process: inflating the bomb (3.3 GiB) would fail with MemoryError.
    results = run_batch(jobs, cwd=tmp_path, timeout=180, mem_mb=1536)
    for argv, res, words in zip(jobs, results, expected):
        assert_refused(res, words), argv
    assert snapshot(tmp_path) == before  # no run folder left behind, nothing changed
    assert bomb.stat().st_size < 4 << 20


def test_an_npz_that_inflates_past_the_cap_is_refused_from_its_zip_directory(tmp_path: Path) -> None:
    big = tmp_path / "big.npz"
    np.savez_compressed(big, x_train=np.zeros((3 << 20,), dtype=np.uint8))  # 3 MiB inflated, a few KB on disk
    code = (
        "import sys; import ganviz.train.data as d; d.MAX_DATA_BYTES = 2 << 20;"
        "from ganviz.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    res = run_python(code, ["train", "--data", f"mnist:{big}", "-o", "r"], cwd=tmp_path, mem_mb=1536)
    assert_refused(res, "inflates to 0.0 GiB, more than the 0 GiB")
    assert not (tmp_path / "r").exists()


def test_train_refuses_bad_data_without_importing_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys; from ganviz.cli import main; rc = main(sys.argv[1:]);"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules); sys.exit(rc)"
    )
    res = run_python(code, ["train", "--data", f"folder:{tmp_path / 'nope'}", "-o", "r"], cwd=tmp_path)
    assert_refused(res, "does not exist")
    assert res.out.strip() == "False False"
    assert not (tmp_path / "r").exists()

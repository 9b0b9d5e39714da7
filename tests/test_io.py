"""Atomic writes: complete or nothing, existing files survive failures, normal permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganviz._io import check_writable, write_atomic
from ganviz.errors import OutputPathError


def test_write_atomic_writes_bytes_and_text(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert write_atomic(tmp_path / "a.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temp files left"


def test_new_files_get_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "m.svg", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_existing_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.svg"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new")
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("new", 0o640)


def test_failure_midway_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.png"
    path.write_bytes(b"precious")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing" / "x.png", "does not exist"),
        (lambda d: d, "is a directory"),
    ],
)
def test_check_writable_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(OutputPathError, match=message):
        check_writable(make(tmp_path))

"""Bounded reading of a ``.keras`` zip archive: config, metadata and the weights member read in place."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ...errors import ModelFileError
from .config import MAX_CONFIG_BYTES, Entry, fail, parse_json
from .hdf5 import TinyHDF5, Unsupported
from .params import Params, keras_params, weights_params

__all__ = ["archive_params", "read_archive"]

_MAX_METADATA_BYTES = 2**20
_MAX_WEIGHTS_IN_MEMORY = 64 * 2**20  # a compressed weights member is inflated only up to this size


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """Read one archive member, refusing declared or actual sizes above ``limit`` bytes."""
    if info.file_size > limit:
        raise fail(
            f"{info.filename} in {where!r} declares {info.file_size:,} bytes, over the {limit:,}-byte limit "
            "(not a Keras model archive, or a hostile one)"
        )
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise fail(
            f"cannot read {info.filename} in {where!r}: {exc} (the archive is corrupt; re-save the model)"
        ) from None
    if len(data) > limit:
        raise fail(f"{info.filename} in {where!r} inflates past the {limit:,}-byte limit (hostile or corrupt archive)")
    return data


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of an open file, starting at ``start``."""

    def __init__(self, fh: Any, start: int, length: int) -> None:
        super().__init__()
        self._fh, self._start, self._length, self._pos = fh, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._length - self._pos))
        if n == 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(view[:n]) or 0
        self._pos += got
        return got


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, Any], zipfile.ZipInfo | None, list[str]]:
    """Config, metadata, the weights member (or None) and warnings of a ``.keras`` zip archive."""
    where = path.name
    warnings: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise fail(
            f"{where!r} is not a readable .keras archive ({exc}); the file is truncated or corrupt, re-save it"
        ) from None
    with zf:
        infos = {info.filename: info for info in zf.infolist()}
        info = infos.get("config.json")
        if info is None:
            raise fail(
                f"{where!r} is a zip archive without config.json, so not a Keras model (save with model.save('m.keras'))"
            )
        config = parse_json(_read_member(zf, info, MAX_CONFIG_BYTES, where), "config.json", where)
        metadata: dict[str, Any] = {}
        if "metadata.json" in infos:
            try:
                metadata = parse_json(
                    _read_member(zf, infos["metadata.json"], _MAX_METADATA_BYTES, where), "metadata.json", where
                )
            except ModelFileError as exc:
                warnings.append(str(exc))
    weights = infos.get("model.weights.h5")
    if weights is None:
        warnings.append("no model.weights.h5 in the archive: parameter counts unknown")
    return config, metadata, weights, warnings


def archive_params(path: Path, info: zipfile.ZipInfo, root: Entry, warnings: list[str]) -> Params | None:
    """Parameter counts from the archive's ``model.weights.h5``, read in place when it is stored."""
    if info.flag_bits & 0x1:
        warnings.append("model.weights.h5 is encrypted: parameter counts unknown")
        return None
    if info.compress_type != zipfile.ZIP_STORED:
        if info.file_size > _MAX_WEIGHTS_IN_MEMORY:
            warnings.append("model.weights.h5 is compressed and large: parameter counts unknown")
            return None
        try:
            with zipfile.ZipFile(path) as zf, zf.open(info) as fh:
                data = fh.read(_MAX_WEIGHTS_IN_MEMORY + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
            warnings.append("model.weights.h5 is corrupt: parameter counts unknown")
            return None
        return _member_params(io.BytesIO(data), 0, len(data), root, warnings)
    # Stored, as Keras writes it: HDF5 reads the member in place through a window on the archive.
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            warnings.append("model.weights.h5 has a bad zip header: parameter counts unknown")
            return None
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.compress_size > os.fstat(fh.fileno()).st_size:
            warnings.append("model.weights.h5 is truncated: parameter counts unknown")
            return None
        return _member_params(fh, start, info.compress_size, root, warnings)


def _member_params(fh: Any, start: int, length: int, root: Entry, warnings: list[str]) -> Params | None:
    """Parameter counts from an HDF5 file held in ``fh[start:start + length]``: built-in reader, else h5py."""
    try:
        return keras_params(TinyHDF5(fh, start, length), root)
    except Unsupported:
        return weights_params(_Window(fh, start, length), None, root, warnings)

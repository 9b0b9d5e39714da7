"""HDF5 access through h5py (imported only when needed): attributes, object walks, legacy ``.h5`` configs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .config import MAX_CONFIG_BYTES, fail, parse_json
from .hdf5 import MAX_H5_OBJECTS

__all__ = ["H5Walk", "as_text", "read_attr", "read_legacy_h5", "scalar"]


def read_attr(loc: Any, obj_name: bytes, attr: bytes, limit: int = 2**20) -> Any:
    """One HDF5 attribute of at most ``limit`` stored bytes as a numpy value (None if absent, large or odd)."""
    import numpy as np
    from h5py import h5a

    try:
        if not h5a.exists(loc, attr, obj_name=obj_name):
            return None
        handle = h5a.open(loc, attr, obj_name=obj_name)
        if handle.get_storage_size() > limit:
            return None
        value = np.empty(handle.shape, dtype=handle.dtype)
        handle.read(value)
    except Exception:  # noqa: BLE001 - an odd attribute only costs the information it held
        return None
    return value


def as_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


class H5Walk:
    """Dataset sizes and group paths below one HDF5 group, found by following hard links only."""

    def __init__(self, loc: Any) -> None:
        from h5py import h5d, h5o

        self.loc = loc
        self.sizes: dict[str, int] = {}  # dataset path -> number of elements
        self.groups: set[str] = set()
        self.truncated = False
        dataset_type = h5o.TYPE_DATASET

        def visit(name: bytes, info: Any) -> int | None:
            if len(self.sizes) + len(self.groups) >= MAX_H5_OBJECTS:
                self.truncated = True
                return 1
            path = name.decode("utf-8", "replace")
            if info.type == dataset_type:
                self.sizes[path] = math.prod(h5d.open(loc, name).shape)
            else:
                self.groups.add(path)
            return None

        h5o.visit(loc, visit, info=True)


def scalar(value: Any) -> Any:
    return value[()] if value is not None and getattr(value, "ndim", 1) == 0 else None


def read_legacy_h5(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and metadata of a legacy ``.h5`` model file (its ``model_config`` attribute)."""
    import h5py

    where = path.name
    try:
        h5 = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError and others for damaged files
        raise fail(
            f"{where!r} is not a readable HDF5 file ({type(exc).__name__}); it is truncated or corrupt, re-save it"
        ) from None
    with h5:
        from h5py import h5a

        if not h5a.exists(h5.id, b"model_config"):
            raise fail(
                f"{where!r} is an HDF5 file without a model (no 'model_config'; a weights-only file?): "
                "save the whole model with model.save('m.keras')"
            )
        size = h5a.open(h5.id, b"model_config").get_storage_size()
        if size > MAX_CONFIG_BYTES:
            raise fail(f"model_config in {where!r} is {size:,} bytes, over the {MAX_CONFIG_BYTES:,}-byte limit")
        raw = scalar(read_attr(h5.id, b".", b"model_config", MAX_CONFIG_BYTES))
        version = as_text(scalar(read_attr(h5.id, b".", b"keras_version")))
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes):
        raise fail(f"model_config in {where!r} is not text (the file is corrupt or not a Keras model; re-save it)")
    config = parse_json(raw, "model_config", where)
    return config, {"keras_version": version} if version else {}

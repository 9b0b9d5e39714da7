"""Read a Keras ``.keras`` archive or legacy ``.h5`` file into the graph IR, safely and without TensorFlow.

Only the model configuration (JSON) and the *shapes* of the weight datasets are read: no weight data,
no TensorFlow or Keras import, nothing unpickled, unmarshalled, evaluated or extracted to disk. A
``Lambda`` layer's bytecode stays an opaque string. Hostile files (oversized or deeply nested
configs, truncated archives, HDF5 files without a model) raise one :class:`ModelFileError` each.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ModelFileError
from ..ir.graph import Graph, GraphBuilder, Shape
from ..ir.transforms import collapse_to_depth

__all__ = ["file_to_graph", "MAX_CONFIG_BYTES", "MAX_JSON_DEPTH", "MAX_MODEL_DEPTH"]

MAX_CONFIG_BYTES = 16 * 2**20  # a model config larger than this is refused
MAX_JSON_DEPTH = 400  # JSON nesting deeper than this is refused (Python's parser recurses)
MAX_MODEL_DEPTH = 40  # models nested deeper than this are refused
_MAX_METADATA_BYTES = 2**20
_MAX_JSON_ITEMS = 1_000_000  # separators (values) in a config: bounds the memory json.loads needs
_MAX_H5_OBJECTS = 200_000  # stop walking a weights file after this many objects
_MAX_H5_READ_BYTES = 64 * 2**20  # the built-in HDF5 reader reads at most this much metadata
_MAX_WEIGHTS_IN_MEMORY = 64 * 2**20  # a compressed weights member is inflated only up to this size
_MAX_TENSOR_SEARCH_DEPTH = 16
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_EXTENSIONS = (".h5", ".hdf5", ".keras")
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")

# Layers whose trailing own variables are not trainable (moving statistics), and layers whose
# variables never are; every other layer's variables count as trainable while the layer is.
_NON_TRAINABLE_TAIL = {"BatchNormalization": 2, "SyncBatchNormalization": 2}
_ALL_NON_TRAINABLE = frozenset({"Normalization", "Discretization", "TextVectorization", "IntegerLookup"})
_SAME_SHAPE = frozenset(
    "Activation ReLU LeakyReLU PReLU ELU Softmax ThresholdedReLU BatchNormalization SyncBatchNormalization "
    "LayerNormalization GroupNormalization UnitNormalization Dropout SpatialDropout1D SpatialDropout2D "
    "SpatialDropout3D GaussianNoise GaussianDropout AlphaDropout ActivityRegularization Rescaling "
    "Normalization Masking Identity Add Subtract Multiply Average Maximum Minimum".split()
)
_CONV = re.compile(r"^(Conv|DepthwiseConv|SeparableConv|MaxPooling|AveragePooling)([123])D$")

Chain = tuple[str, ...]
Params = dict[Chain, tuple[int, list[int]]]


def _fail(message: str) -> ModelFileError:
    return ModelFileError(message)


# --------------------------------------------------------------------------------------------
# Bounded reading of the containers
# --------------------------------------------------------------------------------------------
def _sniff(path: Path) -> str:
    """Return ``"keras"`` or ``"h5"`` after checking the path, its extension and its first bytes."""
    try:
        is_dir = path.is_dir()
        if not is_dir:
            path.stat()
    except FileNotFoundError:
        raise _fail(f"model file not found: {str(path)!r} (check the path)") from None
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot open {str(path)!r}: {exc} (check the path and its permissions)") from None
    if is_dir:
        raise _fail(
            f"{str(path)!r} is a directory, not a model file (give a .keras or .h5 file; "
            "TensorFlow SavedModel folders are not supported)"
        )
    ext = path.suffix.lower()
    if ext not in _EXTENSIONS:
        raise _fail(
            f"unknown model file extension {ext or '(none)'!r} for {path.name!r} (must be one of {list(_EXTENSIONS)})"
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(2056)
    except OSError as exc:
        raise _fail(f"cannot read {str(path)!r}: {exc.strerror or exc} (check its permissions)") from None
    if not head:
        raise _fail(f"{path.name!r} is empty (re-save the model with model.save())")
    if head[:4] in _ZIP_MAGIC:
        return "keras"
    if any(head[at : at + 8] == _HDF5_MAGIC for at in (0, 512, 1024, 2048)):
        return "h5"
    kind = "a zip archive (.keras)" if ext == ".keras" else "an HDF5 file (.h5)"
    raise _fail(f"{path.name!r} is not {kind}: the file is corrupt, truncated or of another kind (re-save the model)")


def _json_shape(raw: bytes) -> tuple[int, int]:
    """The bracket nesting depth of JSON text and its number of separators (strings ignored).

    Each pass deletes the innermost bracket pairs; a run of ``r`` opening brackets left after ``k``
    passes proves a depth of at least ``r + k``, which stops hostile input early. Bytes operations
    only: no recursion, and time bounded by the size of the text.

    >>> _json_shape(b'{"a": [1, {"b": "[[[,,"}]}')
    (3, 3)
    """
    stripped = _STRING_RE.sub(b"", raw)
    items = stripped.count(b",") + stripped.count(b":")
    brackets = stripped.translate(None, _NOT_BRACKETS).translate(_ONE_BRACKET_KIND)
    depth = 0
    while brackets:
        if b"[" * (MAX_JSON_DEPTH + 1 - depth) in brackets:
            return MAX_JSON_DEPTH + 1, items
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            break  # unbalanced: json.loads reports it
        brackets, depth = shorter, depth + 1
    return depth, items


def _parse_json(raw: bytes, what: str, where: str) -> dict[str, Any]:
    depth, items = _json_shape(raw)
    if depth > MAX_JSON_DEPTH:
        raise _fail(f"{what} in {where!r} nests over {MAX_JSON_DEPTH} levels deep: not a Keras model config")
    if items > _MAX_JSON_ITEMS:
        raise _fail(f"{what} in {where!r} holds {items:,} values (limit {_MAX_JSON_ITEMS:,}): not a Keras model config")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(f"{what} in {where!r} is not UTF-8 text (the file is corrupt; re-save the model)") from None
    except (ValueError, RecursionError) as exc:
        raise _fail(f"{what} in {where!r} is not valid JSON ({str(exc).splitlines()[0]}); re-save the model") from None
    if not isinstance(value, dict):
        raise _fail(f"{what} in {where!r} holds a JSON {type(value).__name__}, not an object describing a model")
    return value


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """Read one archive member, refusing declared or actual sizes above ``limit`` bytes."""
    if info.file_size > limit:
        raise _fail(
            f"{info.filename} in {where!r} declares {info.file_size:,} bytes, over the {limit:,}-byte limit "
            "(not a Keras model archive, or a hostile one)"
        )
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise _fail(
            f"cannot read {info.filename} in {where!r}: {exc} (the archive is corrupt; re-save the model)"
        ) from None
    if len(data) > limit:
        raise _fail(f"{info.filename} in {where!r} inflates past the {limit:,}-byte limit (hostile or corrupt archive)")
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


def _attr(loc: Any, obj_name: bytes, attr: bytes, limit: int = 2**20) -> Any:
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


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


class _H5Walk:
    """Dataset sizes and group paths below one HDF5 group, found by following hard links only."""

    def __init__(self, loc: Any) -> None:
        from h5py import h5d, h5o

        self.loc = loc
        self.sizes: dict[str, int] = {}  # dataset path -> number of elements
        self.groups: set[str] = set()
        self.truncated = False
        dataset_type = h5o.TYPE_DATASET

        def visit(name: bytes, info: Any) -> int | None:
            if len(self.sizes) + len(self.groups) >= _MAX_H5_OBJECTS:
                self.truncated = True
                return 1
            path = name.decode("utf-8", "replace")
            if info.type == dataset_type:
                self.sizes[path] = math.prod(h5d.open(loc, name).shape)
            else:
                self.groups.add(path)
            return None

        h5o.visit(loc, visit, info=True)


class _Unsupported(Exception):
    """The weights file is not in the plain layout the built-in reader knows; h5py reads it instead."""


class _TinyHDF5:
    """Dataset sizes and group paths of an HDF5 file in h5py's default layout, read without h5py.

    Handles superblock version 0, symbol-table groups (v1 B-trees and local heaps) and version-1
    object headers, which is what Keras writes; anything else raises :class:`_Unsupported`. Every
    address is checked against the file's length, every structure is visited once, and the
    number of objects is capped, so a hostile file costs bounded time and memory.
    """

    loc = None  # no h5py handle: attributes (layer names) need the h5py reader

    def __init__(self, fh: Any, start: int, length: int) -> None:
        self._fh, self._start, self._length = fh, start, length
        self.sizes: dict[str, int] = {}
        self.groups: set[str] = set()
        self.truncated = False
        self._seen: set[int] = set()
        self._budget = _MAX_H5_READ_BYTES
        head = self._read(0, 96)
        if head[:8] != _HDF5_MAGIC or head[8] != 0 or head[13] != 8 or head[14] != 8 or _u64(head, 24) != 0:
            raise _Unsupported("superblock")
        if struct.unpack_from("<I", head, 72)[0] != 1:  # root entry's cache type: B-tree and heap given
            raise _Unsupported("root cache")
        self._walk(_u64(head, 80), _u64(head, 88))

    def _read(self, address: int, size: int) -> bytes:
        self._budget -= size
        if address < 0 or size < 0 or address + size > self._length or self._budget < 0:
            raise _Unsupported("address out of range or too much to read")
        self._fh.seek(self._start + address)
        data = self._fh.read(size)
        if len(data) != size:
            raise _Unsupported("short read")
        return data

    def _once(self, address: int) -> None:
        if address in self._seen:
            raise _Unsupported("cycle")
        self._seen.add(address)
        if len(self._seen) > _MAX_H5_OBJECTS:
            raise _Unsupported("too many objects")

    def _walk(self, btree: int, heap: int) -> None:
        stack = [("", btree, heap)]
        while stack:
            prefix, btree, heap = stack.pop()
            names = self._heap(heap)
            for entry in self._entries(btree):
                offset = _u64(entry, 0)
                end = names.find(b"\0", offset)
                if end < 0:
                    raise _Unsupported("name")
                name = names[offset:end].decode("utf-8", "replace")
                path = f"{prefix}/{name}" if prefix else name
                if struct.unpack_from("<I", entry, 16)[0] == 1:
                    self.groups.add(path)
                    stack.append((path, _u64(entry, 24), _u64(entry, 32)))
                    continue
                found = self._object(_u64(entry, 8))
                if isinstance(found, int):
                    self.sizes[path] = found
                elif found is not None:
                    self.groups.add(path)
                    stack.append((path, *found))

    def _heap(self, address: int) -> bytes:
        head = self._read(address, 32)
        if head[:4] != b"HEAP" or head[4] != 0:
            raise _Unsupported("local heap")
        return self._read(_u64(head, 24), _u64(head, 8))

    def _entries(self, btree: int) -> list[bytes]:
        entries: list[bytes] = []
        nodes = [btree]
        while nodes:
            address = nodes.pop()
            self._once(address)
            head = self._read(address, 24)
            used = struct.unpack_from("<H", head, 6)[0]
            if head[:4] != b"TREE" or head[4] != 0:
                raise _Unsupported("B-tree")
            body = self._read(address + 24, 8 + 16 * used)
            children = [_u64(body, 16 * i + 8) for i in range(used)]
            if head[5] > 0:
                nodes.extend(children)
                continue
            for child in children:
                self._once(child)
                node = self._read(child, 8)
                if node[:4] != b"SNOD" or node[4] != 1:
                    raise _Unsupported("symbol table node")
                count = struct.unpack_from("<H", node, 6)[0]
                table = self._read(child + 8, 40 * count)
                entries.extend(table[40 * i : 40 * i + 40] for i in range(count))
                if len(entries) > _MAX_H5_OBJECTS:
                    raise _Unsupported("too many entries")
        return entries

    def _object(self, address: int) -> int | tuple[int, int] | None:
        """A dataset's number of elements, a group's (B-tree, heap), or None for anything else."""
        self._once(address)
        head = self._read(address, 16)
        if head[0] != 1:
            raise _Unsupported("object header")
        chunks = [(address + 16, struct.unpack_from("<I", head, 8)[0])]
        while chunks:
            at, size = chunks.pop()
            block = self._read(at, size)
            pos = 0
            while pos + 8 <= size:
                kind, length = struct.unpack_from("<HH", block, pos)
                data = block[pos + 8 : pos + 8 + length]
                pos += 8 + length
                if kind == 0x0001:  # dataspace
                    return _dataspace_size(data)
                if kind == 0x0011:  # symbol table: a group
                    return _u64(data, 0), _u64(data, 8)
                if kind == 0x0010:  # continuation
                    self._once(_u64(data, 0))
                    chunks.append((_u64(data, 0), _u64(data, 8)))
        return None


def _u64(data: bytes, offset: int) -> int:
    if offset + 8 > len(data):
        raise _Unsupported("short structure")
    return int(struct.unpack_from("<Q", data, offset)[0])


def _dataspace_size(data: bytes) -> int:
    if len(data) < 8 or data[0] not in (1, 2):
        raise _Unsupported("dataspace")
    rank = data[1]
    if data[0] == 2 and data[3] == 2:  # null dataspace
        return 0
    first = 8 if data[0] == 1 else 4
    return math.prod(_u64(data, first + 8 * i) for i in range(rank))


def _keras_params(walk: _H5Walk | _TinyHDF5, root: _Entry) -> Params:
    """Per-layer sizes from ``layers/<key>/vars/<i>`` groups of a ``.keras`` weights file."""
    totals: dict[str, int] = {}
    own: dict[str, list[tuple[int, int]]] = {}
    for path, size in walk.sizes.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            key = "/".join(parts[:i])
            totals[key] = totals.get(key, 0) + size
        if len(parts) >= 3 and parts[-2] == "vars" and parts[-1].isdigit():
            own.setdefault("/".join(parts[:-2]), []).append((int(parts[-1]), size))
    out: Params = {}

    def collect(model: _Entry, prefix: str, chain: Chain, depth: int) -> None:
        layers = f"{prefix}/layers/" if prefix else "layers/"
        keys = _snake_keys(model.children)
        if not all(f"{layers}{key}/vars" in walk.groups for key in keys.values()):
            if walk.loc is None:
                raise _Unsupported("layer names needed")
            named: dict[str, str] = {}  # custom classes or another Keras version: ask each group its layer
            for group in walk.groups:
                group_key = group[len(layers) : -len("/vars")]
                if group.startswith(layers) and group.endswith("/vars") and "/" not in group_key:
                    layer_name = _text(_item(_attr(walk.loc, group.encode(), b"name")))
                    if layer_name is not None:
                        named.setdefault(layer_name, group_key)
            keys = named or keys  # files without the names: the class-derived keys that exist
        for child in model.children:
            key = keys.get(child.name)
            if key is None:
                continue
            path = f"{layers}{key}"
            sub = (*chain, child.name)
            out[sub] = (totals.get(path, 0), [size for _, size in sorted(own.get(path, []))])
            if child.kind == "model" and depth < MAX_MODEL_DEPTH:
                collect(child, path, sub, depth + 1)

    collect(root, "", (), 0)
    out[()] = (sum(size for path, size in walk.sizes.items() if not path.startswith(("optimizer/", "metrics/"))), [])
    return out


def _item(value: Any) -> Any:
    return value[()] if value is not None and getattr(value, "ndim", 1) == 0 else None


def _legacy_params(walk: _H5Walk, root: _Entry) -> Params:
    """Per-layer sizes from a legacy ``model_weights`` group (``<layer>/<weight name>`` datasets)."""
    out: Params = {(): (sum(walk.sizes.values()), [])}
    for child in root.children:
        if child.name not in walk.groups or "/" in child.name:
            continue
        names = _attr(walk.loc, child.name.encode(), b"weight_names")
        if names is None or names.ndim != 1 or names.size > 100_000:
            continue
        wnames = [n for n in (_text(v) for v in names.tolist()) if n is not None]
        sizes = [walk.sizes.get(f"{child.name}/{n}", 0) for n in wnames]
        out[(child.name,)] = (sum(sizes), sizes)
        if child.kind != "model":
            continue
        leaves = _leaves(child)
        for wname, size in zip(wnames, sizes):
            chain = _match_chain(leaves, wname.split("/")[:-1])
            if chain:
                total, own = out.get((child.name, *chain), (0, []))
                out[(child.name, *chain)] = (total + size, [*own, size])
    return out


def _leaves(model: _Entry, chain: Chain = (), out: dict[str, list[Chain]] | None = None) -> dict[str, list[Chain]]:
    """Every non-model layer below ``model``, by name, with its chain of names inside ``model``."""
    out = {} if out is None else out
    for child in model.children:
        if child.kind == "model":
            _leaves(child, (*chain, child.name), out)
        else:
            out.setdefault(child.name, []).append((*chain, child.name))
    return out


def _match_chain(leaves: dict[str, list[Chain]], parts: Sequence[str]) -> Chain:
    """The layer owning a legacy weight name such as ``level3/dense/kernel``, from its path parts.

    The first part that names a layer wins; among layers of that name, the one whose enclosing
    models appear most among the parts.

    >>> _match_chain({"d": [("m", "d"), ("n", "d")]}, ["n", "d"])
    ('n', 'd')
    """
    for part in parts:
        found = leaves.get(part)
        if found:
            return max(found, key=lambda chain: sum(name in parts for name in chain[:-1]))
    return ()


def _snake_keys(children: Sequence[_Entry]) -> dict[str, str]:
    """The weight-group keys Keras derives from class names (``dense``, ``dense_1`` ...).

    >>> _snake_keys([_Entry("a", "Dense"), _Entry("b", "BatchNormalization"), _Entry("c", "Dense")])
    {'a': 'dense', 'b': 'batch_normalization', 'c': 'dense_1'}
    """
    used: dict[str, int] = {}
    keys: dict[str, str] = {}
    for child in children:
        name = re.sub(r"\W+", "", child.class_name)
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
        name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        keys.setdefault(child.name, name)
    return keys


def _weights_params(source: Any, group: str | None, root: _Entry, warnings: list[str]) -> Params | None:
    """Open an HDF5 file (path or file object) and count each layer's parameters from its shapes."""
    import h5py

    try:
        with h5py.File(source, "r") as h5:
            loc = h5.id
            if group is not None:
                from h5py import h5g

                if group not in h5 or not isinstance(h5.get(group, getlink=True), h5py.HardLink):
                    warnings.append(f"no '{group}' group in the file: parameter counts unknown")
                    return None
                loc = h5g.open(h5.id, group.encode())
            walk = _H5Walk(loc)
            if walk.truncated:
                warnings.append(f"weights file holds over {_MAX_H5_OBJECTS:,} objects: parameter counts incomplete")
            return _keras_params(walk, root) if group is None else _legacy_params(walk, root)
    except Exception as exc:  # noqa: BLE001 - any failure inside HDF5 only costs the parameter counts
        warnings.append(f"weights unreadable ({type(exc).__name__}): parameter counts unknown")
        return None


def _read_archive(path: Path) -> tuple[dict[str, Any], dict[str, Any], zipfile.ZipInfo | None, list[str]]:
    """Config, metadata, the weights member (or None) and warnings of a ``.keras`` zip archive."""
    where = path.name
    warnings: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _fail(
            f"{where!r} is not a readable .keras archive ({exc}); the file is truncated or corrupt, re-save it"
        ) from None
    with zf:
        infos = {info.filename: info for info in zf.infolist()}
        info = infos.get("config.json")
        if info is None:
            raise _fail(
                f"{where!r} is a zip archive without config.json, so not a Keras model (save with model.save('m.keras'))"
            )
        config = _parse_json(_read_member(zf, info, MAX_CONFIG_BYTES, where), "config.json", where)
        metadata: dict[str, Any] = {}
        if "metadata.json" in infos:
            try:
                metadata = _parse_json(
                    _read_member(zf, infos["metadata.json"], _MAX_METADATA_BYTES, where), "metadata.json", where
                )
            except ModelFileError as exc:
                warnings.append(str(exc))
    weights = infos.get("model.weights.h5")
    if weights is None:
        warnings.append("no model.weights.h5 in the archive: parameter counts unknown")
    return config, metadata, weights, warnings


def _archive_params(path: Path, info: zipfile.ZipInfo, root: _Entry, warnings: list[str]) -> Params | None:
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


def _member_params(fh: Any, start: int, length: int, root: _Entry, warnings: list[str]) -> Params | None:
    """Parameter counts from an HDF5 file held in ``fh[start:start + length]``: built-in reader, else h5py."""
    try:
        return _keras_params(_TinyHDF5(fh, start, length), root)
    except _Unsupported:
        return _weights_params(_Window(fh, start, length), None, root, warnings)


def _read_legacy_h5(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and metadata of a legacy ``.h5`` model file (its ``model_config`` attribute)."""
    import h5py

    where = path.name
    try:
        h5 = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError and others for damaged files
        raise _fail(
            f"{where!r} is not a readable HDF5 file ({type(exc).__name__}); it is truncated or corrupt, re-save it"
        ) from None
    with h5:
        from h5py import h5a

        if not h5a.exists(h5.id, b"model_config"):
            raise _fail(
                f"{where!r} is an HDF5 file without a model (no 'model_config'; a weights-only file?): "
                "save the whole model with model.save('m.keras')"
            )
        size = h5a.open(h5.id, b"model_config").get_storage_size()
        if size > MAX_CONFIG_BYTES:
            raise _fail(f"model_config in {where!r} is {size:,} bytes, over the {MAX_CONFIG_BYTES:,}-byte limit")
        raw = _item(_attr(h5.id, b".", b"model_config", MAX_CONFIG_BYTES))
        version = _text(_item(_attr(h5.id, b".", b"keras_version")))
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes):
        raise _fail(f"model_config in {where!r} is not text (the file is corrupt or not a Keras model; re-save it)")
    config = _parse_json(raw, "model_config", where)
    return config, {"keras_version": version} if version else {}


# --------------------------------------------------------------------------------------------
# The model config as a tree
# --------------------------------------------------------------------------------------------
class _Tensor:
    """One tensor passed into a layer call: (producer layer, call index, output index) and its spec."""

    __slots__ = ("ref", "shape", "dtype")

    def __init__(self, ref: tuple[str, int, int], shape: Shape | None, dtype: str | None) -> None:
        self.ref, self.shape, self.dtype = ref, shape, dtype


class _Entry:
    """One layer (or nested model) of a config; a model's ``children`` mirror ``model.layers``."""

    def __init__(self, name: str, class_name: str, config: dict[str, Any] | None = None, raw: Any = None) -> None:
        self.name = name
        self.class_name = class_name
        self.config: dict[str, Any] = config or {}
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.kind = "input" if class_name == "InputLayer" else "layer"
        self.children: list[_Entry] = []
        self.calls: list[list[_Tensor]] = []
        self.sequential = False
        self.seq_input: _Entry | None = None
        self.input_refs: list[tuple[str, int, int]] = []
        self.output_refs: list[tuple[str, int, int]] = []


def _ref(value: Any) -> tuple[str, int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str):
        call, tensor = value[1], value[2]
        if isinstance(call, int) and isinstance(tensor, int) and 0 <= call < 2**31 and 0 <= tensor < 1024:
            return (value[0], call, tensor)
    return None


def _refs(value: Any) -> list[tuple[str, int, int]]:
    single = _ref(value)
    if single is not None:
        return [single]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return []
    return [r for r in (_ref(v) for v in value) if r is not None]


def _shape(value: Any) -> Shape | None:
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        if all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in value):
            return tuple(value)
    return None


def _shapes(value: Any) -> tuple[Shape | None, ...]:
    """A build config's ``input_shape``: one shape, a list of shapes or a dict of them.

    >>> _shapes([None, 4]), _shapes([[None, 4], [None, 2]]), _shapes(None)
    (((None, 4),), ((None, 4), (None, 2)), ())
    """
    single = _shape(value)
    if single is not None:
        return (single,)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and len(value) <= 1024:
        return tuple(_shape(v) for v in value)
    return ()


def _dtype(value: Any) -> str | None:
    """The compute dtype of a config's ``dtype`` (a string or a serialized DTypePolicy)."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name") if isinstance(value.get("config"), dict) else None
    if not isinstance(value, str):
        return None
    return value.split("_", 1)[1] if value.startswith("mixed_") else value


def _find_tensors(value: Any, out: list[_Tensor], depth: int = 0) -> None:
    if depth > _MAX_TENSOR_SEARCH_DEPTH or len(out) > 10_000:
        return
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            spec = value.get("config")
            if isinstance(spec, dict):
                ref = _ref(spec.get("keras_history"))
                if ref is not None:
                    dtype = spec.get("dtype")
                    out.append(_Tensor(ref, _shape(spec.get("shape")), dtype if isinstance(dtype, str) else None))
            return
        for item in value.values():
            _find_tensors(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _find_tensors(item, out, depth + 1)


def _calls(inbound: Any) -> list[list[_Tensor]]:
    """Inbound nodes in Keras 3 form (``{"args", "kwargs"}``) or Keras 2 form (``[[name, i, j, {}]]``)."""
    calls: list[list[_Tensor]] = []
    if not isinstance(inbound, list):
        return calls
    for node in inbound:
        tensors: list[_Tensor] = []
        if isinstance(node, dict):
            _find_tensors(node.get("args"), tensors)
            _find_tensors(node.get("kwargs"), tensors)
        elif isinstance(node, list):
            for item in node:
                ref = _ref(item)
                if ref is not None:
                    tensors.append(_Tensor(ref, None, None))
        calls.append(tensors)
    return calls


def _is_model(class_name: str, config: dict[str, Any]) -> bool:
    if not isinstance(config.get("layers"), list):
        return False
    return class_name in ("Sequential", "Functional", "Model") or "input_layers" in config


def _parse(raw: Any, depth: int, where: str) -> _Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("class_name"), str):
        raise _fail(f"malformed config in {where!r}: a layer entry has no 'class_name' (the file is corrupt)")
    config = raw.get("config")
    config = config if isinstance(config, dict) else {}
    name = raw.get("name") if isinstance(raw.get("name"), str) else config.get("name")
    if not isinstance(name, str):
        raise _fail(f"malformed config in {where!r}: a {raw['class_name']} layer has no name (the file is corrupt)")
    entry = _Entry(name, raw["class_name"], config, raw)
    entry.calls = _calls(raw.get("inbound_nodes"))
    if not _is_model(entry.class_name, config):
        return entry
    if depth >= MAX_MODEL_DEPTH:
        raise _fail(f"models in {where!r} nest more than {MAX_MODEL_DEPTH} levels deep: refusing a hostile config")
    entry.kind = "model"
    children = [_parse(item, depth + 1, where) for item in config["layers"]]
    entry.sequential = "input_layers" not in config
    if entry.sequential:
        if children and children[0].kind == "input":
            entry.seq_input = children.pop(0)
        entry.children = children
    else:
        entry.children = children
        entry.input_refs = _refs(config.get("input_layers"))
        entry.output_refs = _refs(config.get("output_layers"))
    return entry


# --------------------------------------------------------------------------------------------
# Shapes the file does not store: the outputs nobody consumes
# --------------------------------------------------------------------------------------------
def _ints(value: Any, rank: int) -> tuple[int, ...] | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value,) * rank
    if isinstance(value, list) and len(value) == rank and all(isinstance(v, int) and v > 0 for v in value):
        return tuple(value)
    return None


def _spatial(cls: str, rank: int, cfg: dict[str, Any], shape: Shape) -> Shape | None:
    pooling = "Pooling" in cls
    kernel = _ints(cfg.get("pool_size" if pooling else "kernel_size"), rank)
    strides = _ints(cfg.get("strides") or kernel, rank) if pooling else _ints(cfg.get("strides", 1), rank)
    dilation = (1,) * rank if pooling else _ints(cfg.get("dilation_rate", 1), rank)
    if kernel is None or strides is None or dilation is None or len(shape) != rank + 2:
        return None
    first = cfg.get("data_format") == "channels_first"
    dims = shape[2:] if first else shape[1:-1]
    same = cfg.get("padding") == "same"
    out: list[int | None] = []
    for d, k, s, r in zip(dims, kernel, strides, dilation):
        if d is None:
            out.append(None)
        else:
            out.append(-(-d // s) if same else (d - (k - 1) * r - 1) // s + 1)
    channels = shape[1] if first else shape[-1]
    if cls.startswith("DepthwiseConv"):
        channels = None if channels is None else channels * int(cfg.get("depth_multiplier", 1))
    elif not pooling:
        channels = cfg.get("filters") if isinstance(cfg.get("filters"), int) else None
    return (shape[0], channels, *out) if first else (shape[0], *out, channels)


def _infer_output(cls: str, cfg: dict[str, Any], inputs: Sequence[Shape | None]) -> Shape | None:
    """A best-effort output shape for common layers (used where no consumer recorded one).

    >>> _infer_output("Dense", {"units": 3}, [(None, 8)])
    (None, 3)
    >>> _infer_output("Conv2D", {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, [(None, 9, 9, 1)])
    (None, 5, 5, 4)
    """
    shape = inputs[0] if inputs else None
    if shape is None:
        return None
    if cls in _SAME_SHAPE:
        return shape
    if cls == "Dense" and isinstance(cfg.get("units"), int) and shape:
        return (*shape[:-1], cfg["units"])
    if cls == "Flatten" and shape:
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))  # type: ignore[arg-type]
    if cls.startswith("Global") and "Pooling" in cls and len(shape) >= 3:
        axis = 1 if cfg.get("data_format") == "channels_first" else len(shape) - 1
        if cfg.get("keepdims"):
            return tuple(d if i in (0, axis) else 1 for i, d in enumerate(shape))
        return (shape[0], shape[axis])
    if cls == "Reshape" and isinstance(cfg.get("target_shape"), list):
        target = _shape(cfg["target_shape"])
        if target is not None and -1 not in target:
            return (shape[0], *target)
    if cls == "Concatenate" and all(s is not None for s in inputs):
        axis = cfg.get("axis", -1)
        if (
            isinstance(axis, int)
            and len({len(s) for s in inputs if s is not None}) == 1
            and -len(shape) <= axis < len(shape)
        ):
            sizes = [s[axis] for s in inputs if s is not None]
            out = list(shape)
            out[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
            return tuple(out)
    match = _CONV.match(cls)
    if match:
        return _spatial(cls, int(match.group(2)), cfg, shape)
    return None


# --------------------------------------------------------------------------------------------
# Tree -> Graph
# --------------------------------------------------------------------------------------------
def _nth(shapes: Sequence[Shape | None], index: int) -> Shape | None:
    return shapes[index] if index < len(shapes) else None


def _safe(value: Any, depth: int = 0) -> Any:
    """A small JSON-safe copy of a config value: deep, long or large parts are cut short."""
    if isinstance(value, dict):
        if value.get("class_name") == "__lambda__":
            code = (value.get("config") or {}).get("code") if isinstance(value.get("config"), dict) else None
            return {"class_name": "__lambda__", "code": _code_note(code)}
        if depth >= 5:
            return "{...}"
        items = list(value.items())
        out = {str(k): _safe(v, depth + 1) for k, v in items[:64]}
        if len(items) > 64:
            out["..."] = f"{len(items) - 64} more keys"
        return out
    if isinstance(value, list):
        if depth >= 5:
            return "[...]"
        head = [_safe(v, depth + 1) for v in value[:32]]
        return head + [f"... {len(value) - 32} more"] if len(value) > 32 else head
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:199] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _code_note(code: Any) -> str:
    size = len(code) if isinstance(code, str) else 0
    return f"<Python bytecode, {size} base64 characters: not executed>"


def _layer_details(entry: _Entry) -> dict[str, Any]:
    config = dict(entry.config)
    details: dict[str, Any] = {}
    if entry.class_name == "Lambda":
        details["note"] = "Lambda code not executed"
        for key in ("function", "output_shape", "mask"):
            value = config.get(key)
            if isinstance(value, list) and value and isinstance(value[0], str):  # Keras 2: [code, defaults, closure]
                config[key] = [_code_note(value[0])]
            elif isinstance(value, str) and config.get(f"{key}_type") == "lambda":
                config[key] = _code_note(value)
    details["config"] = _safe(config)
    return details


class _Iface:
    """How a (nested) model connects: inner consumers of each input, inner producers of each output."""

    def __init__(self) -> None:
        self.consumers: list[list[str]] = []
        self.producers: list[list[str]] = []
        self.in_shapes: tuple[Shape | None, ...] = ()
        self.out_shapes: tuple[Shape | None, ...] = ()
        self.dtype: str | None = None
        self.params = 0
        self.trainable_params = 0


_INPUT = "\0input:"  # marks "the i-th input of the model being read" among producer lists


class _Reader:
    def __init__(self, params: Params | None) -> None:
        self.params = params
        self.builder = GraphBuilder("")

    # -- helpers ---------------------------------------------------------------------------
    def _counts(self, entry: _Entry, chain: Chain, frozen: bool) -> tuple[int, int, bool]:
        trainable = entry.config.get("trainable", True) is not False
        total, own = (self.params or {}).get(chain, (0, []))
        if frozen or not trainable or entry.class_name in _ALL_NON_TRAINABLE:
            return total, 0, trainable
        tail = _NON_TRAINABLE_TAIL.get(entry.class_name, 0)
        return total, total - (sum(own[-tail:]) if tail else 0), trainable

    def _input_node(self, entry: _Entry, name: str | None = None, shape: Any = None) -> str:
        cfg = entry.config
        batch = _shape(cfg.get("batch_shape", cfg.get("batch_input_shape"))) if shape is None else shape
        return self.builder.add_node(
            name or entry.name,
            kind="input",
            class_name="InputLayer",
            input_shapes=(batch,),
            output_shapes=(batch,),
            dtype=_dtype(cfg.get("dtype")) or "float32",
            details={"config": _safe(cfg)},
        )

    def _layer_node(
        self, entry: _Entry, chain: Chain, parent: str | None, frozen: bool, ins: Any, outs: Any
    ) -> tuple[str, int, int]:
        total, trainable_total, trainable = self._counts(entry, chain, frozen)
        activation = entry.config.get("activation")
        node = self.builder.add_node(
            entry.name,
            kind="layer",
            class_name=entry.class_name,
            parent=parent,
            input_shapes=tuple(ins),
            output_shapes=tuple(outs),
            dtype=self._out_dtype.get(chain) or _dtype(entry.config.get("dtype")),
            params=total,
            trainable_params=trainable_total,
            trainable=trainable,
            activation=activation if isinstance(activation, str) else None,
            details=_layer_details(entry),
        )
        return node, total, trainable_total

    # -- models ----------------------------------------------------------------------------
    def read(self, root: _Entry) -> Graph:
        self.builder = GraphBuilder(root.name)
        self._out_dtype: dict[Chain, str] = {}
        if root.kind != "model":  # a subclassed model: its file stores no layer graph to draw
            total = (self.params or {}).get((), (0, []))[0]
            trainable = root.config.get("trainable", True) is not False
            self.builder.add_node(
                root.name,
                kind="model",
                class_name=root.class_name,
                params=total,
                trainable_params=total if trainable else 0,
                trainable=trainable,
                details={"note": "subclassed model: the file stores no layer graph", "config": _safe(root.config)},
            )
            self.builder.details = {
                "class_name": root.class_name,
                "params": total,
                "trainable_params": total if trainable else 0,
            }
            return self.builder.build()
        iface = self._model(root, (), None, True, False, ())
        self.builder.details = {
            "class_name": root.class_name,
            "params": iface.params,
            "trainable_params": iface.trainable_params,
        }
        return self.builder.build()

    def _model(self, m: _Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        if m.sequential:
            return self._sequential(m, chain, parent, top, frozen, hint)
        return self._functional(m, chain, parent, top, frozen, hint)

    def _nested(self, child: _Entry, chain: Chain, parent: str | None, frozen: bool, ins: Any, hint: tuple) -> _Iface:
        trainable = child.config.get("trainable", True) is not False
        cluster = self.builder.add_cluster(child.name, class_name=child.class_name, parent=parent, trainable=trainable)
        iface = self._model(child, chain, cluster, False, frozen or not trainable, hint)
        if ins:
            iface.in_shapes = tuple(ins)
        index = int(cluster[1:])
        self.builder.clusters[index] = replace(
            self.builder.clusters[index],
            params=iface.params,
            trainable_params=iface.trainable_params,
            details={
                "input_shapes": [list(s) if s is not None else None for s in iface.in_shapes],
                "output_shapes": [list(s) if s is not None else None for s in iface.out_shapes],
                "dtype": iface.dtype,
            },
        )
        return iface

    def _connect(self, sources: list[str], targets: list[str], iface: _Iface) -> None:
        for source in sources:
            if source.startswith(_INPUT):
                slot = iface.consumers[int(source[len(_INPUT) :])]
                slot.extend(t for t in targets if t not in slot)
            else:
                for target in targets:
                    self.builder.add_edge(source, target)

    def _sequential(self, m: _Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        iface = _Iface()
        iface.consumers = [[]]
        first = _shapes((m.raw.get("build_config") or {}).get("input_shape")) or _shapes(
            m.config.get("build_input_shape")
        )
        if m.seq_input is not None:
            first = (_shape(m.seq_input.config.get("batch_shape", m.seq_input.config.get("batch_input_shape"))),)
        elif m.children and not first:
            first = (_shape(m.children[0].config.get("batch_input_shape")),)
        iface.in_shapes = first
        if top:
            name = m.seq_input.name if m.seq_input is not None else f"{m.name}_input"
            prev = [self._input_node(m.seq_input or _Entry(name, "InputLayer"), name, first[0] if first else None)]
        else:
            prev = [f"{_INPUT}0"]
        shapes = first
        dtype = None
        for i, child in enumerate(m.children):
            ins = _shapes((child.raw.get("build_config") or {}).get("input_shape")) or shapes
            if i + 1 < len(m.children):
                nxt = m.children[i + 1]
                outs = _shapes((nxt.raw.get("build_config") or {}).get("input_shape"))
            else:
                outs = hint if any(s is not None for s in hint) else ()
            if child.kind == "model":
                sub = self._nested(child, (*chain, child.name), parent, frozen, ins, outs)
                iface.params += sub.params
                iface.trainable_params += sub.trainable_params
                targets = sub.consumers[0] if sub.consumers else []
                self._connect(prev, targets, iface)
                prev = [p for group in sub.producers for p in group]
                shapes = outs or sub.out_shapes
                dtype = sub.dtype
                continue
            if not outs:
                guess = _infer_output(child.class_name, child.config, ins)
                outs = (guess,) if guess is not None else ()
            node, total, trainable_total = self._layer_node(child, (*chain, child.name), parent, frozen, ins, outs)
            iface.params += total
            iface.trainable_params += trainable_total
            self._connect(prev, [node], iface)
            prev, shapes, dtype = [node], outs, self.builder.nodes[-1].dtype
        iface.producers = [[p for p in prev if not p.startswith(_INPUT)]]
        iface.out_shapes = tuple(shapes)
        iface.dtype = dtype
        return iface

    def _functional(self, m: _Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        iface = _Iface()
        iface.consumers = [[] for _ in m.input_refs]
        seen: dict[tuple[str, int, int], _Tensor] = {}
        n_out: dict[str, int] = {}
        for child in m.children:
            for call in child.calls:
                for t in call:
                    seen.setdefault(t.ref, t)
        for j, ref in enumerate(m.output_refs):
            if ref not in seen or seen[ref].shape is None:
                shape = hint[j] if j < len(hint) else None
                seen[ref] = _Tensor(ref, shape, seen[ref].dtype if ref in seen else None)
        for name, call_index, tensor_index in seen:
            if call_index == 0:
                n_out[name] = max(n_out.get(name, 0), tensor_index + 1)
        input_slot = {ref[0]: i for i, ref in enumerate(m.input_refs)}
        nodes: dict[str, str] = {}
        subs: dict[str, _Iface] = {}
        out_shapes: dict[str, tuple[Shape | None, ...]] = {}
        dtypes: dict[str, str | None] = {}

        def resolve(ref: tuple[str, int, int]) -> list[str]:
            name, _, tensor_index = ref
            if name in nodes:
                return [nodes[name]]
            if name in subs:
                groups = subs[name].producers
                return groups[tensor_index] if tensor_index < len(groups) else [p for g in groups for p in g]
            if name in input_slot and not top:
                return [f"{_INPUT}{input_slot[name]}"]
            return []

        if top:  # like the live extractor: every model input first, then the layers in config order
            for child in m.children:
                if child.kind == "input":
                    nodes[child.name] = self._input_node(child)
        for child in m.children:
            sub_chain = (*chain, child.name)
            recorded = tuple(
                seen[(child.name, 0, j)].shape if (child.name, 0, j) in seen else None
                for j in range(n_out.get(child.name, 0))
            )
            first_call = child.calls[0] if child.calls else []
            ins = tuple(t.shape or _nth(out_shapes.get(t.ref[0], ()), t.ref[2]) for t in first_call)
            if not any(s is not None for s in ins):  # Keras 2 configs record no tensor shapes
                ins = _shapes((child.raw.get("build_config") or {}).get("input_shape")) or ins
            if child.kind == "input":
                batch = _shape(child.config.get("batch_shape", child.config.get("batch_input_shape")))
                out_shapes[child.name] = (batch,)
                dtypes[child.name] = _dtype(child.config.get("dtype"))
                continue
            if child.kind == "model":
                sub = self._nested(child, sub_chain, parent, frozen, ins, recorded)
                subs[child.name] = sub
                iface.params += sub.params
                iface.trainable_params += sub.trainable_params
                out_shapes[child.name] = recorded if recorded and None not in recorded else sub.out_shapes
                dtypes[child.name] = sub.dtype
            else:
                outs = recorded
                if len(outs) <= 1 and (not outs or outs[0] is None):
                    guess = _infer_output(child.class_name, child.config, ins)
                    outs = (guess,) if guess is not None else outs
                first_out = seen.get((child.name, 0, 0))
                if first_out is not None and first_out.dtype:
                    self._out_dtype[sub_chain] = first_out.dtype
                node, total, trainable_total = self._layer_node(child, sub_chain, parent, frozen, ins, outs)
                nodes[child.name] = node
                iface.params += total
                iface.trainable_params += trainable_total
                out_shapes[child.name] = outs
                dtypes[child.name] = self.builder.nodes[-1].dtype
            for call in child.calls:
                for position, tensor in enumerate(call):
                    if child.kind == "model":
                        groups = subs[child.name].consumers
                        targets = groups[position] if position < len(groups) else []
                    else:
                        targets = [nodes[child.name]]
                    self._connect(resolve(tensor.ref), targets, iface)
        iface.producers = [[p for p in resolve(ref) if not p.startswith(_INPUT)] for ref in m.output_refs]
        outs_list: list[Shape | None] = []
        for name, _, tensor_index in m.output_refs:
            known = out_shapes.get(name, ())
            outs_list.append(known[tensor_index] if tensor_index < len(known) else None)
        iface.out_shapes = tuple(outs_list)
        iface.in_shapes = tuple(out_shapes.get(name, (None,))[0] for name, _, _ in m.input_refs)
        iface.dtype = dtypes.get(m.output_refs[0][0]) if m.output_refs else None
        return iface


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def file_to_graph(path: str | os.PathLike[str], *, expand_nested: bool = True, depth: int | None = None) -> Graph:
    """Read a Keras 3 ``.keras`` archive or a legacy ``.h5`` model file into a :class:`Graph`.

    The structure matches :func:`ganviz.extract.keras_model.model_to_graph` on the live model: one
    ``input`` node per model input, one node per layer in config order, nested models as clusters.
    Nothing in the file is executed, and TensorFlow/Keras are never imported.

    Args:
        path: the model file (``.keras``, ``.h5`` or ``.hdf5``).
        expand_nested: draw nested models open (``False`` collapses each into one ``model`` node).
        depth: how many levels of nested models to keep open (overrides ``expand_nested``).

    Returns:
        The architecture graph; ``graph.details`` holds the class name and parameter counts, plus
        ``warnings`` when the parameter counts could not be read.

    Raises:
        ModelFileError: the file is missing, of an unknown kind, corrupt, hostile or holds no model.
    """
    p = Path(os.fspath(path))
    kind = _sniff(p)
    warnings: list[str] = []
    if kind == "keras":
        config, metadata, weights, warnings = _read_archive(p)
    else:
        config, metadata = _read_legacy_h5(p)
    try:
        root = _parse(config, 0, p.name)
        if kind == "h5":
            params = _weights_params(p, "model_weights", root, warnings)
        else:
            params = _archive_params(p, weights, root, warnings) if weights is not None else None
        graph = _Reader(params).read(root)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError) as exc:
        raise _fail(f"malformed model config in {p.name!r} ({type(exc).__name__}: {exc}); re-save the model") from None
    details = dict(graph.details)
    details["file_format"] = kind
    if isinstance(metadata.get("keras_version"), str):
        details["keras_version"] = metadata["keras_version"]
    if warnings:
        details["warnings"] = warnings
    graph = Graph(graph.name, graph.nodes, graph.clusters, graph.edges, details)
    if depth is None and not expand_nested:
        depth = 0
    return collapse_to_depth(graph, depth)

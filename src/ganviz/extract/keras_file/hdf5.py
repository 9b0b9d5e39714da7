"""A bounded, standard-library HDF5 reader for the dataset sizes in Keras weights files."""

from __future__ import annotations

import math
import struct
from typing import Any

__all__ = ["HDF5_MAGIC", "MAX_H5_OBJECTS", "TinyHDF5", "Unsupported"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_H5_OBJECTS = 200_000  # stop walking a weights file after this many objects
_MAX_H5_READ_BYTES = 64 * 2**20  # the built-in HDF5 reader reads at most this much metadata


class Unsupported(Exception):
    """The weights file is not in the plain layout the built-in reader knows; h5py reads it instead."""


class TinyHDF5:
    """Dataset sizes and group paths of an HDF5 file in h5py's default layout, read without h5py.

    Handles superblock version 0, symbol-table groups (v1 B-trees and local heaps) and version-1
    object headers, which is what Keras writes; anything else raises :class:`Unsupported`. Every
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
        if head[:8] != HDF5_MAGIC or head[8] != 0 or head[13] != 8 or head[14] != 8 or _u64(head, 24) != 0:
            raise Unsupported("superblock")
        if struct.unpack_from("<I", head, 72)[0] != 1:  # root entry's cache type: B-tree and heap given
            raise Unsupported("root cache")
        self._walk(_u64(head, 80), _u64(head, 88))

    def _read(self, address: int, size: int) -> bytes:
        self._budget -= size
        if address < 0 or size < 0 or address + size > self._length or self._budget < 0:
            raise Unsupported("address out of range or too much to read")
        self._fh.seek(self._start + address)
        data = self._fh.read(size)
        if len(data) != size:
            raise Unsupported("short read")
        return data

    def _once(self, address: int) -> None:
        if address in self._seen:
            raise Unsupported("cycle")
        self._seen.add(address)
        if len(self._seen) > MAX_H5_OBJECTS:
            raise Unsupported("too many objects")

    def _walk(self, btree: int, heap: int) -> None:
        stack = [("", btree, heap)]
        while stack:
            prefix, btree, heap = stack.pop()
            names = self._heap(heap)
            for entry in self._entries(btree):
                offset = _u64(entry, 0)
                end = names.find(b"\0", offset)
                if end < 0:
                    raise Unsupported("name")
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
            raise Unsupported("local heap")
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
                raise Unsupported("B-tree")
            body = self._read(address + 24, 8 + 16 * used)
            children = [_u64(body, 16 * i + 8) for i in range(used)]
            if head[5] > 0:
                nodes.extend(children)
                continue
            for child in children:
                self._once(child)
                node = self._read(child, 8)
                if node[:4] != b"SNOD" or node[4] != 1:
                    raise Unsupported("symbol table node")
                count = struct.unpack_from("<H", node, 6)[0]
                table = self._read(child + 8, 40 * count)
                entries.extend(table[40 * i : 40 * i + 40] for i in range(count))
                if len(entries) > MAX_H5_OBJECTS:
                    raise Unsupported("too many entries")
        return entries

    def _object(self, address: int) -> int | tuple[int, int] | None:
        """A dataset's number of elements, a group's (B-tree, heap), or None for anything else."""
        self._once(address)
        head = self._read(address, 16)
        if head[0] != 1:
            raise Unsupported("object header")
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
        raise Unsupported("short structure")
    return int(struct.unpack_from("<Q", data, offset)[0])


def _dataspace_size(data: bytes) -> int:
    if len(data) < 8 or data[0] not in (1, 2):
        raise Unsupported("dataspace")
    rank = data[1]
    if data[0] == 2 and data[3] == 2:  # null dataspace
        return 0
    first = 8 if data[0] == 1 else 4
    return math.prod(_u64(data, first + 8 * i) for i in range(rank))

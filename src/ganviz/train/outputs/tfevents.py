"""The TensorBoard event-file format by hand: protobuf wire encoding, TFRecord framing, CRC32C; no TensorFlow, no protobuf.

An event file is a sequence of TFRecords, each ``uint64 length | uint32 masked_crc32c(length) |
data | uint32 masked_crc32c(data)`` (little-endian), and each record's data is one serialized
``tensorflow.Event`` message. Only the few message fields ganviz writes are encoded here, with the
field numbers of TensorFlow's ``event.proto``, ``summary.proto``, ``tensor.proto`` and
``tensor_shape.proto``:

* ``Event``: wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5, source_metadata = 10
* ``Summary``: value = 1 (repeated); ``Summary.Value``: tag = 1, simple_value = 2, tensor = 8, metadata = 9
* ``SummaryMetadata``: plugin_data = 1; ``PluginData``: plugin_name = 1, content = 2
* ``TensorProto``: dtype = 1, tensor_shape = 2, tensor_content = 4, float_val = 5 (packed), double_val = 6,
  int_val = 7, string_val = 8, int64_val = 10; ``TensorShapeProto``: dim = 2; ``Dim``: size = 1

The decoder reads those fields back (and skips any other), raising ``RunFileError`` (a ``ValueError``)
on bytes that are not a well-formed message, so a damaged file is an error its reader can name.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...errors import RunFileError

__all__ = [
    "DT_FLOAT",
    "DT_DOUBLE",
    "DT_INT32",
    "DT_INT64",
    "DT_STRING",
    "crc32c",
    "masked_crc",
    "frame",
    "iter_records",
    "TruncatedRecord",
    "event",
    "summary_value",
    "scalar_tensor",
    "string_tensor",
    "fields",
    "parse_tensor",
    "parse_event",
]

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64 = 1, 2, 3, 7, 9
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1


# -- CRC32C (Castagnoli) ---------------------------------------------------------------------------
def _table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def _crc32c_table(data: bytes) -> int:
    """CRC32C of ``data`` a byte at a time from a 256-entry table (about 15 ms for 100 KB)."""
    crc = _U32
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _U32


def _fast_crc32c() -> Callable[[bytes], int] | None:
    """A compiled CRC32C from ``google_crc32c`` or ``crc32c`` when one is installed."""
    try:
        import google_crc32c

        return lambda data: int(google_crc32c.value(bytes(data)))
    except Exception:  # not installed, or a broken install: the table does the same
        pass
    try:
        import crc32c as _crc32c_module

        return lambda data: int(_crc32c_module.crc32c(bytes(data)))
    except Exception:
        return None


crc32c: Callable[[bytes], int] = _fast_crc32c() or _crc32c_table


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C: the CRC rotated right by 15 bits plus a constant, mod 2**32.

    >>> hex(crc32c(b"123456789")), hex(masked_crc(b""))
    ('0xe3069283', '0xa282ead8')
    """
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def frame(data: bytes) -> bytes:
    """One TFRecord holding ``data``."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


class TruncatedRecord(Exception):
    """The file ends inside a record (a run killed while writing it); the records before it are whole."""


def iter_records(read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
    """The data of each TFRecord read through ``read(n)`` from a file of ``size`` bytes, checksums checked.

    Raises:
        TruncatedRecord: the file ends inside a record.
        RunFileError: a checksum does not match, or a length points past the end of the file.
    """
    offset = 0
    while True:
        header = read(12)
        if not header:
            return
        if len(header) < 12:
            raise TruncatedRecord(offset)
        (length,) = struct.unpack_from("<Q", header)
        (length_crc,) = struct.unpack_from("<I", header, 8)
        if masked_crc(header[:8]) != length_crc:
            raise RunFileError(f"the record at byte {offset} has a damaged length (checksum mismatch)")
        if length > size - offset - 12:
            raise TruncatedRecord(offset)
        body = read(length + 4)
        if len(body) < length + 4:
            raise TruncatedRecord(offset)
        data = body[:length]
        (data_crc,) = struct.unpack_from("<I", body, length)
        if masked_crc(data) != data_crc:
            raise RunFileError(f"the record at byte {offset} is damaged (checksum mismatch)")
        yield data
        offset += 16 + length


# -- protobuf wire format: encoding ------------------------------------------------------------------
def _varint(n: int) -> bytes:
    n &= _U64  # negative int64 values are their 64-bit two's complement (10 bytes)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _int_field(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value


def _double_field(field: int, value: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", value)


def _shape(dims: tuple[int, ...]) -> bytes:
    return b"".join(_bytes_field(2, _int_field(1, d)) for d in dims)  # TensorShapeProto.dim[].size


def scalar_tensor(value: float) -> bytes:
    """A ``TensorProto``: a DT_FLOAT scalar in packed ``float_val``."""
    return _int_field(1, DT_FLOAT) + _bytes_field(2, b"") + _bytes_field(5, struct.pack("<f", value))


def string_tensor(values: list[bytes], shape: tuple[int, ...]) -> bytes:
    """A ``TensorProto``: DT_STRING of ``shape`` (``()`` for a scalar) holding ``values`` in order."""
    return _int_field(1, DT_STRING) + _bytes_field(2, _shape(shape)) + b"".join(_bytes_field(8, v) for v in values)


def summary_value(tag: str, tensor: bytes, plugin: str) -> bytes:
    """A ``Summary.Value``: ``tag``, the tensor, and metadata naming the TensorBoard plugin that shows it."""
    metadata = _bytes_field(1, _bytes_field(1, plugin.encode("utf-8")))  # SummaryMetadata.plugin_data.plugin_name
    return _bytes_field(1, tag.encode("utf-8")) + _bytes_field(8, tensor) + _bytes_field(9, metadata)


def event(wall_time: float, step: int, *, values: Sequence[bytes] = (), file_version: str | None = None) -> bytes:
    """A serialized ``Event``: a first record (``file_version``) or a ``Summary`` of ``values``."""
    out = _double_field(1, wall_time) + (_int_field(2, step) if step else b"")
    if file_version is not None:
        out += _bytes_field(3, file_version.encode("utf-8"))
        out += _bytes_field(10, _bytes_field(1, b"ganviz"))  # source_metadata.writer
    if values:
        out += _bytes_field(5, b"".join(_bytes_field(1, v) for v in values))
    return out


# -- protobuf wire format: decoding ------------------------------------------------------------------
def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RunFileError("a varint runs past the end of its message")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise RunFileError("a varint longer than 10 bytes")


def fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` of each field of one message: ints, bytes (length-delimited, fixed).

    >>> fields(bytes.fromhex("0803") + b"\\x12\\x02hi")
    [(1, 0, 3), (2, 2, b'hi')]
    """
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise RunFileError("field number 0")
        value: Any
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if length > len(buf) - pos:
                raise RunFileError("a field runs past the end of its message")
            value, pos = buf[pos : pos + length], pos + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise RunFileError("a fixed-width field runs past the end of its message")
            value, pos = buf[pos : pos + width], pos + width
        else:
            raise RunFileError(f"wire type {wire} (groups are not used by event files)")
        out.append((number, wire, value))
    return out


def _signed(n: int) -> int:
    return n - (1 << 64) if n >> 63 else n


def _numbers(values: list[tuple[int, Any]], wire0: str, packed: str) -> list[float]:
    """Repeated numeric field values, whether packed (wire type 2) or one field each."""
    out: list[float] = []
    for wire, value in values:
        if wire == 2:
            if wire0 == "varint":
                pos = 0
                while pos < len(value):
                    n, pos = _read_varint(value, pos)
                    out.append(_signed(n))
            else:
                if len(value) % struct.calcsize(packed):
                    raise RunFileError("a packed field of the wrong length")
                out.extend(x for (x,) in struct.iter_unpack("<" + packed, value))
        elif wire == 0 and wire0 == "varint":
            out.append(_signed(value))
        elif wire in (1, 5) and wire0 != "varint" and len(value) == struct.calcsize(packed):
            out.append(struct.unpack("<" + packed, value)[0])
        else:
            raise RunFileError("a numeric field of the wrong wire type")
    return out


_CONTENT = {DT_FLOAT: "f", DT_DOUBLE: "d", DT_INT32: "i", DT_INT64: "q"}


def parse_tensor(buf: bytes) -> dict[str, Any]:
    """The parts of a ``TensorProto`` ganviz reads: dtype, shape, numbers (any numeric field), strings."""
    dtype, shape, strings, content = 0, [], [], b""
    numeric: dict[int, list[tuple[int, Any]]] = {}
    for number, wire, value in fields(buf):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            for n, w, dim in fields(value):
                if n == 2 and w == 2:
                    shape.append(next((_signed(s) for k, kw, s in fields(dim) if k == 1 and kw == 0), 0))
        elif number == 4 and wire == 2:
            content = value
        elif number in (5, 6, 7, 10):
            numeric.setdefault(number, []).append((wire, value))
        elif number == 8 and wire == 2:
            strings.append(value)
    numbers: list[float] = []
    numbers += _numbers(numeric.get(5, []), "fixed", "f")
    numbers += _numbers(numeric.get(6, []), "fixed", "d")
    numbers += _numbers(numeric.get(7, []), "varint", "")
    numbers += _numbers(numeric.get(10, []), "varint", "")
    if content and dtype in _CONTENT:
        width = struct.calcsize(_CONTENT[dtype])
        if len(content) % width:
            raise RunFileError("tensor_content of the wrong length")
        numbers += [x for (x,) in struct.iter_unpack("<" + _CONTENT[dtype], content)]
    return {"dtype": dtype, "shape": shape, "numbers": numbers, "strings": strings}


def _text(value: bytes) -> str:
    return bytes(value).decode("utf-8", errors="replace")


def parse_event(buf: bytes) -> dict[str, Any]:
    """An ``Event``'s step, wall time, file version and summary values (tag, plugin, tensor, simple_value)."""
    out: dict[str, Any] = {"step": 0, "wall_time": 0.0, "file_version": None, "values": []}
    for number, wire, value in fields(buf):
        if number == 1 and wire == 1:
            out["wall_time"] = struct.unpack("<d", value)[0]
        elif number == 2 and wire == 0:
            out["step"] = _signed(value)
        elif number == 3 and wire == 2:
            out["file_version"] = _text(value)
        elif number == 5 and wire == 2:
            for n, w, raw in fields(value):
                if n == 1 and w == 2:
                    out["values"].append(_parse_value(raw))
    return out


def _parse_value(buf: bytes) -> dict[str, Any]:
    value: dict[str, Any] = {"tag": "", "plugin": "", "tensor": None, "simple_value": None}
    for number, wire, raw in fields(buf):
        if number == 1 and wire == 2:
            value["tag"] = _text(raw)
        elif number == 2 and wire == 5:
            value["simple_value"] = struct.unpack("<f", raw)[0]
        elif number == 8 and wire == 2:
            value["tensor"] = parse_tensor(raw)
        elif number == 9 and wire == 2:
            for n, w, plugin_data in fields(raw):
                if n == 1 and w == 2:
                    for k, kw, name in fields(plugin_data):
                        if k == 1 and kw == 2:
                            value["plugin"] = _text(name)
    return value

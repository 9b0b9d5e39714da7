"""Reading a run folder's files back: only the run's own regular files, of bounded size, as checked JSON.

Everything ganviz reads from a run folder goes through here. A file is read only when its resolved
path lies inside the run folder (a link to ``/etc/passwd`` is refused), it is a regular file (a
FIFO, a socket or ``/dev/zero`` is never opened for reading, so nothing blocks), and it is no
bigger than the limit asked. JSON is parsed with a depth limit, so 100,000 nested brackets are a
damaged file rather than a ``RecursionError``; JSON-lines files are streamed line by line.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..._io import open_regular
from ...errors import RunFileError

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_DEPTH",
    "check_run_file",
    "read_run_bytes",
    "read_run_json",
    "iter_run_jsonl",
    "parse_json",
    "json_depth_ok",
    "step_of",
]

MAX_JSON_BYTES = 64 << 20  # config.json, notes.json, trace.json ...
MAX_IMAGE_BYTES = 256 << 20  # a grid, the GIF, the curves, a diagram
MAX_LINE_BYTES = 1 << 20  # one line of metrics.jsonl / events.jsonl
MAX_DEPTH = 64  # JSON nesting that any run file may hold
_CHUNK = 1 << 20


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def check_run_file(root: Path, path: Path, *, limit: int) -> int:
    """The size of ``path`` after checking it is a regular file of at most ``limit`` bytes inside ``root``.

    Raises:
        RunFileError: missing, resolving outside the run folder, not a regular file, or too big;
            the message names the file relative to the run folder and says why.
    """
    name = _rel(root, path)
    try:
        real = Path(os.path.realpath(path))
        inside = real.is_relative_to(Path(os.path.realpath(root)))
    except (OSError, ValueError, RuntimeError) as exc:
        raise RunFileError(f"{name}: cannot be resolved ({exc})") from None
    if not inside:
        raise RunFileError(f"{name}: a link to a file outside the run folder")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise RunFileError(f"{name}: missing") from None
    except OSError as exc:
        raise RunFileError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise RunFileError(f"{name}: a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise RunFileError(f"{name}: not a regular file (a pipe, socket or device)")
    if st.st_size > limit:
        raise RunFileError(f"{name}: {st.st_size} bytes, more than the {limit} a run file may hold")
    return st.st_size


def _open(root: Path, path: Path, *, limit: int) -> Any:
    """Open a checked run file without following a swap to a pipe (``O_NONBLOCK``), re-checked once open."""
    check_run_file(root, path, limit=limit)
    try:
        f, size = open_regular(os.path.realpath(path))
    except OSError as exc:
        raise RunFileError(f"{_rel(root, path)}: cannot be read ({exc.strerror or exc})") from None
    if size > limit:
        f.close()
        raise RunFileError(f"{_rel(root, path)}: grew past {limit} bytes while being read")
    return f


def read_run_bytes(root: Path, path: Path, *, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of a run file (at most ``limit``; see :func:`check_run_file`)."""
    with _open(root, path, limit=limit) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RunFileError(f"{_rel(root, path)}: grew past {limit} bytes while being read")
    return data


def json_depth_ok(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts at most ``max_depth`` deep (checked without recursion).

    >>> json_depth_ok([[[]]], 3), json_depth_ok([[[[]]]], 3)
    (True, False)
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > max_depth:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return True


def _finite_constant(name: str) -> None:
    return None  # NaN, Infinity and -Infinity read as null, as ganviz writes them


def _finite_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None  # 1e999 reads as null, not inf


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text as Python values, with NaN, infinities and overflowing numbers as ``None``.

    Raises:
        ValueError: not JSON, not UTF-8, or nested deeper than ``max_depth``.

    >>> parse_json('{"a": NaN, "b": 1e999, "c": [1]}')
    {'a': None, 'b': None, 'c': [1]}
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value = json.loads(text, parse_constant=_finite_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    if not json_depth_ok(value, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return value


def read_run_json(root: Path, path: Path, *, limit: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """A run file's JSON value.

    Raises:
        RunFileError: the file is refused (see :func:`check_run_file`) or is not JSON of bounded depth.
    """
    data = read_run_bytes(root, path, limit=limit)
    try:
        return parse_json(data, max_depth=max_depth)
    except ValueError as exc:
        raise RunFileError(f"{_rel(root, path)}: damaged ({exc})") from None


def _lines(f: Any, max_line: int) -> Iterator[bytes | None]:
    """The lines of a binary file, in chunks; a line longer than ``max_line`` comes as ``None`` (never held whole)."""
    pending = bytearray()
    too_long = False
    while chunk := f.read(_CHUNK):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if too_long:
                yield None
            else:
                pending += chunk[start:end]
                yield bytes(pending) if len(pending) <= max_line else None
            pending.clear()
            too_long = False
            start = end + 1
        if not too_long:
            pending += chunk[start:]
            if len(pending) > max_line:
                pending.clear()
                too_long = True
    if too_long:
        yield None
    elif pending:
        yield bytes(pending)


def iter_run_jsonl(
    root: Path, path: Path, *, max_line: int = MAX_LINE_BYTES, max_depth: int = 8
) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines run file, streamed; damaged, deep or overlong lines are skipped.

    A missing file yields nothing. Raises :class:`RunFileError` when the file exists but is refused.
    """
    if not os.path.lexists(path):
        return
    with _open(root, path, limit=1 << 62) as f:
        for line in _lines(f, max_line):
            if not line or not line.strip():
                continue
            try:
                rec = parse_json(line.decode("utf-8", errors="replace"), max_depth=max_depth)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield rec


def step_of(record: dict[str, Any]) -> int | None:
    """A record's step as a non-negative int, or ``None`` when it is missing or damaged (``"abc"``, ``null``, 2.5).

    >>> step_of({"step": 3}), step_of({"step": 3.0}), step_of({"step": "abc"}), step_of({"step": True})
    (3, 3, None, None)
    """
    value = record.get("step")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    return None

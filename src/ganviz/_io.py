"""Atomic file writing: a file is written completely or not at all."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO

from .errors import OutputPathError, TargetError

__all__ = ["write_atomic", "check_writable", "check_name_lengths", "check_input_file", "open_regular"]

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
PATH_MAX = 4096


def check_name_lengths(path: str | os.PathLike[str], *, what: str = "file name") -> Path:
    """Refuse a path whose file names (or whole length) no file system accepts.

    >>> check_name_lengths("a" * 300 + ".png")
    Traceback (most recent call last):
    ...
    ganviz.errors.OutputPathError: file name too long: 'aaaaaaaaaaaaaaaaaaaa...png' is 304 bytes, the limit is 255 (choose a shorter file name)
    """
    p = Path(path)
    raw = os.fsencode(p)
    for part in p.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            short = part[:20] + "..." + part[-3:]
            raise OutputPathError(
                f"file name too long: {short!r} is {size} bytes, the limit is {NAME_MAX} (choose a shorter {what})"
            )
    if len(raw) > PATH_MAX:
        raise OutputPathError(f"path too long: {len(raw)} bytes, the limit is {PATH_MAX} (choose a shorter {what})")
    return p


def check_input_file(path: str | os.PathLike[str], what: str, *, hint: str = "check the path") -> Path:
    """Return ``path`` if it is a regular file; else say what it is instead (missing, a folder, a FIFO...).

    Raises:
        TargetError: the path is missing, a folder, or not a regular file (FIFOs and devices are never opened).
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise TargetError(f"{what} {str(p)!r} not found ({hint})") from None
    except OSError as exc:
        raise TargetError(f"cannot open {what} {str(p)!r}: {exc.strerror or exc} ({hint})") from None
    if stat.S_ISDIR(mode):
        raise TargetError(f"{what} {str(p)!r} is a folder, not a file ({hint})")
    if not stat.S_ISREG(mode):
        raise TargetError(f"{what} {str(p)!r} is not a regular file (a pipe, socket or device); give a file")
    return p


def open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, int]:
    """Open ``path`` to read, never blocking on a pipe (``O_NONBLOCK``): the file and its size, if a regular file.

    Raises:
        OSError: it cannot be opened, or is not a regular file once open (``errno.EINVAL`` then).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return os.fdopen(fd, "rb"), st.st_size


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking its folder exists and is writable.

    Raises:
        OutputPathError: the name is too long, or the folder is missing, not a folder, or not writable.
    """
    p = check_name_lengths(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputPathError(f"cannot write {str(p)!r}: it is a directory (give a file name such as model.png)")
    if not folder.exists():
        raise OutputPathError(f"cannot write {str(p)!r}: folder {str(folder)!r} does not exist (create it first)")
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {str(p)!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"cannot write {str(p)!r}: folder {str(folder)!r} is not writable (choose another path)")
    return p


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    A reader never sees a half-written file, and an existing file survives a failure intact.
    """
    p = check_writable(path)
    if p.exists() and not p.is_file():
        raise OutputPathError(f"cannot write {str(p)!r}: it is not a regular file (give a file name)")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))

    def write(_: Path) -> None:
        os.chmod(tmp, _mode_for(p))
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())

    return _replace_with(p, tmp, write)


def write_atomic_with(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Let a library's own writer (``model.save``) write a temporary file beside ``path``, then ``os.replace`` it.

    The temporary name keeps ``path``'s suffix (Keras picks the format by it); on failure it is removed
    and an existing ``path`` is left intact.
    """
    p = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=p.suffix, dir=str(p.parent))
    os.close(fd)
    os.unlink(tmp)  # the writer creates it (Keras refuses to overwrite some files)
    return _replace_with(p, tmp, writer)


def _replace_with(p: Path, tmp: str, writer: Callable[[Path], object]) -> Path:
    """Run ``writer(tmp)``, then move ``tmp`` over ``p``; on any failure remove ``tmp`` and leave ``p`` as it was."""
    try:
        writer(Path(tmp))
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` to ``path`` (one JSON line of a log: a kill loses at most that line, never earlier ones)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def open_append(path: str | os.PathLike[str]) -> TextIO:
    """``path`` opened for appending text, for a log written line by line while training runs."""
    return open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by its owner (the Monitor) at the end


def open_append_bytes(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for appending bytes, unbuffered: each ``write`` reaches the file whole (an event file's records).

    The file is created if missing; its owner closes it.
    """
    return open(path, "ab", buffering=0)  # noqa: SIM115 - closed by its owner (the TensorBoard writer)


def create_once(path: str | os.PathLike[str], text: str) -> bool:
    """Create ``path`` holding ``text`` only if it does not exist; False if it does (a lock taken by another).

    The file is written whole under a temporary name and hard-linked into place, so no reader ever
    sees it half-written and two writers cannot both succeed.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            os.link(tmp, p)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def _mode_for(path: Path) -> int:
    """The permission bits a plain ``open(path, "w")`` would give: the old file's, else 0o666 less umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask

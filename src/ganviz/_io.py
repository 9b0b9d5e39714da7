"""Atomic file writing: a file is written completely or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputPathError

__all__ = ["write_atomic", "check_writable"]


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking its folder exists and is writable.

    Raises:
        OutputPathError: the folder is missing, not a folder, or not writable.
    """
    p = Path(path)
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
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        os.chmod(tmp, _mode_for(p))
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def _mode_for(path: Path) -> int:
    """The permission bits a plain ``open(path, "w")`` would give: the old file's, else 0o666 less umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask

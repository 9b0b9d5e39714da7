"""One training run per run folder: a lock file holding the owner's pid, host and start time."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..._io import create_once
from ...errors import OutputPathError

__all__ = ["LOCK_NAME", "RunLock", "RunFolderBusyError"]

LOCK_NAME = ".ganviz.lock"


class RunFolderBusyError(OutputPathError):
    """Another live ``ganviz train`` holds the run folder."""


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie or a foreign user's process counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RunLock:
    """Hold ``out_dir/.ganviz.lock`` while a run writes the folder.

    The lock is made by hard-linking a complete temporary file to the lock's name, so a reader never
    sees half a lock and two runs cannot both succeed. A lock whose pid is dead on this host is stale
    (its run was killed) and is taken over; a lock from another host is never taken over.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with RunLock(d) as lock:
    ...     (d / LOCK_NAME).exists(), lock.taken_over
    (True, None)
    >>> (d / LOCK_NAME).exists()
    False
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_NAME
        self.taken_over: dict[str, Any] | None = None
        self._held = False
        self._me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}

    def owner(self) -> dict[str, Any] | None:
        """The lock's content, ``{}`` for an unreadable lock, ``None`` when there is no lock."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> RunLock:
        """Take the lock, taking over a stale one.

        Raises:
            RunFolderBusyError: a live run (on this host, or any run on another host) holds it.
        """
        for _ in range(3):
            if self._link():
                self._held = True
                return self
            owner = self.owner()
            if owner is None:
                continue  # released between our attempt and the read: try again
            if not self._stale(owner):
                raise RunFolderBusyError(self._busy_message(owner))
            self.taken_over = owner
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        raise RunFolderBusyError(f"cannot lock run folder {str(self.out_dir)!r}: another run keeps taking it")

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if self._held and self.owner() == self._me:
            self.path.unlink(missing_ok=True)
        self._held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals ---------------------------------------------------------------------------
    def _link(self) -> bool:
        return create_once(self.path, json.dumps(self._me))

    def _stale(self, owner: dict[str, Any]) -> bool:
        if not owner:  # unreadable: written by something else, or damaged; a lock is always written whole
            return True
        if owner.get("host") != self._me["host"]:
            return False
        pid = owner.get("pid")
        return not (isinstance(pid, int) and _pid_alive(pid))

    def _busy_message(self, owner: dict[str, Any]) -> str:
        started = owner.get("started")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if isinstance(started, (int, float)) else "?"
        who = f"pid {owner.get('pid')} on {owner.get('host')}, started {when}"
        here = owner.get("host") == self._me["host"]
        fix = "wait for it or stop it" if here else f"if it is no longer running, delete {str(self.path)!r}"
        return f"run folder {str(self.out_dir)!r} is in use by another training run ({who}): {fix}, or choose another --out"

"""``TensorBoardWriter``: scalars, sample grids and the system diagram as TensorBoard event files, on every backend.

The events are encoded by ``tfevents.py`` (protobuf and TFRecord by hand), so writing needs
neither TensorFlow nor the ``tensorboard`` or ``protobuf`` packages: a JAX-only or PyTorch-only
install writes the same files ``tf.summary`` does (scalars as DT_FLOAT scalar tensors for the
"scalars" plugin, images as ``[width, height, png]`` strings for "images", text as a string for
"text"). Viewing them needs ``pip install tensorboard`` (``tensorboard --logdir RUN``).
"""

from __future__ import annotations

import io
import itertools
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..._io import open_append_bytes, open_regular
from ...errors import OutputPathError, RunFileError
from ..run.reading import check_run_file
from . import tfevents

__all__ = ["TensorBoardWriter", "read_events"]

_FILE_VERSION = "brain.Event:2"
_COUNTER = itertools.count()  # the last part of an event file's name: two writers in one second never collide
MAX_EVENT_FILE_BYTES = 1 << 40  # read_events reads an event file record by record; this only bounds a size claim


class TensorBoardWriter:
    """Write a run's TensorBoard events (``tensorboard --logdir RUN``).

    Each call appends its whole records to the event file at once, so a run killed at any point
    keeps every event written before it.

    Args:
        log_dir: The event folder (``RUN/tensorboard``).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.log_dir = Path(log_dir)
        self._restarted_at: int | None = None
        self._file: BinaryIO | None = None
        self._open()

    def _open(self) -> None:
        """Start a new event file: ``events.out.tfevents.TIME.HOST.PID.N``, opening with the file-version event."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{next(_COUNTER)}"
        self.path = self.log_dir / name
        self._file = open_append_bytes(self.path)
        self._append([tfevents.frame(tfevents.event(now, 0, file_version=_FILE_VERSION))])

    def _append(self, records: list[bytes]) -> None:
        if self._file is None:
            raise OutputPathError(f"the TensorBoard writer of {str(self.log_dir)!r} is closed")
        data = memoryview(b"".join(records))
        while data:
            written = self._file.write(data)
            data = data[written or 0 :]

    def _check_folder(self, step: int) -> None:
        """A deleted event file or folder (``rm -r RUN/tensorboard`` mid-run): start a new event file there."""
        if self.path.is_file():
            return
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        self._open()
        self._restarted_at = int(step)

    def _said(self) -> None:
        """Raise once after a restart (the Monitor turns it into an event); the values were written."""
        if self._restarted_at is not None:
            step, self._restarted_at = self._restarted_at, None
            raise OutputPathError(
                f"{str(self.log_dir)!r} was deleted while the run wrote to it: a new event file was started at step "
                f"{step}; the TensorBoard events before it are lost (metrics.jsonl still holds every step)"
            )

    def _write(self, step: int, values: list[bytes]) -> None:
        """One event of ``values`` at ``step``, appended; then say once if the folder had been deleted."""
        self._check_folder(step)
        self._append([tfevents.frame(tfevents.event(time.time(), int(step), values=values))])
        self._said()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One scalar per logged value, under ``train/NAME``."""
        self._write(step, [tfevents.summary_value(f"train/{name}", tfevents.scalar_tensor(float(value)), "scalars")
                           for name, value in values.items()])  # fmt: skip

    def image(self, name: str, step: int, image: np.ndarray) -> None:
        """A uint8 image (H, W) or (H, W, C)."""
        from PIL import Image

        img = np.asarray(image, dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img).save(buf, format="PNG")
        h, w = img.shape[:2]
        tensor = tfevents.string_tensor([str(w).encode(), str(h).encode(), buf.getvalue()], (3,))
        self._write(step, [tfevents.summary_value(name, tensor, "images")])

    def png(self, name: str, step: int, path: str | os.PathLike[str]) -> None:
        """A PNG file as an image (the system diagram)."""
        from PIL import Image

        with Image.open(path) as im:
            self.image(name, step, np.asarray(im.convert("RGB")))

    def text(self, name: str, step: int, text: str) -> None:
        """A markdown text (events, the sampler's description)."""
        tensor = tfevents.string_tensor([str(text).encode("utf-8")], ())
        self._write(step, [tfevents.summary_value(name, tensor, "text")])

    def flush(self) -> None:
        """Nothing is held back (each call appends its records at once); kept for the writer's interface."""

    def close(self) -> None:
        """Close the event file (a second close does nothing)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _value(v: dict[str, Any], path: Path) -> Any:
    """A summary value as read_events returns it, or None for one it does not read (not a single number)."""
    from PIL import Image

    tensor = v["tensor"]
    if tensor is None:
        return None if v["simple_value"] is None else float(v["simple_value"])
    if v["plugin"] == "images":
        if len(tensor["strings"]) < 3:
            return None
        try:
            with Image.open(io.BytesIO(tensor["strings"][2])) as im:
                return np.asarray(im)
        except Exception as exc:  # PIL raises many kinds for bytes that are not an image
            raise RunFileError(f"{path.name}: the image {v['tag']!r} cannot be decoded ({exc})") from None
    if v["plugin"] == "text" or tensor["dtype"] == tfevents.DT_STRING:
        strings = tensor["strings"]
        if len(strings) == 1:
            return bytes(strings[0]).decode("utf-8", errors="replace")
        return np.array([bytes(s) for s in strings], dtype=object)
    numbers = tensor["numbers"]
    return float(numbers[0]) if len(numbers) == 1 else None


def _read_file(root: Path, path: Path, out: dict[str, list[tuple[int, Any]]]) -> None:
    check_run_file(root, path, limit=MAX_EVENT_FILE_BYTES)
    try:
        f, size = open_regular(os.path.realpath(path))
    except OSError as exc:
        raise RunFileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    with f:
        try:
            for record in tfevents.iter_records(f.read, size):
                event = tfevents.parse_event(record)
                for v in event["values"]:
                    value = _value(v, path)
                    if value is not None:
                        out.setdefault(v["tag"], []).append((int(event["step"]), value))
        except tfevents.TruncatedRecord:
            return  # the last record was being written when the run stopped: the ones before it are whole
        except (ValueError, OSError, struct.error) as exc:
            raise RunFileError(f"{path.name}: damaged event file ({exc})") from None


def read_events(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, Any]]]:
    """Read every event file under ``log_dir``: ``{tag: [(step, value)]}`` (no TensorFlow needed).

    Scalars come back as floats and images as uint8 arrays (H, W, C); text as str. A file that
    ends inside a record (a run killed while writing) gives the records before it.

    Raises:
        RunFileError: an event file is damaged (a checksum or message that does not match), not a
            regular file, or a link out of ``log_dir``.
    """
    root = Path(log_dir)
    out: dict[str, list[tuple[int, Any]]] = {}
    for path in sorted(root.rglob("events.out.tfevents.*")):
        _read_file(root, path, out)
    return out

"""``TensorBoardWriter``: scalars, sample grids and the system diagram as ``tf.summary`` events in RUN/tensorboard."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import OutputPathError

__all__ = ["TensorBoardWriter", "read_events"]


class TensorBoardWriter:
    """Write a run's TensorBoard events (``tensorboard --logdir RUN``).

    Uses ``tf.summary.write`` with the scalar / image / text plugins' metadata, so writing needs
    only TensorFlow (viewing needs the ``tensorboard`` package).

    Args:
        log_dir: The event folder (``RUN/tensorboard``).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        import tensorflow as tf

        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        self._restarted_at: int | None = None
        self._seen = False  # an event file was seen (TensorFlow may create it at the first write)

    def _check_folder(self, step: int) -> None:
        """A deleted event folder (``rm -r RUN/tensorboard`` mid-run): start a new event file there, and say so."""
        present = self.log_dir.is_dir() and any(self.log_dir.glob("events.out.tfevents.*"))
        if present or (self.log_dir.is_dir() and not self._seen):
            self._seen = self._seen or present
            return
        with contextlib.suppress(Exception):
            self._writer.close()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = self._tf.summary.create_file_writer(str(self.log_dir))
        self._restarted_at, self._seen = int(step), False

    def _said(self) -> None:
        """Raise once after a restart (the Monitor turns it into an event); the values were written."""
        if self._restarted_at is not None:
            step, self._restarted_at = self._restarted_at, None
            raise OutputPathError(
                f"{str(self.log_dir)!r} was deleted while the run wrote to it: a new event file was started at step "
                f"{step}; the TensorBoard events before it are lost (metrics.jsonl still holds every step)"
            )

    def _write(self, tag: str, step: int, tensor: Any, plugin: str) -> None:
        from tensorflow.core.framework import summary_pb2

        self._check_folder(step)
        meta = summary_pb2.SummaryMetadata()
        meta.plugin_data.plugin_name = plugin
        with self._writer.as_default(step=int(step)):
            self._tf.summary.write(tag, tensor, step=int(step), metadata=meta)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One scalar per logged value, under ``train/NAME``."""
        for name, value in values.items():
            self._write(f"train/{name}", step, self._tf.constant(float(value), self._tf.float32), "scalars")
        self._said()

    def image(self, name: str, step: int, image: np.ndarray) -> None:
        """A uint8 image (H, W) or (H, W, C)."""
        from PIL import Image

        img = np.asarray(image, dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img).save(buf, format="PNG")
        h, w = img.shape[:2]
        self._write(name, step, self._tf.constant([str(w), str(h), buf.getvalue()]), "images")
        self._said()

    def png(self, name: str, step: int, path: str | os.PathLike[str]) -> None:
        """A PNG file as an image (the system diagram)."""
        from PIL import Image

        with Image.open(path) as im:
            self.image(name, step, np.asarray(im.convert("RGB")))

    def text(self, name: str, step: int, text: str) -> None:
        """A markdown text (events, the sampler's description)."""
        self._write(name, step, self._tf.constant(text), "text")
        self._said()

    def flush(self) -> None:
        """Write buffered events to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()


def read_events(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, Any]]]:
    """Read every event file under ``log_dir``: ``{tag: [(step, value)]}``.

    Scalars come back as floats and images as uint8 arrays (H, W, C); text as str.
    """
    import tensorflow as tf
    from PIL import Image
    from tensorflow.core.util import event_pb2

    out: dict[str, list[tuple[int, Any]]] = {}
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for v in event.summary.value:
                plugin = v.metadata.plugin_data.plugin_name
                tensor = tf.make_ndarray(v.tensor) if v.HasField("tensor") else None
                if plugin == "images" and tensor is not None:
                    value: Any = np.asarray(Image.open(io.BytesIO(tensor[2])))
                elif plugin == "text" and tensor is not None:
                    value = tensor.item().decode("utf-8") if tensor.size == 1 else tensor
                elif tensor is not None:
                    value = float(tensor)
                elif v.HasField("simple_value"):
                    value = float(v.simple_value)
                else:
                    continue
                out.setdefault(v.tag, []).append((int(event.step), value))
    return out

"""``RunFolder``: the one place that names and reads the files of a training run's folder."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._io import append_text, write_atomic
from ...errors import RunFileError
from .reading import MAX_IMAGE_BYTES, iter_run_jsonl, read_run_bytes, read_run_json, step_of

__all__ = [
    "RunFolder",
    "clear_run",
    "rewind_run",
    "read_jsonl",
    "truncate_jsonl",
    "append_jsonl",
    "json_line",
    "write_config",
    "read_grid",
]

_MAX_GRID_PIXELS = 64 << 20  # a grid of 8,000 x 8,000 pixels; a 40,000 x 40,000 "grid" is damage

_SAMPLE = re.compile(r"^step_(\d{6,})\.png$")


class _Entry:
    """A file or folder of the run folder, by name: ``RunFolder(root).metrics == root / "metrics.jsonl"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, folder: RunFolder, owner: type | None = None) -> Path:
        return folder.root / self.name


@dataclass(frozen=True)
class RunFolder:
    """The layout of a run folder, and reading it back; every module names these files through it.

    >>> run = RunFolder(Path("run"))
    >>> run.metrics.as_posix(), run.sample(12).as_posix()
    ('run/metrics.jsonl', 'run/samples/step_000012.png')
    """

    root: Path

    metrics = _Entry("metrics.jsonl")  # one JSON object a line: step, losses, D(x), D(G(z)) ...
    events = _Entry("events.jsonl")  # health warnings and the Monitor's own notes
    config = _Entry("config.json")
    curves = _Entry("curves.png")
    gif = _Entry("progress.gif")
    report = _Entry("report.html")
    samples = _Entry("samples")  # step_NNNNNN.png grids
    checkpoints = _Entry("checkpoints")
    diagrams = _Entry("diagrams")  # system.svg (traced), trace.json, system.json (how it was drawn)
    notes = _Entry("notes.json")  # what the curves are: running means, health checks that were off
    tensorboard = _Entry("tensorboard")  # TensorBoard event files (train/outputs/tensorboard.py)

    def sample(self, step: int) -> Path:
        """The grid drawn at ``step``."""
        return self.samples / f"step_{step:06d}.png"

    def sample_grids(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every sample grid, oldest first (a folder named like one is not a grid)."""
        if not self.samples.is_dir():
            return []
        found = ((_SAMPLE.match(p.name), p) for p in self.samples.iterdir())
        return sorted((int(m.group(1)), p) for m, p in found if m and not _is_folder(p))

    def is_run(self) -> bool:
        """Whether a Monitor has written here (its metrics file exists)."""
        return self.metrics.is_file()

    def read_metrics(self) -> list[dict[str, Any]]:
        return read_jsonl(self.metrics, self.root)

    def read_events(self) -> list[dict[str, Any]]:
        return read_jsonl(self.events, self.root)

    def iter_metrics(self) -> Iterator[dict[str, Any]]:
        """The metric records, streamed (bounded memory for any size of ``metrics.jsonl``)."""
        return _iter_jsonl(self.metrics, self.root)

    def iter_events(self) -> Iterator[dict[str, Any]]:
        return _iter_jsonl(self.events, self.root)

    def read_json(self, path: Path) -> Any:
        """A JSON file of the run (``notes.json``, ``diagrams/trace.json`` ...); ``None`` when missing, refused or damaged."""
        try:
            return read_run_json(self.root, path)
        except RunFileError:
            return None

    def read_config(self) -> dict[str, Any]:
        """``config.json`` as a dict; ``{}`` when it is missing or unreadable."""
        value = self.read_json(self.config)
        return value if isinstance(value, dict) else {}

    def run_files(self) -> tuple[Path, ...]:
        """The files a fresh run replaces (samples and checkpoints are folders of their own)."""
        return (self.metrics, self.events, self.gif, self.curves, self.notes)


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _iter_jsonl(path: Path, root: Path) -> Iterator[dict[str, Any]]:
    """Like :func:`read_jsonl`, streamed; a file that is not the run's own regular file yields nothing."""
    try:
        yield from iter_run_jsonl(root, path)
    except RunFileError:
        return


def read_jsonl(path: Path, root: Path | None = None) -> list[dict[str, Any]]:
    """The JSON objects of ``path``, one a line; broken, deep or overlong lines (a kill mid-write) and bad bytes skipped.

    ``root`` is the run folder the file must lie in (default: its own folder); a link out of it, a
    pipe or a device reads as no records.
    """
    return list(_iter_jsonl(path, path.parent if root is None else root))


def read_grid(root: Path, path: Path) -> np.ndarray | None:
    """A sample grid's pixels; ``None`` when it is not the run's own regular file or not a readable image of sane size."""
    import io

    from PIL import Image

    try:
        data = read_run_bytes(root, path, limit=MAX_IMAGE_BYTES)
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > _MAX_GRID_PIXELS:
                return None
            return np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB", "RGBA") else img)
    except (RunFileError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def clear_run(out_dir: Path, checkpoints: Iterable[Path]) -> None:
    """Delete what an earlier run left in ``out_dir``: metrics, events, GIF, curves, grids, TensorBoard events, ``checkpoints``."""
    run = RunFolder(out_dir)
    for path in run.run_files():
        path.unlink(missing_ok=True)
    for _, p in run.sample_grids():
        p.unlink()
    for p in checkpoints:
        p.unlink()
    for p in run.tensorboard.glob("events.out.tfevents.*"):
        p.unlink()


def rewind_run(out_dir: Path, step: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[np.ndarray]]:
    """Cut a run folder back to the checkpoint at ``step`` (work done after it is dropped).

    Returns:
        The metric records and health events kept, and the sample grids kept (oldest first), as
        the GIF's frames.
    """
    run = RunFolder(out_dir)
    records = truncate_jsonl(run.metrics, step)
    events = truncate_jsonl(run.events, step)
    frames: list[np.ndarray] = []
    for at, p in run.sample_grids():
        if at > step:
            p.unlink()
        elif (pixels := read_grid(run.root, p)) is not None:  # a damaged grid, a pipe, a link out: no frame
            frames.append(pixels)
    return records, events, frames


def truncate_jsonl(path: Path, step: int) -> list[dict[str, Any]]:
    """Keep the complete lines with ``step <= step`` (drops work done after the checkpoint).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "m.jsonl"
    >>> _ = p.write_text('{"step": 1}\\n{"step": 3}\\n{"step": 2, "los')
    >>> truncate_jsonl(p, 2), p.read_text()
    ([{'step': 1}], '{"step": 1}\\n')
    """
    if not path.exists():
        return []
    kept = [r for r in read_jsonl(path) if (at := step_of(r)) is not None and at <= step]
    write_atomic(path, "".join(json_line(r) for r in kept))
    return kept


def json_line(record: dict[str, Any]) -> str:
    """``record`` as one line of strict JSON: NaN and infinities become ``null`` (JSON has no NaN).

    >>> json_line({"step": 3, "g_loss": float("nan"), "d_loss": 0.5})
    '{"step": 3, "g_loss": null, "d_loss": 0.5}\\n'
    """
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` as one JSON line."""
    append_text(path, json_line(record))


def write_config(out_dir: Path, info: dict[str, Any]) -> None:
    """Write ``config.json`` (atomically; values JSON cannot hold are written as text)."""
    write_atomic(RunFolder(out_dir).config, json.dumps(info, indent=2, default=str))

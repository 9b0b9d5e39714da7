"""The files of a Monitor's run folder: cleared for a fresh run, cut back to the checkpoint on resume."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_atomic

__all__ = ["clear_run", "rewind_run", "truncate_jsonl", "append_jsonl", "write_config"]

_SAMPLE = re.compile(r"^step_(\d{6,})\.png$")
_RUN_FILES = ("metrics.jsonl", "events.jsonl", "progress.gif", "curves.png")


def clear_run(out_dir: Path, checkpoints: Iterable[Path]) -> None:
    """Delete what an earlier run left in ``out_dir``: metrics, events, GIF, curves, grids, ``checkpoints``."""
    for name in _RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for p in (out_dir / "samples").glob("step_*.png"):
        p.unlink()
    for p in checkpoints:
        p.unlink()


def rewind_run(out_dir: Path, step: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[np.ndarray]]:
    """Cut a run folder back to the checkpoint at ``step`` (work done after it is dropped).

    Returns:
        The metric records and health events kept, and the sample grids kept (oldest first), as
        the GIF's frames.
    """
    records = truncate_jsonl(out_dir / "metrics.jsonl", step)
    events = truncate_jsonl(out_dir / "events.jsonl", step)
    from PIL import Image

    frames: list[np.ndarray] = []
    for p in sorted((out_dir / "samples").iterdir()):
        m = _SAMPLE.match(p.name)
        if m and int(m.group(1)) > step:
            p.unlink()
        elif m:
            with Image.open(p) as img:
                frames.append(np.asarray(img))
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
    kept: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and int(rec.get("step", math.inf)) <= step:
            kept.append(rec)
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` as one JSON line."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def write_config(out_dir: Path, info: dict[str, Any]) -> None:
    """Write ``config.json`` (atomically; values JSON cannot hold are written as text)."""
    write_atomic(out_dir / "config.json", json.dumps(info, indent=2, default=str))

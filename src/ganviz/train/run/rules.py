"""The run folder's rules: what a new run, ``--resume`` and ``--overwrite`` may do to a folder, and the cleanup."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ...errors import OutputPathError
from .folder import RunFolder

__all__ = ["holds_run", "check_new_run", "check_resume", "merge_resume_options", "remove_partial"]

_PARTIAL = re.compile(
    r"^\.(ckpt_\d+\.npz|step_\d+\.png|metrics\.jsonl|events\.jsonl|config\.json|progress\.gif|curves\.png|notes\.json"
    r"|report\.html|trace\.json|system\.(svg|json)|errors\.json|generator\.svg|discriminator\.svg)\..+\.tmp$"
)
_FLAGS = {
    "data": "--data",
    "loss": "--loss",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "seed": "--seed",
    "latent_dim": "latent_dim=",
    "d_steps": "d_steps=",
}


def holds_run(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds files of an earlier run (config, metrics, events, grids or checkpoints)."""
    run = RunFolder(out_dir)
    if not out_dir.is_dir():
        return False
    if any(p.exists() for p in (run.config, *run.run_files())) or run.sample_grids():
        return True
    return run.checkpoints.is_dir() and any(run.checkpoints.glob("ckpt_*.npz"))


def check_new_run(out_dir: Path, *, overwrite: bool) -> None:
    """Refuse to start over in a folder that holds a run unless ``overwrite`` says so.

    Raises:
        OutputPathError: the folder holds an earlier run.
    """
    if overwrite or not holds_run(out_dir):
        return
    raise OutputPathError(
        f"run folder {str(out_dir)!r} already holds a run: continue it with --resume, "
        "or delete it and start over with --overwrite (or choose another --out)"
    )


def check_resume(out_dir: Path, checkpoints: list[Path], loaded: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration of the run to resume (from its newest readable checkpoint), or a refusal.

    Args:
        out_dir: The run folder.
        checkpoints: Its checkpoint files, oldest first.
        loaded: The newest readable checkpoint's metadata, ``None`` when none is readable.

    Raises:
        OutputPathError: nothing to resume (no run, no checkpoint, or none readable); nothing is changed.
    """
    if not holds_run(out_dir):
        raise OutputPathError(f"nothing to resume: {str(out_dir)!r} holds no run (drop --resume to start one)")
    if loaded is None:
        what = (
            f"none of its {len(checkpoints)} checkpoint(s) is readable (truncated or damaged)"
            if checkpoints
            else "it has no checkpoint (the run stopped before its first one)"
        )
        raise OutputPathError(
            f"cannot resume {str(out_dir)!r}: {what}; nothing was changed (start over with --overwrite)"
        )
    config = loaded.get("config")
    if not isinstance(config, dict):
        config = RunFolder(out_dir).read_config()
    return config


def merge_resume_options(out_dir: Path, saved: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The options of a resumed run: the run's own, where the user gave none; a refusal where they differ.

    >>> merge_resume_options(Path("r"), {"loss": "bce", "seed": 0}, {"seed": 0})
    {'loss': 'bce', 'seed': 0}
    >>> merge_resume_options(Path("r"), {"loss": "bce"}, {"loss": "hinge"})
    Traceback (most recent call last):
    ...
    ganviz.errors.OutputPathError: cannot resume 'r' with different options: --loss hinge (the run used bce); leave them out to continue the run as it was, or start over with --overwrite
    """
    differ = []
    for key, value in given.items():
        if key not in saved or value is None:
            continue
        old = saved[key]
        same = (
            math.isclose(float(value), float(old), rel_tol=1e-9)
            if isinstance(value, float) and isinstance(old, (int, float))
            else value == old
        )
        if not same:
            differ.append(f"{_FLAGS.get(key, key)} {value} (the run used {old})")
    if differ:
        raise OutputPathError(
            f"cannot resume {str(out_dir)!r} with different options: {', '.join(differ)}; "
            "leave them out to continue the run as it was, or start over with --overwrite"
        )
    merged = {k: saved[k] for k in _FLAGS if k in saved}
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged


def remove_partial(out_dir: Path) -> list[Path]:
    """Delete the temporary files a killed run left half-written (``.ckpt_*.npz.*.tmp`` and the like).

    Call only while holding the folder's lock: a live run's temporary files look the same.
    """
    removed = []
    run = RunFolder(out_dir)
    for folder in (out_dir, run.checkpoints, run.samples, run.diagrams):
        if folder.is_dir():
            for p in folder.iterdir():
                if _PARTIAL.match(p.name) and p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed

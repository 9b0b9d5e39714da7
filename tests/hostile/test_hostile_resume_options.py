"""#24.14: ``--resume`` keeps the run's ``--sample-every`` and ``--checkpoint-every`` when they are left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import run_batch

pytest.importorskip("keras")


@pytest.mark.slow
def test_resume_keeps_the_runs_intervals(tmp_path: Path) -> None:
    first = ["train", "--steps", "4", "--batch-size", "8", "--sample-every", "1", "--checkpoint-every", "1", "-o", "r"]
    res = run_batch([first, ["train", "--resume", "--steps", "8", "-o", "r"]], cwd=tmp_path, timeout=600, mem_mb=None)
    assert [r.rc for r in res] == [0, 0], [r.err[-1500:] for r in res]
    grids = sorted(p.name for p in (tmp_path / "r" / "samples").glob("step_*.png"))
    assert grids == [f"step_{i:06d}.png" for i in range(1, 9)]  # a grid every step after the resume too
    ckpts = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("ckpt_*.npz"))
    assert ckpts == ["ckpt_00000007.npz", "ckpt_00000008.npz"]  # a checkpoint every step (the newest two kept)

"""#24.7: disk full before the first checkpoint says "start again" (``--resume`` would be refused), after it "continue"."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np

from ganviz.train.recipe.command import _disk_full
from ganviz.train.run.checkpoint import Checkpointer


def test_disk_full_before_the_first_checkpoint_says_start_again(tmp_path: Path) -> None:
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "metrics.jsonl"))
    line = _disk_full(tmp_path, exc)
    assert "nothing to resume" in line and f"ganviz train --overwrite --out {tmp_path}" in line
    assert "--resume" not in line
    Checkpointer(tmp_path / "checkpoints").save(2, {"model": [np.zeros(2, "float32")]}, extra={}, meta={})
    line = _disk_full(tmp_path, exc)
    assert "(step 2) is kept" in line and f"ganviz train --resume --out {tmp_path}" in line

"""#24.14: a ``RUN/tensorboard`` deleted mid-run starts a new event file and says so (once), losing nothing after."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from ganviz.errors import OutputPathError  # noqa: E402
from ganviz.train.outputs.tensorboard import TensorBoardWriter, read_events  # noqa: E402


def test_a_deleted_event_folder_is_restarted_and_named(tmp_path: Path) -> None:
    log = tmp_path / "run" / "tensorboard"
    tb = TensorBoardWriter(log)
    tb.scalars(1, {"g_loss": 1.0})
    tb.scalars(2, {"g_loss": 0.9})
    tb.flush()
    shutil.rmtree(log)
    with pytest.raises(OutputPathError, match="was deleted while the run wrote to it.*step 3"):
        tb.scalars(3, {"g_loss": 0.8, "d_loss": 0.5})
    tb.scalars(4, {"g_loss": 0.7})  # said once
    tb.close()
    events = read_events(log)
    assert [s for s, _ in events["train/g_loss"]] == [3, 4]
    assert [s for s, _ in events["train/d_loss"]] == [3]

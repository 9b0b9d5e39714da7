"""#24.14: a ``RUN/tensorboard`` deleted mid-run starts a new event file and says so (once), losing nothing after;
#22: damaged event files (cut, bit-flipped, random bytes) give a ``GanvizError`` or the whole records, never a traceback."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganviz.errors import GanvizError, OutputPathError
from ganviz.train.outputs.tensorboard import TensorBoardWriter, read_events


def test_a_deleted_event_folder_is_restarted_and_named(tmp_path: Path) -> None:
    log = tmp_path / "run" / "tensorboard"
    tb = TensorBoardWriter(log)
    tb.scalars(1, {"g_loss": 1.0})
    tb.scalars(2, {"g_loss": 0.5})
    tb.flush()
    shutil.rmtree(log)
    with pytest.raises(OutputPathError, match="was deleted while the run wrote to it.*step 3"):
        tb.scalars(3, {"g_loss": 0.8, "d_loss": 0.5})
    tb.scalars(4, {"g_loss": 0.7})  # said once
    tb.close()
    events = read_events(log)
    assert [s for s, _ in events["train/g_loss"]] == [3, 4]
    assert [s for s, _ in events["train/d_loss"]] == [3]


def test_deleting_only_the_event_file_restarts_too(tmp_path: Path) -> None:
    tb = TensorBoardWriter(tmp_path)
    tb.scalars(1, {"g_loss": 1.0})
    tb.path.unlink()
    with pytest.raises(OutputPathError, match="step 2"):
        tb.scalars(2, {"g_loss": 0.5})
    tb.close()
    assert read_events(tmp_path)["train/g_loss"] == [(2, 0.5)]


def _valid_file(root: Path) -> bytes:
    tb = TensorBoardWriter(root)
    tb.scalars(1, {"g_loss": 1.0, "d_loss": 2.0})
    tb.image("samples", 1, np.zeros((4, 4, 3), np.uint8))
    tb.text("note", 1, "hi")
    tb.close()
    return tb.path.read_bytes()


_VALID = _valid_file(Path(tempfile.mkdtemp()))
damage = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, len(_VALID))),
    st.tuples(st.just("flip"), st.tuples(st.integers(0, len(_VALID) - 1), st.integers(1, 255))),
    st.tuples(st.just("bytes"), st.binary(max_size=300)),
    st.tuples(st.just("append"), st.binary(max_size=40)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(damage)
def test_a_damaged_event_file_lets_only_ganviz_errors_escape(how: tuple[str, object]) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        kind, arg = how
        if kind == "cut":
            data = _VALID[: int(arg)]  # type: ignore[call-overload]
        elif kind == "flip":
            at, bits = arg  # type: ignore[misc]
            data = bytearray(_VALID)
            data[at] ^= bits
            data = bytes(data)
        elif kind == "append":
            data = _VALID + bytes(arg)  # type: ignore[arg-type]
        else:
            data = bytes(arg)  # type: ignore[arg-type]
        (root / "events.out.tfevents.1.host.1.0").write_bytes(data)
        try:
            events = read_events(root)
        except GanvizError:
            return
        if kind == "cut":  # a cut file gives whole records only
            assert len(events.get("train/g_loss", [])) <= 1
    finally:
        shutil.rmtree(root, ignore_errors=True)

"""#13.1-4 and #13.12 (partial files): a run folder is never lost, mixed or silently rewritten."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from harness import SRC, assert_refused, run_cli, snapshot

from ganviz.train.run.checkpoint import Checkpointer
from ganviz.train.run.lock import LOCK_NAME, RunFolderBusyError, RunLock
from ganviz.train.run.rules import remove_partial

CONFIG = {"data": "digits", "steps": 40, "loss": "bce", "batch_size": 16, "learning_rate": 0.0002, "seed": 0}


def _run_folder(root: Path, *, checkpoint: str = "good") -> Path:
    """A run folder as ``ganviz train`` leaves it: config, metrics, a grid, and a checkpoint (good, truncated or none)."""
    run = root / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (run / "metrics.jsonl").write_text('{"step": 1, "g_loss": 0.7}\n{"step": 2, "g_loss": 0.6}\n', encoding="utf-8")
    (run / "samples" / "step_000002.png").write_bytes(b"\x89PNG fake")
    ckpt = Checkpointer(run / "checkpoints")
    if checkpoint != "none":
        path = ckpt.save(
            2, {"model": [np.zeros(3, "float32")]}, extra={"fixed_noise": np.zeros((2, 2))}, meta={"config": CONFIG}
        )
        if checkpoint == "truncated":
            path.write_bytes(path.read_bytes()[:100])
    else:
        (run / "checkpoints").mkdir()
    return run


@pytest.mark.parametrize(
    ("checkpoint", "words"), [("truncated", "none of its 1 checkpoint"), ("none", "no checkpoint")]
)
def test_resume_without_a_readable_checkpoint_refuses_and_deletes_nothing(
    tmp_path: Path, checkpoint: str, words: str
) -> None:
    run = _run_folder(tmp_path, checkpoint=checkpoint)
    before = snapshot(run)
    res = run_cli(["train", "--resume", "-o", str(run)], cwd=tmp_path)
    assert_refused(res, words, "nothing was changed", "--overwrite")
    assert snapshot(run) == before


def test_resume_of_a_folder_without_a_run_refuses_and_leaves_no_folder(tmp_path: Path) -> None:
    res = run_cli(["train", "--resume", "-o", str(tmp_path / "new")], cwd=tmp_path)
    assert_refused(res, "nothing to resume", "drop --resume")
    assert not (tmp_path / "new").exists()


def test_resume_with_other_options_names_them_and_rewrites_nothing(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    before = snapshot(run)
    args = ["train", "--resume", "-o", str(run), "--loss", "hinge", "--lr", "1e-3", "--batch-size", "16"]
    line = assert_refused(run_cli(args, cwd=tmp_path), "--loss hinge (the run used bce)", "--lr 0.001")
    assert "--batch-size" not in line  # the same value is no difference
    assert snapshot(run) == before
    res = run_cli(["train", "--resume", "-o", str(run), "--data", "folder:" + str(tmp_path)], cwd=tmp_path)
    assert_refused(res, "--data folder:")
    assert snapshot(run) == before


def test_train_into_a_folder_that_holds_a_run_refuses(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    before = snapshot(run)
    assert_refused(run_cli(["train", "-o", str(run)], cwd=tmp_path), "already holds a run", "--resume", "--overwrite")
    assert snapshot(run) == before


def test_a_live_lock_refuses_a_second_run_in_one_line(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"pid": holder.pid, "host": socket.gethostname(), "started": time.time()}
        (run / LOCK_NAME).write_text(json.dumps(owner), encoding="utf-8")
        before = snapshot(run)
        res = run_cli(["train", "--resume", "-o", str(run)], cwd=tmp_path)
        assert_refused(res, "in use by another training run", f"pid {holder.pid}")
        assert snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_from_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, checkpoint="truncated")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / LOCK_NAME).write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": 0}), encoding="utf-8"
    )
    res = run_cli(["train", "--resume", "-o", str(run)], cwd=tmp_path)
    assert_refused(res, "none of its 1 checkpoint")  # past the lock: the next check speaks
    assert not (run / LOCK_NAME).exists()  # released again


def test_a_lock_from_another_host_is_never_taken_over(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": 0}), encoding="utf-8")
    with pytest.raises(RunFolderBusyError, match="if it is no longer running, delete"):
        RunLock(tmp_path).acquire()


_RACER = r"""
import sys, time
from ganviz.train.run.lock import RunLock, RunFolderBusyError
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    lock = RunLock(sys.argv[1]).acquire()
except RunFolderBusyError:
    print("busy"); sys.exit(0)
print("got", flush=True); time.sleep(2.0); lock.release()
"""


def test_lock_under_a_race_admits_exactly_one_run(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    start = str(time.time() + 3.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path), start], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    answers = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert answers.count("got") == 1 and answers.count("busy") == 5, answers
    assert not (tmp_path / LOCK_NAME).exists()
    assert not [p for p in tmp_path.iterdir()]  # no temporary lock files left


def test_partial_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    partial = [
        run / "checkpoints" / ".ckpt_00000004.npz.ab12cd.tmp",
        run / "samples" / ".step_000004.png.x9y8.tmp",
        run / ".metrics.jsonl.q1w2.tmp",
    ]
    for p in partial:
        p.write_bytes(b"half")
    keep = [run / "checkpoints" / "ckpt_00000002.npz", run / "notes.tmp", run / "samples" / "step_000002.png"]
    (run / "notes.tmp").write_text("the user's", encoding="utf-8")
    assert sorted(remove_partial(run)) == sorted(partial)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in partial)

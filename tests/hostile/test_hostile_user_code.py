"""#24.3, #24.7, #24.8: the user's code failing anywhere is one line naming file:line and the exception, what
was kept, and how to continue (exit 2); a NaN stop in a ``--model`` run names its checkpoint (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import assert_failed, assert_refused, run_batch
from user_gans import FACTORY_LINE, STEP_LINE, write_user_gans

pytest.importorskip("keras")

BASE = ["--steps", "6", "--batch-size", "8", "--sample-every", "2", "--checkpoint-every", "2"]


@pytest.mark.slow
def test_user_code_failures_are_one_line_each(tmp_path: Path) -> None:
    write_user_gans(tmp_path)
    jobs = [
        ["train", "--model", "import_boom.py:make_gan", *BASE, "-o", "r_import"],
        ["train", "--model", "gan.py:make_boom", *BASE, "-o", "r_factory"],
        ["train", "--model", "gan.py:make_step3", *BASE, "-o", "r_step"],
        ["train", "--model", "gan.py:make_empty", *BASE, "-o", "r_empty"],
        ["train", "--model", "gan.py:make_gan", *BASE, "-o", "r_done"],
        ["train", "--model", "gan.py:make_gan", "--resume", "--steps", "4", "-o", "r_done"],
        ["train", "--model", "gan.py:make_nan", *BASE, "-o", "r_nan"],
        ["train", "--model", "gan.py:make_deep", *BASE, "-o", "r_deep"],
    ]
    res = run_batch(jobs, cwd=tmp_path, timeout=600, mem_mb=None)
    line = assert_refused(res[0], "import_boom.py:2", "ZeroDivisionError: at import")
    assert "fix" in line
    assert not (tmp_path / "r_import").exists()
    line = assert_refused(res[1], f"gan.py:{FACTORY_LINE}", "KeyError")
    line = assert_failed(res[2], f"gan.py:{STEP_LINE}", "RuntimeError: boom at step 3", "checkpoint at step 2 was kept",
                          "ganviz train --resume")  # fmt: skip
    assert (tmp_path / "r_step" / "checkpoints" / "ckpt_00000002.npz").is_file()
    assert not (tmp_path / "r_step" / ".ganviz.lock").exists()
    line = assert_failed(res[3], "train_step returned no losses", "return a dict",
                         notes=("the system diagram could not be drawn",))  # fmt: skip
    assert res[4].rc == 0, res[4].err
    assert "shuffle" not in res[4].err  # Keras's shuffle=True warning is not printed
    before = (tmp_path / "r_done" / "metrics.jsonl").read_bytes()
    assert_refused(res[5], "already at step 6", "--steps is 4", "nothing was changed", "--steps above 6")
    assert (tmp_path / "r_done" / "metrics.jsonl").read_bytes() == before
    line = assert_failed(
        res[6],
        "NaN/inf",
        "your model's learning rates",
        rc=1,
        notes=("non-finite ", "the system diagram could not be drawn"),
    )
    assert "--lr" not in line and "--loss" not in line
    if list((tmp_path / "r_nan" / "checkpoints").glob("ckpt_*.npz")):
        assert "was kept" in line and "--resume --model gan.py:make_nan" in line
    else:
        assert "no checkpoint was written" in line
    assert_refused(res[7], "gan.py:", "RecursionError", "nothing was written")  # Keras on 5,000 layers
    assert not (tmp_path / "r_deep").exists()
    for r in res:
        assert "Traceback" not in r.err


@pytest.mark.slow
def test_resume_with_another_model_is_refused_by_name(tmp_path: Path) -> None:
    write_user_gans(tmp_path)
    small = ["--steps", "2", "--batch-size", "8", "--sample-every", "1", "--checkpoint-every", "1"]
    jobs = [
        ["train", "--model", "gan.py:make_gan", *small, "-o", "mine"],
        ["train", *small, "-o", "seed"],
        ["train", "--resume", "--steps", "4", "-o", "mine"],
        ["train", "--resume", "--steps", "4", "--model", "gan.py:make_gan", "-o", "seed"],
        ["train", "--resume", "--steps", "4", "--model", "gan.py:make_wider", "-o", "mine"],
    ]
    before = {}
    res = run_batch(jobs[:2], cwd=tmp_path, timeout=600, mem_mb=None)
    assert res[0].rc == 0 and res[1].rc == 0, (res[0].err, res[1].err)
    from harness import snapshot

    before = {name: snapshot(tmp_path / name) for name in ("mine", "seed")}
    res = run_batch(jobs[2:], cwd=tmp_path, timeout=600, mem_mb=None)
    assert_refused(res[0], "cannot resume", "it trained your model MyGAN", "same --model")
    assert_refused(res[1], "cannot resume", "ganviz's own GAN", "drop --model")
    line = assert_failed(res[2], "checkpoint does not fit this model", "nothing was changed",
                         notes=("the system diagram could not be drawn",))  # fmt: skip
    assert "Traceback" not in line
    for name in ("mine", "seed"):
        after = snapshot(tmp_path / name)
        assert {k: v for k, v in after.items() if "metrics" in k or "ckpt" in k} == {
            k: v for k, v in before[name].items() if "metrics" in k or "ckpt" in k
        }

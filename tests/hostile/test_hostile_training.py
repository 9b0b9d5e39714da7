"""#13.8 and #13.12 with real training: a full disk mid-run keeps the last good checkpoint; a NaN stop exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import run_python

_SCRIPT = r"""
import contextlib, io, json, resource, sys
from pathlib import Path
from ganviz.cli import main

def call(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return {"rc": rc, "err": err.getvalue()}

base = ["--batch-size", "16", "--sample-every", "2", "--checkpoint-every", "2", "-o", "run"]
out = {"first": call(["train", "--steps", "4", *base])}
ckpts = sorted(Path("run/checkpoints").glob("ckpt_*.npz"))
out["after_first"] = [p.name for p in ckpts]
(Path("run/checkpoints") / ".ckpt_00000003.npz.k1ll3d.tmp").write_bytes(b"left by a kill")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (ckpts[-1].stat().st_size - 1, hard))  # the next checkpoint cannot fit
out["full"] = call(["train", "--resume", "--steps", "8", *base])
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
out["after_full"] = sorted(p.name for p in Path("run/checkpoints").iterdir())
out["again"] = call(["train", "--resume", "--steps", "8", *base])
out["after_again"] = sorted(p.name for p in Path("run/checkpoints").iterdir())
out["nan"] = call(["train", "--steps", "6", "--lr", "1e30", "--batch-size", "16", "--sample-every", "1", "-o", "nanrun"])
print(json.dumps(out))
"""


@pytest.mark.slow
def test_disk_full_mid_run_then_resume_and_a_nan_stop(tmp_path: Path) -> None:
    res = run_python(_SCRIPT, [], cwd=tmp_path, timeout=600, mem_mb=None)
    assert res.rc == 0, res.err[-3000:]
    out = json.loads(res.out.strip().splitlines()[-1])
    assert out["first"]["rc"] == 0, out["first"]
    assert out["after_first"] == ["ckpt_00000002.npz", "ckpt_00000004.npz"]

    full = out["full"]
    assert full["rc"] == 2 and "Traceback" not in full["err"], full
    errors = [line for line in full["err"].splitlines() if line.startswith("ganviz: error: ")]
    assert len(errors) == 1 and full["err"].rstrip().endswith(errors[0]), full["err"]
    for words in ("disk full", "last good checkpoint (step 4) is kept", "ganviz train --resume --out run"):
        assert words in errors[0], errors[0]
    # The good checkpoints survive, the half-written one is gone, and so is the kill's leftover.
    assert out["after_full"] == ["ckpt_00000002.npz", "ckpt_00000004.npz"]

    assert out["again"]["rc"] == 0, out["again"]
    assert out["after_again"] == ["ckpt_00000006.npz", "ckpt_00000008.npz"]
    metrics = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [m["step"] for m in metrics] == [2, 4, 6, 8]  # a row per 2-step execution: no step lost or doubled
    assert not (tmp_path / "run" / ".ganviz.lock").exists()

    nan = out["nan"]
    assert nan["rc"] == 1, nan
    assert "training stopped at step" in nan["err"] and "NaN/inf" in nan["err"], nan["err"]
    text = (tmp_path / "nanrun" / "metrics.jsonl").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert any(v is None for r in records for v in r.values())  # the non-finite value kept as null
    events = [
        json.loads(line) for line in (tmp_path / "nanrun" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert any(e["kind"] == "nonfinite" for e in events)
    assert not any(e["kind"] == "mode_collapse" for e in events), events

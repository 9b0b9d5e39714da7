"""Multi-worker training: TF_CONFIG parsing, two localhost workers (kill one, resume), the README snippet."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganviz.train.gan.distributed import cluster_workers, is_chief

ROOT = Path(__file__).resolve().parents[3]


def _config(kind: str, index: int, cluster: dict) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


def test_chief_is_the_chief_task_else_worker_zero(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief() and cluster_workers() == 0
    workers = {"worker": ["a:1", "b:1"]}
    monkeypatch.setenv("TF_CONFIG", _config("worker", 0, workers))
    assert is_chief() and cluster_workers() == 2
    monkeypatch.setenv("TF_CONFIG", _config("worker", 1, workers))
    assert not is_chief()
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    monkeypatch.setenv("TF_CONFIG", _config("worker", 0, with_chief))
    assert not is_chief() and cluster_workers() == 3
    monkeypatch.setenv("TF_CONFIG", _config("chief", 0, with_chief))
    assert is_chief()


def test_bad_tf_config_names_the_fix(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON.*unset it"):
        cluster_workers()
    monkeypatch.setenv("TF_CONFIG", "[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        is_chief()


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(index: int, ports: list[int]) -> dict[str, str]:
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    return {
        **os.environ,
        "TF_CONFIG": _config("worker", index, cluster),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }


def _start(args: list[str], index: int, ports: list[int], cwd: Path) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(cwd / "log.txt", "ab")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen(args, cwd=cwd, env=_env(index, ports), stdout=log, stderr=subprocess.STDOUT)


def _finish(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def _steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_workers_kill_one_and_resume(tmp_path):
    """`ganviz train` joins a two-worker run from TF_CONFIG; only worker 0 writes; a killed run resumes."""
    steps = 120
    cmd = [sys.executable, "-m", "ganviz", "train", "--data", "digits", "--steps", str(steps), "--batch-size", "32",
           "--sample-every", "10", "--checkpoint-every", "10", "--seed", "3"]  # fmt: skip
    run = tmp_path / "w0" / "run"
    ports = _ports(2)
    procs = [_start([*cmd, "--out", "run"], i, ports, tmp_path / f"w{i}") for i in range(2)]
    deadline = time.monotonic() + 400
    while not list(run.glob("checkpoints/ckpt_*.npz")) and time.monotonic() < deadline:
        assert procs[0].poll() is None, (tmp_path / "w0" / "log.txt").read_text()[-3000:]
        time.sleep(0.5)
    assert list(run.glob("checkpoints/ckpt_*.npz")), "the chief wrote no checkpoint in time"
    procs[1].send_signal(signal.SIGKILL)  # a worker dies mid-run ...
    procs[1].wait()
    _finish([procs[0]], timeout=20)  # ... the chief cannot go on alone: it errors out or is stopped
    killed_at = max(_steps(run))
    assert killed_at < steps

    ports = _ports(2)
    procs = [_start([*cmd, "--out", "run", "--resume"], i, ports, tmp_path / f"w{i}") for i in range(2)]
    codes = _finish(procs, timeout=500)
    logs = [(tmp_path / f"w{i}" / "log.txt").read_text() for i in range(2)]
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert not (tmp_path / "w1" / "run").exists()  # worker 1 wrote nothing
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    resumed = [e for e in events if e["kind"] == "resumed"]
    assert resumed and resumed[-1]["step"] <= killed_at
    recorded = _steps(run)
    assert recorded == list(range(1, steps + 1))  # one writer: every step once, in order, up to the total
    assert (run / "checkpoints" / f"ckpt_{steps:08d}.npz").exists()
    assert (run / "samples" / f"step_{steps:06d}.png").exists()


def _readme_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Scaling out with `tf.distribute`") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_multi_worker_snippet_runs_as_written(tmp_path):
    snippet = _readme_snippet()
    assert "import" in snippet and "MultiWorkerMirroredStrategy" in snippet
    script = tmp_path / "train.py"
    script.write_text(snippet)
    ports = _ports(2)
    procs = [_start([sys.executable, str(script)], i, ports, tmp_path / f"w{i}") for i in range(2)]
    codes = _finish(procs, timeout=500)
    logs = [(tmp_path / f"w{i}" / "log.txt").read_text() for i in range(2)]
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    run = tmp_path / "w0" / "run"
    assert _steps(run)[-1] > 0 and list(run.glob("samples/step_*.png"))
    assert not (tmp_path / "w1" / "run").exists()

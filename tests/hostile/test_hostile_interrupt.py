"""#24.14: Ctrl-C during ``ganviz train`` exits 130 with one line naming the last checkpoint and the resume command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import SRC

_CLI = "import sys; from ganviz.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow
def _tf_noise(line: str) -> bool:
    """TensorFlow 2.21's start-up lines, printed by its C++ code at import whatever TF_CPP_MIN_LOG_LEVEL says."""
    return line.startswith("WARNING: All log messages before absl::InitializeLog()") or bool(
        re.match(r"[IWE]\d{4} \d\d:\d\d:\d\d", line)
    )


def test_ctrl_c_names_the_last_checkpoint_and_the_resume_command(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore",
               HOME=str(tmp_path))  # fmt: skip
    argv = ["train", "--steps", "100000", "--batch-size", "8", "--sample-every", "2", "--checkpoint-every", "2",
            "-o", "run"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *argv], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not list((tmp_path / "run" / "checkpoints").glob("ckpt_*.npz")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("step ") and not _tf_noise(line)]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ganviz: interrupted; the checkpoint at step "), lines[0]
    assert "ganviz train --resume --out run" in lines[0]
    assert not (tmp_path / "run" / ".ganviz.lock").exists()

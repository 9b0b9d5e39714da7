"""The collection check fails a run in which a test module is skipped whole, and lets the documented skip pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_hidden.py").write_text(body, encoding="utf-8")
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    env = {**os.environ, "GANVIZ_CHECK_COLLECTION": "1", "KERAS_BACKEND": "tensorflow",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "support.collection_check", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_a_module_skipped_whole_fails_the_run_naming_it(tmp_path: Path) -> None:
    out = _run(
        tmp_path, 'import pytest\nhelper = pytest.importorskip("a_helper_that_moved")\n\ndef test_x():\n    pass\n'
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "collection check: test_hidden.py was skipped whole" in out.stdout
    assert "a_helper_that_moved" in out.stdout


@pytest.mark.slow
def test_a_module_skipped_whole_for_pytorch_fails_the_run_too(tmp_path: Path) -> None:
    """The torch skip was once allowed (torch was not installed); `make setup` installs its CPU build now."""
    body = 'import pytest\npytest.skip("PyTorch is not installed: CUDA build", allow_module_level=True)\n'
    out = _run(tmp_path, body)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "collection check: test_hidden.py was skipped whole (Skipped: PyTorch is not installed" in out.stdout


def test_a_single_test_may_skip_for_a_missing_pytorch(tmp_path: Path) -> None:
    """Where the CPU wheel is not on disk, tests/test_backends.py's torch runs skip one by one: the run passes."""
    body = 'import pytest\n\ndef test_x():\n    pytest.skip("PyTorch is not installed")\n'
    out = _run(tmp_path, body)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "collection check" not in out.stdout

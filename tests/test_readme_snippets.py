"""Every Python snippet of the README runs as written, imports included, in a fresh process and folder.

The training snippet (300 epochs) is run with fewer epochs, and the multi-worker one needs
``TF_CONFIG``: ``train/gan/test_train_distributed.py`` runs that one as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_has_its_snippets() -> None:
    assert len(SNIPPETS) == 5, len(SNIPPETS)
    assert "MultiWorkerMirroredStrategy" in SNIPPETS[4] and "epochs=300" in SNIPPETS[2]


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_readme_snippet_runs_as_written(index: int, tmp_path: Path) -> None:
    code = SNIPPETS[index]
    if index == 2:  # the training snippet: the same code, a short run
        code = code.replace("epochs=300", "epochs=2")
    out = _run(code, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    made = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    expected = {
        0: {"generator_plot.png", "gan.svg", "gan.html", "generator.svg"},
        1: {"gan.png", "gan_merged.png", "gan.html", "classic.png", "compiled.png"},
        2: {"metrics.jsonl", "curves.png", "progress.gif"},
        3: {"metrics.jsonl"},
    }[index]
    assert expected <= made, sorted(made)
    if index == 1:
        assert "{'discriminator': ['d_optimizer'], 'generator': ['g_optimizer']}" in out.stdout

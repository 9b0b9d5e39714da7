"""A generator that outputs NaN: no flat grid is written and no false mode-collapse warning is raised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402


def _events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_nan_generator_writes_no_grid_and_no_collapse_warning(tmp_path: Path) -> None:
    gen, disc = seed_generator(8), seed_discriminator()
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=None, progress=False, diagrams=False)
    mon.start(generator=gen, discriminator=disc, total_steps=6)
    mon.step(2, {"d_loss": 1.0, "g_loss": 1.0})
    assert [p.name for p in (tmp_path / "samples").iterdir()] == ["step_000002.png"]
    poisoned = [np.full_like(w, np.nan) for w in gen.get_weights()]
    gen.set_weights(poisoned)
    mon.step(4, {"d_loss": 1.0, "g_loss": 1.0})
    mon.end()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png"]
    kinds = [e["kind"] for e in _events(tmp_path)]
    assert "nonfinite_samples" in kinds
    assert "diversity_collapse" not in kinds

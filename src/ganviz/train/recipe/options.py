"""The recipe of ``ganviz train``, written once: its defaults, each loss's settings, and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import TrainOptionError

# R1 and the EMA generator are ganviz.GAN's own defaults with bce (train/gan/base.BCE_RECIPE): an R1
# penalty took FID from 14.3 to 3.8 at 3000 steps; the EMA generator's grids scored 3.7-4.0 vs 4.3-5.1 raw.

__all__ = ["DEFAULTS", "LOSS_SETTINGS", "TrainResult", "total_steps", "fit_remaining"]

# Measured on the seed's models and the digits (benchmarks/bench_quality.py, BENCHMARKS.md): with an R1
# penalty 3000 steps of batch 128 score FID 3.6-3.8 against 1.6 for real held-out digits, all 10 classes
# (without it: 14-22); the earlier default, 6000 steps without R1, scored 18.5.
DEFAULTS: dict[str, Any] = {
    "out": "ganviz_run",
    "loss": "bce",
    "seed": 0,
    "steps": 3000,
    "batch_size": 128,
    "latent_dim": 100,
    "learning_rate": 2e-4,
    "quick_steps": 200,
}
LOSS_SETTINGS = {  # loss -> (discriminator activation, d_steps, beta_2)
    "bce": ("sigmoid", 1, 0.999),
    "lsgan": ("sigmoid", 1, 0.999),
    "hinge": (None, 1, 0.999),
    "wgan-gp": (None, 3, 0.9),
}


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    out_dir: Path
    steps: int
    initial_step: int
    stopped_on_nonfinite: bool
    report: Path | None
    events: list[dict[str, Any]]
    last_checkpoint: int | None = None


def total_steps(steps: int | None, quick: bool) -> int:
    """The run's step budget: ``steps`` if given, else the quick or the full default (refused below 1)."""
    total = int(steps if steps is not None else DEFAULTS["quick_steps"] if quick else DEFAULTS["steps"])
    if total < 1:
        raise TrainOptionError(f"steps must be >= 1, got {total}")
    return total


def fit_remaining(model: Any, dataset: Any, remaining: int, per_epoch: int, callbacks: list[Any]) -> None:
    """``model.fit`` for exactly ``remaining`` steps in epochs of at most ``per_epoch`` (the data shuffles itself)."""
    import math

    epoch = min(max(1, per_epoch), remaining)
    model.fit(dataset, steps_per_epoch=epoch, epochs=math.ceil(remaining / epoch), verbose=0, shuffle=False,
              callbacks=callbacks)  # fmt: skip

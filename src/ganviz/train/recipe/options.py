"""The recipe of ``ganviz train``, written once: its defaults, each loss's settings, and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import TrainOptionError

# R1 and the EMA generator are ganviz.GAN's own defaults with bce (train/gan/base.BCE_RECIPE): an R1
# penalty took FID from 14.3 to 3.8 at 3000 steps; the EMA generator's grids scored 3.7-4.0 vs 4.3-5.1 raw.

__all__ = ["DEFAULTS", "LOSS_SETTINGS", "TrainResult", "total_steps", "default_intervals", "fit_remaining"]

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


def default_intervals(
    steps: int, sample_every: int | None = None, checkpoint_every: int | None = None
) -> tuple[int, int]:
    """The grid and checkpoint intervals of a run of ``steps``: those given, else about 20 grids and 5
    checkpoints a run. An interval of 8 steps or more is a multiple of 8, the steps one call of the
    compiled function runs (``DEFAULT_STEPS_PER_EXECUTION``): the GAN shortens its calls so that they
    end on every interval, so 3000 steps sample every 152 (8 steps a call), not 150 (6, or 2 where an
    epoch is 64 steps)."""
    from ..gan.base import DEFAULT_STEPS_PER_EXECUTION as per_call

    def aligned(n: int) -> int:
        return max(per_call, round(n / per_call) * per_call) if n >= per_call else max(1, n)

    grid = sample_every or aligned(steps // 20)
    return grid, checkpoint_every or max(grid, aligned(steps // 5))


def fit_remaining(model: Any, dataset: Any, remaining: int, per_epoch: int, callbacks: list[Any]) -> None:
    """``model.fit`` for exactly ``remaining`` steps in epochs of at most ``per_epoch`` (the data shuffles itself)."""
    import math

    from ..gan.base import DEFAULT_STEPS_PER_EXECUTION, step_intervals

    # An epoch of whole calls: the GAN ends its calls on each epoch's end and on the callbacks' intervals, so
    # an epoch of 469 steps would cut 3000 steps sampled every 152 into calls of 1 step; 464 keeps 8 a call.
    marks = step_intervals(callbacks)
    common = math.gcd(*marks) if marks else DEFAULT_STEPS_PER_EXECUTION
    block = max(d for d in range(1, DEFAULT_STEPS_PER_EXECUTION + 1) if common % d == 0)
    epoch = min(max(1, per_epoch), remaining)
    if epoch > block:
        epoch -= epoch % block
    model.fit(dataset, steps_per_epoch=epoch, epochs=math.ceil(remaining / epoch), verbose=0, shuffle=False,
              callbacks=callbacks)  # fmt: skip

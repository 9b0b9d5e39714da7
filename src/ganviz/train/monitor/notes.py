"""What the Monitor tells about its own limits: running-mean logs and health checks that could not run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["running_mean_keys", "health_notes"]


def running_mean_keys(model: Any, logged: dict[str, float]) -> set[str]:
    """Logged keys whose values are a Keras metric's current result (a running mean), not a step's value.

    A custom GAN that returns ``self.d_loss_tracker.result()`` logs the mean since the epoch began
    (the Keras examples name the tracker ``discriminator_loss`` and log it as ``d_loss``, so values,
    not names, are compared). Call it after the second step of an epoch, when a mean differs from
    the last value.
    """
    strategy = getattr(model, "distribute_strategy", None)
    if type(strategy).__name__.startswith(("MultiWorker", "CollectiveAllReduce")):
        # Reading a metric all-reduces it across workers; only the chief runs callbacks, so that
        # collective would put the workers out of step.
        return set()
    try:
        metrics = [m for m in getattr(model, "metrics", []) or [] if hasattr(m, "update_state")]
        results = [float(m.result()) for m in metrics]
    except Exception:  # noqa: BLE001 - a model whose metrics cannot be read logs plain values
        return set()
    return {k for k, v in logged.items() if any(abs(v - r) <= 1e-6 * max(1.0, abs(r)) for r in results)}


def health_notes(health: Any, records: Sequence[dict[str, float]], sampler: Any) -> list[str]:
    """One line for each health check that was off, and why (empty when all of them ran)."""
    notes: list[str] = []
    has_d = any("d_real" in r and "d_fake" in r for r in records)
    if records and not has_d:
        notes.append("Health check off: discriminator dominance (needs d_real and d_fake in the logs).")
    elif has_d and health.probabilities is False:
        notes.append("Health check off: discriminator dominance (D(x), D(G(z)) are scores, not probabilities).")
    if sampler is None:
        notes.append("Health check off: mode collapse (no generator to sample from; pass Monitor(generator=...)).")
    elif sampler.needs_inputs:
        notes.append("Health check off: mode collapse (no sample grid yet: the generator needs input images).")
    return notes

"""Training health checks: non-finite losses, a discriminator that wins outright, collapsing diversity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...ir.records import Record

__all__ = ["HealthEvent", "HealthChecker"]


@dataclass(frozen=True)
class HealthEvent(Record):
    """One event for ``events.jsonl`` and the log."""

    step: int
    kind: str
    level: str
    message: str


@dataclass(eq=False, kw_only=True)
class HealthChecker:
    """Watch logged values and sample diversity; return events when something goes wrong.

    Args:
        probabilities: Whether ``d_real`` / ``d_fake`` are probabilities (BCE-type losses);
            ``None`` decides from the first values seen (both within [0, 1]).
        dominance_threshold: D wins when D(x) > 1 - t and D(G(z)) < t.
        dominance_patience: Consecutive checked steps of winning before a warning.
        collapse_ratio: Warn when diversity falls below this fraction of its peak.
        min_peak_diversity: Only judge collapse once diversity has reached this value.
    """

    probabilities: bool | None = None
    dominance_threshold: float = 0.05
    dominance_patience: int = 200
    collapse_ratio: float = 0.3
    min_peak_diversity: float = 0.05
    # what it has seen so far (the counters of state()), not options
    _winning: int = field(default=0, init=False, repr=False)
    _warned_winning: bool = field(default=False, init=False, repr=False)
    _peak: float = field(default=0.0, init=False, repr=False)
    _collapsed: bool = field(default=False, init=False, repr=False)

    def check_logs(self, step: int, logs: dict[str, float]) -> list[HealthEvent]:
        """Check one step's values; a ``nonfinite`` event means training must stop."""
        bad = sorted(k for k, v in logs.items() if not math.isfinite(v))
        if bad:
            return [
                HealthEvent(step, "nonfinite", "error", f"non-finite {', '.join(bad)} at step {step}: training stopped")
            ]
        d_real, d_fake = logs.get("d_real"), logs.get("d_fake")
        if d_real is None or d_fake is None:
            return []
        if self.probabilities is None:
            self.probabilities = 0.0 <= d_real <= 1.0 and 0.0 <= d_fake <= 1.0
        if not self.probabilities:
            return []
        t = self.dominance_threshold
        if d_real > 1.0 - t and d_fake < t:
            self._winning += 1
            if self._winning >= self.dominance_patience and not self._warned_winning:
                self._warned_winning = True
                return [
                    HealthEvent(
                        step,
                        "discriminator_wins",
                        "warning",
                        f"discriminator wins outright for {self._winning} steps (D(x) {d_real:.3f}, "
                        f"D(G(z)) {d_fake:.3f}): the generator gets little gradient; try a lower D learning "
                        "rate, label smoothing or another loss",
                    )
                ]
        else:
            self._winning = 0
            self._warned_winning = False
        return []

    def check_diversity(self, step: int, value: float) -> list[HealthEvent]:
        """Check the fixed-noise samples' diversity (mean per-pixel std across the batch)."""
        self._peak = max(self._peak, value)
        if self._peak < self.min_peak_diversity:
            return []
        if value < self.collapse_ratio * self._peak and not self._collapsed:
            self._collapsed = True
            return [
                HealthEvent(
                    step,
                    "diversity_collapse",
                    "warning",
                    f"sample diversity fell to {value:.4f} from a peak of {self._peak:.4f}: possible mode collapse",
                )
            ]
        if value >= 0.5 * self._peak:
            self._collapsed = False
        return []

    def state(self) -> dict[str, Any]:
        """Counters to keep in a checkpoint."""
        return {"winning": self._winning, "peak": self._peak, "probabilities": self.probabilities}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore counters from :meth:`state`."""
        self._winning = int(state.get("winning", 0))
        self._peak = float(state.get("peak", 0.0))
        if self.probabilities is None:
            self.probabilities = state.get("probabilities")

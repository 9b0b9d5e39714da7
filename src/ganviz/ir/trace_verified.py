"""What ``verify_trace`` found when it checked a trace against one real step (``verified`` in ``ganviz.trace/2``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .records import Record

__all__ = ["FACT_KINDS", "Fact", "Verification"]

# updates: who an optimizer changed, with how many variables, how many times; iterations: its counter;
# assignment: weights set without an optimizer; loss: the terms' weighted sum is the loss; term: one
# term's weight; feeds: the calls a loss depends on; frozen: a model drawn frozen got no update;
# phases: the order of the updates, with repeats; explained: every changed weight is drawn; sign: a
# term's kind agrees with its sign (a KL is never negative, a wasserstein term rises with its scores).
FACT_KINDS = ("update", "iterations", "assignment", "loss", "term", "sign", "feeds", "frozen", "phases", "explained")


@dataclass(frozen=True)
class Fact(Record):
    """One checked statement of the trace: what the picture says (``claim``) and what the step did."""

    kind: str
    subject: str
    holds: bool
    claim: str = ""
    observed: str = ""

    def sentence(self) -> str:
        """One line naming the fact, for a warning: ``loss d_loss: the trace says ...; the real step ...``."""
        verdict = "holds" if self.holds else "does not hold"
        return f"{self.kind} {self.subject} {verdict}: the trace says {self.claim}; the real step: {self.observed}"


@dataclass(frozen=True)
class Verification(Record):
    """The facts of a trace checked against one real training step (run once, all state restored).

    ``seconds`` is what the check cost (tracing the real step, running it, saving and restoring
    the state); ``unchecked`` names what could not be checked (a term whose weight is no constant).
    """

    facts: tuple[Fact, ...] = ()
    unchecked: tuple[str, ...] = ()
    seconds: float | None = None

    @property
    def holds(self) -> bool:
        return all(f.holds for f in self.facts)

    @property
    def failed(self) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if not f.holds)

    def verdict(self) -> str:
        """The key's line: ``checked against one real step: 23 facts, all hold``."""
        n = len(self.facts)
        head = f"checked against one real step: {n} fact{'s' if n != 1 else ''}"
        if self.holds:
            return f"{head}, all hold" if n != 1 else f"{head}, it holds"
        bad = self.failed
        names = ", ".join(f"{f.kind} {f.subject}" for f in bad[:3]) + (", ..." if len(bad) > 3 else "")
        return f"{head}, {len(bad)} do{'es' if len(bad) == 1 else ''} NOT hold ({names})"

    def to_dict(self) -> dict[str, Any]:
        """The fields, after the verdict and whether all hold (written for readers, not read back)."""
        return {"verdict": self.verdict(), "holds": self.holds, **super().to_dict()}

"""``MonitorEvents``: how a Monitor records what happened, and keeps its own failures out of training."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..run.folder import RunFolder, append_jsonl
from .health import HealthEvent
from .samplers import NeedsInputs

__all__ = ["MonitorEvents"]

log = logging.getLogger("ganviz.train")


class MonitorEvents:
    """Events for ``events.jsonl`` and the log; ``_safely`` turns any drawing failure into one."""

    out_dir: Path
    global_step: int
    events: list[dict[str, Any]]
    _failures: dict[str, int]

    def _safely(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn``; on failure record a ``monitor_error`` event (once per kind) and return ``None``."""
        try:
            return fn(*args, **kwargs)
        except NeedsInputs:
            what = "draw the sample grid"
            if self._failures.setdefault(what, 0) == 0:
                self._info("monitor_error", "no sample grid: the image-to-image generator has no fixed input "
                           "images yet (noise is never fed to it); pass Monitor(sample_inputs=...) or "
                           "monitor.step(..., batch=...)", level="warning")  # fmt: skip
            self._failures[what] += 1
        except Exception as exc:  # noqa: BLE001 - nothing the Monitor draws may stop training
            n = self._failures.get(what, 0)
            self._failures[what] = n + 1
            if n == 0:
                text = " ".join(str(exc).split())[:300]
                fix = "pass Monitor(sample_fn=...) or sample_inputs=..." if "sampl" in what else "see the message"
                self._info("monitor_error", f"could not {what}: {type(exc).__name__}: {text} (training goes on; "
                           f"{fix})", level="warning")  # fmt: skip
        return None

    def _info(self, kind: str, message: str, *, level: str = "info") -> None:
        self._emit([HealthEvent(self.global_step, kind, level, message)])

    def _emit(self, events: list[HealthEvent]) -> None:
        for event in events:
            record = event.to_dict()
            self.events.append(record)
            log.warning("%s", event.message) if event.level != "info" else log.info("%s", event.message)
            try:
                append_jsonl(RunFolder(self.out_dir).events, record)
            except OSError as exc:
                log.warning("could not write events.jsonl: %s", exc)

    def _report_failures(self) -> None:
        """One closing event per kind of failure that happened more than once."""
        for what, n in self._failures.items():
            if n > 1:
                self._info("monitor_error", f"could not {what} {n} times in all (the first is reported above)",
                           level="warning")  # fmt: skip

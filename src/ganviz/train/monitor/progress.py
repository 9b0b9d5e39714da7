"""``ProgressBar``: one terminal line with the step, rate, ETA and the latest losses."""

from __future__ import annotations

import math
from typing import Any


class ProgressBar:
    """A one-line terminal progress bar with rate, ETA and live values, redrawn at most every ``interval`` s."""

    def __init__(self, total: int | None, *, stream: Any = None, interval: float = 0.25, width: int = 24) -> None:
        import sys
        import time

        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.width = width
        self._clock = time.monotonic
        self._t0: float | None = None
        self._s0 = 0
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1

    def update(self, step: int, logs: dict[str, float], *, force: bool = False) -> None:
        """Show progress at ``step`` (cheap when called more often than ``interval``)."""
        now = self._clock()
        if self._t0 is None:
            self._t0, self._s0 = now, step
            return
        if not force and now - self._last < self.interval:
            return
        self._last = now
        rate = (step - self._s0) / max(now - self._t0, 1e-9)
        parts = [f"step {step}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            frac = min(1.0, step / self.total)
            if not self._tty and not force:
                decile = int(frac * 10)
                if decile == self._last_decile:
                    return
                self._last_decile = decile
            filled = int(frac * self.width)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + f"] {frac * 100:3.0f}%")
            eta = (self.total - step) / rate if rate > 0 else float("inf")
            parts.append(f"ETA {_clock_text(eta)}")
        parts.append(f"{rate:.1f} steps/s")
        names = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))"}
        parts += [f"{label} {logs[k]:.3f}" for k, label in names.items() if k in logs]
        line = "  ".join(parts)
        self.stream.write(("\r" + line + "\x1b[K") if self._tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock_text(seconds: float) -> str:
    """Format seconds as H:MM:SS or M:SS.

    >>> _clock_text(75)
    '1:15'
    >>> _clock_text(3725)
    '1:02:05'
    """
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds + 0.5)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"

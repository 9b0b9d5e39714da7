"""``plot_curves``: every logged value over steps, with notes saying what the curves are and are not."""

from __future__ import annotations

import io
import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from ..._io import write_atomic
from ...render.quoting import matplotlib_text

__all__ = ["plot_curves", "D_OUTPUTS_MISSING"]

_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))"}
_D_KEYS = ("d_real", "d_fake")
D_OUTPUTS_MISSING = (
    "D(x) and D(G(z)) were not logged. To see them, return the mean discriminator outputs from "
    "train_step, e.g. 'd_real': ops.mean(real_output), 'd_fake': ops.mean(fake_output) "
    "(as probabilities when D ends in a sigmoid)."
)


def _series(records: Sequence[dict[str, float]], key: str) -> np.ndarray:
    return np.array([r.get(key, np.nan) for r in records], dtype=np.float64)


def _draw(
    ax: object, steps: np.ndarray, records: Sequence[dict[str, float]], keys: list[str], running: Collection[str]
) -> None:
    for key in keys:
        ys = _series(records, key)
        label = matplotlib_text(_LABELS.get(key, key))
        if key in running:  # already averaged by the model: drawn as logged, not smoothed again
            ax.plot(steps, ys, lw=1.4, label=f"{label} (running mean, as logged)")  # type: ignore[attr-defined]
            continue
        (line,) = ax.plot(steps, ys, lw=0.8, alpha=0.35)  # type: ignore[attr-defined]
        if len(ys) >= 20:
            k = max(5, len(ys) // 50)
            smooth = np.convolve(np.nan_to_num(ys), np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1 :], smooth, lw=1.6, label=f"{label} (avg of {k})", color=line.get_color())  # type: ignore[attr-defined]
        else:
            line.set_label(label)


def plot_curves(
    records: Sequence[dict[str, float]],
    path: str | os.PathLike[str],
    *,
    running_means: Collection[str] = (),
    notes: Sequence[str] = (),
) -> Path | None:
    """Draw every logged value over steps into a PNG (matplotlib, Agg); ``None`` if no records.

    Args:
        records: Metric records with a ``step`` key.
        path: The PNG to write.
        running_means: Keys whose logged values are already running means (drawn as they are,
            labelled so, never smoothed a second time).
        notes: Lines printed under the plots (health checks that were off, ...).

    The left panel holds losses (every key but D(x)/D(G(z))); the right one D(x) and D(G(z)), or
    a note saying they were not logged and how to log them.
    """
    if not records:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = np.array([r["step"] for r in records], dtype=np.float64)
    keys = list(dict.fromkeys(k for r in records for k in r if k != "step"))
    losses = [k for k in keys if k not in _D_KEYS][:10]
    d_keys = [k for k in _D_KEYS if k in keys]
    import textwrap

    extra = list(notes) + ([D_OUTPUTS_MISSING] if not d_keys else [])
    lines = [line for note in extra for line in textwrap.wrap(note, 130)]
    note_h = 0.16 * len(lines) + (0.1 if lines else 0.0)  # inches under the plots
    fig = Figure(figsize=(9, 3.6 + note_h), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for ax, group, title in ((ax1, losses, "losses"), (ax2, d_keys, "discriminator outputs")):
        _draw(ax, steps, records, group, running_means)
        ax.set_title(title)
        ax.set_xlabel("step")
        if group:
            # a fixed corner: "best" scans every point of every line (most of a redraw on a long run)
            ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
        ax.grid(alpha=0.3)
    if not d_keys:
        ax2.text(0.5, 0.5, "D(x), D(G(z)) not logged\n(see the note below)", ha="center", va="center",
                 transform=ax2.transAxes, color="#8a5a00")  # fmt: skip
    # Fixed margins, not tight_layout (which draws the figure an extra time): the Monitor redraws this
    # at every checkpoint, on the training thread.
    height = 3.6 + note_h
    fig.subplots_adjust(left=0.07, right=0.985, top=1 - 0.35 / height, bottom=(note_h + 0.5) / height, wspace=0.2)
    for i, line in enumerate(lines):
        y = (note_h - 0.1 - 0.16 * i) / (3.6 + note_h)
        fig.text(0.01, y, matplotlib_text(line), fontsize=7.5, color="#8a5a00", va="top")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_atomic(path, buf.getvalue())

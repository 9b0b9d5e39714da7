"""``RunOutputs``: what a Monitor draws at each interval: grids, GIF, curves, TensorBoard events, the notebook view.

Every method here may fail (a generator that rejects its inputs, a full disk, a diagram that
cannot be traced): the Monitor calls them through ``Monitor._safely``, which records the failure
in ``events.jsonl`` and lets training go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..outputs.curves import plot_curves
from ..outputs.images import save_gif, save_png
from ..run.folder import RunFolder

__all__ = ["RunOutputs"]


class RunOutputs:
    """The files and displays of one run folder (grid PNGs, GIF, curves, TensorBoard, notebook)."""

    def __init__(self, run: Path, *, tensorboard: bool = False, display: bool = False) -> None:
        self.run = run
        self.folder = RunFolder(run)
        self.frames: list[np.ndarray] = []
        self.tb: Any = None
        self.display: Any = None
        self.last_grid_path: Path | None = None
        if tensorboard:
            from ..outputs.tensorboard import TensorBoardWriter

            self.tb = TensorBoardWriter(RunFolder(run).tensorboard)
        if display:
            from ..outputs.notebook import NotebookDisplay

            self.display = NotebookDisplay()

    def grid(self, step: int, image: np.ndarray) -> Path:
        """Write ``samples/step_NNNNNN.png`` (and the TensorBoard image)."""
        path = save_png(self.folder.sample(step), image)
        self.frames.append(image)
        self.last_grid_path = path
        if self.tb is not None:
            self.tb.image("samples", step, image)
        return path

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Logged values to TensorBoard."""
        if self.tb is not None and values:
            self.tb.scalars(step, values)

    def curves(self, records: list[dict[str, float]], *, running_means: set[str], notes: list[str]) -> None:
        """Redraw ``curves.png``."""
        plot_curves(records, self.folder.curves, running_means=running_means, notes=notes)

    def gif(self) -> None:
        """Redraw ``progress.gif`` from the grids so far."""
        save_gif(self.folder.gif, self.frames)

    def show(self, step: int, note: str = "") -> None:
        """Update the notebook view."""
        if self.display is not None:
            curves = self.folder.curves
            self.display.update(step=step, grid=self.last_grid_path, curves=curves if curves.exists() else None,
                                note=note)  # fmt: skip

    def diagram(self, step: int) -> None:
        """The system diagram as a TensorBoard image (once)."""
        png = self.folder.diagrams / "system.png"
        if self.tb is not None and png.exists():
            self.tb.png("system_diagram", step, png)

    def text(self, name: str, step: int, text: str) -> None:
        """A note in TensorBoard's text tab."""
        if self.tb is not None:
            self.tb.text(name, step, text)

    def flush(self) -> None:
        """Flush TensorBoard events."""
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        """Close TensorBoard's event file."""
        if self.tb is not None:
            self.tb.close()
            self.tb = None

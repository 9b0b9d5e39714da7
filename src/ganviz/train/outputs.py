"""What a Monitor draws: grids, GIF, curves, TensorBoard events, the notebook view and the system diagram.

Every method here may fail (a generator that rejects its inputs, a full disk, a diagram that
cannot be traced): the Monitor calls them through ``Monitor._safely``, which records the failure
in ``events.jsonl`` and lets training go on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_atomic
from .curves import plot_curves
from .images import save_gif, save_png
from .run_folder import RunFolder
from .samplers import is_image_to_image

__all__ = ["RunOutputs", "draw_system"]


def draw_system(run: Path, *, model: Any = None, trace: Any = None, generator: Any = None,
                discriminator: Any = None, data: Any = None, png: bool = False) -> dict[str, Any]:  # fmt: skip
    """Trace the GAN (or take ``trace``) and write ``diagrams/system.svg``, ``trace.json`` (and ``system.png``).

    Returns ``{"how": "traced" | "assumed", "error": str | None}``; the outcome is also written to
    ``diagrams/system.json`` for the report.
    """
    folder = RunFolder(run).diagrams
    folder.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, Any] = {"how": None, "error": None}
    try:
        from .. import api
        from ..ir import Trace

        if trace is None and model is not None and _has_train_step(model):
            from ..extract.step_trace import trace_gan

            trace, outcome["how"] = trace_gan(model, data=data), "traced"
        elif trace is None and generator is not None and is_image_to_image(generator):
            raise ValueError(
                "the standard loop feeds noise to the generator, but this one maps images to images; to draw "
                "your step pass Monitor.start(trace=ganviz.trace_step(train_step, input_batch, target_batch))"
            )
        elif trace is None and generator is not None and discriminator is not None:
            from ..extract.step_trace import assumed_gan_trace

            trace, outcome["how"] = assumed_gan_trace(generator=generator, discriminator=discriminator), "assumed"
        elif trace is not None:
            outcome["how"] = "assumed" if getattr(trace, "assumed", False) else "traced"
        if not isinstance(trace, Trace):
            why = "no train_step to trace and no generator/discriminator pair"
            raise ValueError(f"{why}: pass Monitor.start(trace=ganviz.trace_step(your_step, batch))")
        write_atomic(folder / "trace.json", trace.to_json())
        api.plot_gan(trace, to_file=str(folder / "system.svg"))
        if png:
            api.plot_gan(trace, to_file=str(folder / "system.png"), dpi=72)
    except Exception as exc:  # noqa: BLE001 - reported in the run, never raised into training
        outcome["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
    write_atomic(folder / "system.json", json.dumps(outcome))
    return outcome


def _has_train_step(model: Any) -> bool:
    import keras

    step = getattr(type(model), "train_step", None)
    return step is not None and step is not getattr(keras.Model, "train_step", None)


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
            from .tensorboard import TensorBoardWriter

            self.tb = TensorBoardWriter(RunFolder(run).tensorboard)
        if display:
            from .notebook import NotebookDisplay

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

"""What the Monitor feeds a generator for its sample grids: noise, noise + labels, fixed input images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..outputs.images import make_grid, to_uint8
from ..roles import find_generators, is_image_to_image

__all__ = ["Sampler", "is_image_to_image", "find_generators", "data_range", "NeedsInputs"]


class NeedsInputs(Exception):
    """Raised by :meth:`Sampler.draw` while an image-to-image sampler has no fixed input images yet."""


def data_range(x: np.ndarray) -> tuple[float, float]:
    """The value range to draw input images with: [-1, 1], [0, 1], or their own min/max.

    >>> data_range(np.array([-0.5, 0.9])), data_range(np.array([0.0, 0.7])), data_range(np.array([0.0, 255.0]))
    ((-1.0, 1.0), (0.0, 1.0), (0.0, 255.0))
    """
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if lo >= -1.001 and hi <= 1.001:
        return (-1.0, 1.0) if lo < -0.01 else (0.0, 1.0)
    return (lo, hi)


def _cells_to_grid(cells: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    """Pad uint8 images (H, W, C) of mixed sizes/channels to one shape and tile them."""
    h = max(c.shape[0] for c in cells)
    w = max(c.shape[1] for c in cells)
    ch = 3 if any(c.shape[2] >= 3 for c in cells) else 1
    out = np.full((len(cells), h, w, ch), 48, np.uint8)
    for i, c in enumerate(cells):
        c = c[..., :3] if c.shape[2] > 3 else c
        if c.shape[2] != ch:
            c = np.repeat(c[..., :1], ch, axis=2)
        out[i, : c.shape[0], : c.shape[1]] = c
    return make_grid(out, (rows, cols), zoom=2 if max(h, w) <= 64 else 1)


class Sampler:
    """Fixed generator inputs and how their outputs are laid out in a grid.

    Args:
        kind: ``"noise"``, ``"conditional"``, ``"image_to_image"``, ``"cycle"``, ``"inputs"`` or ``"function"``.
        description: One line for events, the config and the report.
        run: Returns the generated images (any float array) from the fixed arrays.
        arrays: The fixed arrays (kept in checkpoints so a resumed run draws the same grid).
        layout: Turns (fixed arrays, uint8 outputs) into the uint8 grid image.
        value_range: Range of the generator's output (``None``: the outputs' own min/max).
        take_inputs: For image-to-image samplers: picks the fixed arrays from a training batch
            (returns ``None`` when the batch does not fit); until then :meth:`draw` raises
            :class:`NeedsInputs` (noise is never fed instead).
    """

    def __init__(
        self,
        kind: str,
        description: str,
        run: Callable[[dict[str, np.ndarray]], Any],
        arrays: dict[str, np.ndarray],
        layout: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray],
        *,
        value_range: tuple[float, float] | None = None,
        take_inputs: Callable[[Any], dict[str, np.ndarray] | None] | None = None,
    ) -> None:
        self.kind, self.description, self._run, self.arrays = kind, description, run, dict(arrays)
        self._layout, self.value_range, self._take = layout, value_range, take_inputs

    @property
    def needs_inputs(self) -> bool:
        """Whether fixed input images are still missing."""
        return self._take is not None and not self.arrays

    def set_inputs(self, batch: Any) -> bool:
        """Take fixed input images from a training batch if still needed; True once the sampler can draw."""
        if self.needs_inputs and self._take is not None and batch is not None:
            arrays = self._take(batch)
            if arrays:
                self.arrays = arrays
        return not self.needs_inputs

    def state(self) -> dict[str, np.ndarray]:
        """The fixed arrays, for a checkpoint."""
        return dict(self.arrays)

    def load_state(self, saved: dict[str, np.ndarray]) -> None:
        """Restore the fixed arrays from a checkpoint (all of them, or none when they do not fit)."""
        if self._take is not None and not self.arrays:
            if saved:
                self.arrays = dict(saved)
            return
        if set(saved) == set(self.arrays) and all(saved[k].shape == v.shape for k, v in self.arrays.items()):
            self.arrays = {k: saved[k].astype(v.dtype) for k, v in self.arrays.items()}

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """(grid image, generated uint8 images) from the fixed arrays."""
        if self.needs_inputs:
            raise NeedsInputs(self.description)
        raw = np.asarray(self._run(self.arrays))
        self.last_finite = bool(np.all(np.isfinite(raw)))  # NaN/Inf would draw as a flat grid
        out = to_uint8(raw, self.value_range)
        return self._layout(self.arrays, out), out

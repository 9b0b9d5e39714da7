"""What the Monitor feeds a generator for its sample grids: noise, noise + labels, fixed input images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .images import make_grid, to_uint8

__all__ = ["Sampler", "is_image_to_image", "find_generators", "data_range", "NeedsInputs"]


class NeedsInputs(Exception):
    """Raised by :meth:`Sampler.draw` while an image-to-image sampler has no fixed input images yet."""


def _shape(tensor: Any) -> tuple[Any, ...]:
    return tuple(tensor.shape[1:])


def is_image_to_image(generator: Any) -> bool:
    """Whether ``generator`` maps images to images: one input and one output of rank 3 (H, W, C)."""
    ins, outs = getattr(generator, "inputs", None), getattr(generator, "outputs", None)
    return bool(ins) and bool(outs) and len(ins) == 1 and len(_shape(ins[0])) == 3 and len(_shape(outs[0])) >= 2


def find_generators(model: Any) -> list[tuple[str, Any]]:
    """The generator-like Keras models a GAN holds: ``generator``, or ``gen_G`` / ``generator_f`` style names.

    A GAN that keeps an exponential moving average of its generator (``ema_generator``, as
    ``ganviz.GAN(ema=...)`` and Keras's GAN-ADA example do) is sampled from that copy.

    Attribute order is kept, so CycleGAN's G (X -> Y) comes before F (Y -> X).
    """
    import keras

    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for name, value in list(vars(model).items()) if model is not None else []:
        low = name.lower().lstrip("_")
        if not isinstance(value, keras.Model) or id(value) in seen:
            continue
        if low.startswith("gen") or low.startswith("g_") or low in ("netg", "g"):
            found.append((name, value))
            seen.add(id(value))
    ema = getattr(model, "ema_generator", None) if model is not None else None
    if found and isinstance(ema, keras.Model) and id(ema) not in seen:
        found[0] = ("ema_generator", ema)  # a GAN keeping an EMA copy is sampled from it, as it is used
    return found


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

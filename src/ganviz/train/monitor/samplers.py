"""What the Monitor feeds a generator for its sample grids, and how any output (tensor, tuple, dict) becomes images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import TrainOptionError
from ..outputs.images import make_grid, to_uint8
from ..roles import find_generators, is_image_to_image

__all__ = [
    "Sampler",
    "is_image_to_image",
    "find_generators",
    "data_range",
    "NeedsInputs",
    "to_host",
    "drawable",
    "batch_arrays",
]


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


def batch_arrays(batch: Any) -> list[np.ndarray]:
    """The arrays of a training batch, in order: an array, a tuple/list of them, or a dict's values."""
    if batch is None:
        return []
    if isinstance(batch, dict):
        items: list[Any] = list(batch.values())
    elif isinstance(batch, (tuple, list)):
        items = list(batch)
    else:
        items = [batch]
    out: list[np.ndarray] = []
    for item in items:
        if isinstance(item, (tuple, list, dict)):
            out.extend(batch_arrays(item))
        elif item is not None:
            try:
                out.append(np.asarray(item))
            except (TypeError, ValueError):
                continue
    return out


def to_host(value: Any) -> Any:
    """A model's output as NumPy on the host: tuples, lists and dicts kept; any backend's tensors converted.

    A PyTorch tensor that requires grad is detached and moved to the CPU first (``numpy()`` refuses it).
    """
    if isinstance(value, dict):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_host(v) for v in value) if isinstance(value, tuple) else [to_host(v) for v in value]
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch, without importing it
        return np.asarray(value.detach().cpu().numpy())
    try:
        import keras

        return np.asarray(keras.ops.convert_to_numpy(value))
    except Exception:  # noqa: BLE001 - anything array-like still converts below
        return np.asarray(value)


def _is_image_batch(x: np.ndarray) -> bool:
    """(N, H, W, C) with C in 1, 3, 4, (N, H, W), or (N, D) with D a square: what ``to_uint8`` draws."""
    if x.ndim == 4:
        return x.shape[3] in (1, 3, 4) and min(x.shape[1:3]) >= 4
    if x.ndim == 3:
        return min(x.shape[1:]) >= 8
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        return x.shape[1] >= 16 and side * side == x.shape[1]
    return False


def _heatmap(x: np.ndarray) -> tuple[np.ndarray, str]:
    """One array per example, (N, ...), as grey heatmaps (N, h, w, 1) uint8 and a note of how."""
    x = np.nan_to_num(x.astype("float32"))
    how = ""
    if x.ndim == 2:  # a vector: one row
        x, how = x[:, None, :], "a row"
    while x.ndim > 3:  # collapse the smallest axis (a graph's bond types, a one-hot alphabet) by argmax
        axis = 1 + int(np.argmin(x.shape[1:]))
        how = f"argmax over the axis of size {x.shape[axis]}"
        x = np.argmax(x, axis=axis).astype("float32")
    lo, hi = float(x.min()), float(x.max())
    img = np.clip((x - lo) / (hi - lo if hi > lo else 1.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    scale = max(1, 24 // max(img.shape[1:]))  # small maps drawn big enough to see
    img = np.repeat(np.repeat(img, scale, axis=1), scale, axis=2)
    return img[..., None], how


def drawable(raw: Any, value_range: tuple[float, float] | None) -> tuple[np.ndarray, str]:
    """A generator's output as uint8 images (N, H, W, C) and a note saying what was drawn ('' for plain images).

    One image array is drawn as it is. Of a tuple, list or dict, the first image-like element is
    drawn ("output 0 of 2"); when none is image-like (a graph's adjacency and features, a
    sequence), every element is drawn as a heatmap, side by side.
    """
    if isinstance(raw, dict):
        names, parts = [str(k) for k in raw], [np.asarray(v) for v in raw.values()]
    elif isinstance(raw, (tuple, list)):
        names, parts = [str(i) for i in range(len(raw))], [np.asarray(v) for v in raw]
    else:
        x = np.asarray(raw)
        if _is_image_batch(x) or x.ndim < 2:
            return to_uint8(x, value_range), ""
        img, how = _heatmap(x)
        return img, f"output {tuple(x.shape[1:])} drawn as a heatmap ({how or 'values'})"
    if not parts:
        raise TrainOptionError("the generator returned an empty structure")
    if len(parts) == 1:
        img, note = drawable(parts[0], value_range)
        return img, note
    for name, part in zip(names, parts):
        if _is_image_batch(part):
            kind = "key" if isinstance(raw, dict) else "output"
            return to_uint8(part, value_range), f"{kind} {name} of {len(parts)} drawn (the image-like one)"
    maps = [_heatmap(p) for p in parts if p.ndim >= 2]
    if not maps:
        raise TrainOptionError(f"no output can be drawn: shapes {[tuple(p.shape) for p in parts]}")
    h = max(m.shape[1] for m, _ in maps)
    cells = [np.pad(m, ((0, 0), (0, h - m.shape[1]), (0, 2), (0, 0)), constant_values=48) for m, _ in maps]
    shapes = ", ".join(f"{n} {tuple(p.shape[1:])}" for n, p in zip(names, parts) if p.ndim >= 2)
    hows = "; ".join(sorted({how for _, how in maps if how}))
    return np.concatenate(cells, axis=2), f"no image output: {shapes} drawn as heatmaps side by side" + (
        f" ({hows})" if hows else ""
    )


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
        take_inputs: For samplers of fixed inputs (images, condition maps): picks them from a
            training batch (returns ``None`` when the batch does not fit); until then :meth:`draw`
            raises :class:`NeedsInputs` (noise is never fed instead).
        needs: The keys ``take_inputs`` supplies (default: any array at all).
        optional: Draw without them until they come (a VAE's prior samples before its reconstructions).
        take_given: ``take_inputs`` accepts ``given=True`` for inputs the loop says the generator takes
            (``Monitor.step(generator_inputs=...)``), not a batch to choose from.
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
        needs: tuple[str, ...] = (),
        optional: bool = False,
        take_given: bool = False,
    ) -> None:
        self.kind, self.description, self._run, self.arrays = kind, description, run, dict(arrays)
        self._layout, self.value_range, self._take = layout, value_range, take_inputs
        self._needs, self._optional, self._take_given = needs, optional, take_given
        self.output_note = ""

    @property
    def needs_inputs(self) -> bool:
        """Whether fixed inputs from the data are still missing."""
        if self._take is None:
            return False
        return any(k not in self.arrays for k in self._needs) if self._needs else not self.arrays

    def set_inputs(self, batch: Any, *, given: bool = False) -> bool:
        """Take fixed inputs from a training batch (``given``: what the generator is fed) if still needed;
        True once the sampler can draw."""
        if self.needs_inputs and self._take is not None and batch is not None:
            arrays = self._take(batch, given=True) if given and self._take_given else self._take(batch)
            if arrays:
                self.arrays = {**self.arrays, **arrays}
        return not self.needs_inputs

    def state(self) -> dict[str, np.ndarray]:
        """The fixed arrays, for a checkpoint."""
        return dict(self.arrays)

    def load_state(self, saved: dict[str, np.ndarray]) -> None:
        """Restore the fixed arrays from a checkpoint (all of them, or none when they do not fit)."""
        if self.needs_inputs:
            fits = all(k in saved and saved[k].shape == v.shape for k, v in self.arrays.items())
            if saved and fits:
                self.arrays = {**self.arrays, **saved}
            return
        if set(saved) == set(self.arrays) and all(saved[k].shape == v.shape for k, v in self.arrays.items()):
            self.arrays = {k: saved[k].astype(v.dtype) for k, v in self.arrays.items()}

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """(grid image, generated uint8 images) from the fixed arrays."""
        if self.needs_inputs and not self._optional:
            raise NeedsInputs(self.description)
        raw = to_host(self._run(self.arrays))
        leaves = list(raw.values()) if isinstance(raw, dict) else list(raw) if isinstance(raw, (tuple, list)) else [raw]
        self.last_finite = all(bool(np.all(np.isfinite(np.asarray(v, dtype="float64")))) for v in leaves)
        out, note = drawable(raw, self.value_range)
        if note and note != self.output_note:  # said once in the description (config, report)
            self.output_note = note
            self.description = f"{self.description}; {note}"
        return self._layout(self.arrays, out), out

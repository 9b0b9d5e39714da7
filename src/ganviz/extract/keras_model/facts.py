"""Per-layer facts (shapes, dtype, params, JSON-safe config); part of the one live-Keras-model extractor."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["shape", "dtype", "json_safe", "param_counts", "config_of", "Site"]

_MAX_STR = 200
_MAX_ITEMS = 32
_MAX_DEPTH = 6


def shape(value: Any) -> tuple[int | None, ...] | None:
    """A shape as a tuple of ints/None (None for an unknown rank)."""
    if value is None:
        return None
    if hasattr(value, "as_list"):  # tf.TensorShape
        if value.rank is None:
            return None
        value = value.as_list()
    return tuple(None if d is None else int(d) for d in value)


def dtype(tensor: Any) -> str | None:
    value = getattr(tensor, "dtype", None)
    if value is None:
        return None
    return str(getattr(value, "name", value))


def json_safe(value: Any, level: int = 0) -> Any:
    """A JSON-safe, deterministic copy of a config value, with long strings and lists cut short.

    >>> json_safe({"units": 4, "shape": (None, 3), "x": float("nan"), 1: "a" * 300})["shape"]
    [None, 3]
    >>> len(json_safe("a" * 300))
    201
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_STR else value[:_MAX_STR] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return json_safe(value.item(), level)
    if level >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k): json_safe(v, level + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            out["…"] = f"{len(items) - _MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        out_list = [json_safe(v, level + 1) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            out_list.append(f"… {len(value) - _MAX_ITEMS} more")
        return out_list
    return f"<{type(value).__name__}>"


def _weights_size(weights: Any) -> int:
    seen: set[int] = set()
    total = 0
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            total += math.prod(int(d) for d in w.shape)
    return total


def param_counts(layer: Any) -> tuple[int, int]:
    """(all params, trainable params) of a layer, each shared weight counted once."""
    return _weights_size(layer.weights), _weights_size(layer.trainable_weights)


def config_of(layer: Any) -> dict[str, Any]:
    """The layer's ``get_config()`` made JSON-safe, or ``{}`` when it has none."""
    try:
        config = layer.get_config()
    except Exception:  # custom layers may not implement get_config
        return {}
    return json_safe(config) if isinstance(config, dict) else {}


@dataclass(frozen=True)
class Site:
    """Where a layer is first called: input/output shapes and output dtype."""

    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "input_shapes": tuple(shape(t.shape) for t in self.inputs),
            "output_shapes": tuple(shape(t.shape) for t in self.outputs),
            "dtype": dtype(self.outputs[0]) if self.outputs else None,
        }

"""Per-layer facts (shapes, dtype, params, JSON-safe config); part of the one live-Keras-model extractor."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..sanitize import json_safe

__all__ = ["shape", "dtype", "param_counts", "config_of", "Site", "tensorflow_left_alone"]


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


@contextlib.contextmanager
def tensorflow_left_alone(keras: Any) -> Iterator[None]:
    """On a backend other than TensorFlow, keep Keras from importing TensorFlow while ganviz reads a model.

    Keras's ``get_config()`` asks whether TensorFlow is importable (to serialise ``tf.TensorShape``),
    which imports it (seconds, and gigabytes of memory) when it is installed. While TensorFlow is not
    loaded, no value can be a TensorFlow object, so telling Keras it is unavailable changes no result.
    """
    try:
        from keras.src.utils import module_utils

        lazy = module_utils.tensorflow
    except (ImportError, AttributeError):  # pragma: no cover - another Keras layout: nothing to guard
        yield
        return
    guard = keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules and lazy._available is None
    if guard:
        lazy._available = False
    try:
        yield
    finally:
        if guard:
            lazy._available = None

"""Best-effort output shapes for common layers, where a model file records none."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ...ir.graph import Shape
from .config import to_shape

__all__ = ["infer_output", "nth"]

_SAME_SHAPE = frozenset(
    "Activation ReLU LeakyReLU PReLU ELU Softmax ThresholdedReLU BatchNormalization SyncBatchNormalization "
    "LayerNormalization GroupNormalization UnitNormalization Dropout SpatialDropout1D SpatialDropout2D "
    "SpatialDropout3D GaussianNoise GaussianDropout AlphaDropout ActivityRegularization Rescaling "
    "Normalization Masking Identity Add Subtract Multiply Average Maximum Minimum".split()
)
_CONV = re.compile(r"^(Conv|DepthwiseConv|SeparableConv|MaxPooling|AveragePooling)([123])D$")


def _ints(value: Any, rank: int) -> tuple[int, ...] | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value,) * rank
    if isinstance(value, list) and len(value) == rank and all(isinstance(v, int) and v > 0 for v in value):
        return tuple(value)
    return None


def _spatial(cls: str, rank: int, cfg: dict[str, Any], shape: Shape) -> Shape | None:
    pooling = "Pooling" in cls
    kernel = _ints(cfg.get("pool_size" if pooling else "kernel_size"), rank)
    strides = _ints(cfg.get("strides") or kernel, rank) if pooling else _ints(cfg.get("strides", 1), rank)
    dilation = (1,) * rank if pooling else _ints(cfg.get("dilation_rate", 1), rank)
    if kernel is None or strides is None or dilation is None or len(shape) != rank + 2:
        return None
    first = cfg.get("data_format") == "channels_first"
    dims = shape[2:] if first else shape[1:-1]
    same = cfg.get("padding") == "same"
    out: list[int | None] = []
    for d, k, s, r in zip(dims, kernel, strides, dilation):
        if d is None:
            out.append(None)
        else:
            out.append(-(-d // s) if same else (d - (k - 1) * r - 1) // s + 1)
    channels = shape[1] if first else shape[-1]
    if cls.startswith("DepthwiseConv"):
        channels = None if channels is None else channels * int(cfg.get("depth_multiplier", 1))
    elif not pooling:
        channels = cfg.get("filters") if isinstance(cfg.get("filters"), int) else None
    return (shape[0], channels, *out) if first else (shape[0], *out, channels)


def infer_output(cls: str, cfg: dict[str, Any], inputs: Sequence[Shape | None]) -> Shape | None:
    """A best-effort output shape for common layers (used where no consumer recorded one).

    >>> infer_output("Dense", {"units": 3}, [(None, 8)])
    (None, 3)
    >>> infer_output("Conv2D", {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, [(None, 9, 9, 1)])
    (None, 5, 5, 4)
    """
    shape = inputs[0] if inputs else None
    if shape is None:
        return None
    if cls in _SAME_SHAPE:
        return shape
    if cls == "Dense" and isinstance(cfg.get("units"), int) and shape:
        return (*shape[:-1], cfg["units"])
    if cls == "Flatten" and shape:
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))  # type: ignore[arg-type]
    if cls.startswith("Global") and "Pooling" in cls and len(shape) >= 3:
        axis = 1 if cfg.get("data_format") == "channels_first" else len(shape) - 1
        if cfg.get("keepdims"):
            return tuple(d if i in (0, axis) else 1 for i, d in enumerate(shape))
        return (shape[0], shape[axis])
    if cls == "Reshape" and isinstance(cfg.get("target_shape"), list):
        target = to_shape(cfg["target_shape"])
        if target is not None and -1 not in target:
            return (shape[0], *target)
    if cls == "Concatenate" and all(s is not None for s in inputs):
        axis = cfg.get("axis", -1)
        if (
            isinstance(axis, int)
            and len({len(s) for s in inputs if s is not None}) == 1
            and -len(shape) <= axis < len(shape)
        ):
            sizes = [s[axis] for s in inputs if s is not None]
            out = list(shape)
            out[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
            return tuple(out)
    match = _CONV.match(cls)
    if match:
        return _spatial(cls, int(match.group(2)), cfg, shape)
    return None


def nth(shapes: Sequence[Shape | None], index: int) -> Shape | None:
    return shapes[index] if index < len(shapes) else None

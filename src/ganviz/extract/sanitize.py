"""One config sanitizer for live models and model files: a small, JSON-safe, deterministic copy."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_STRING", "MAX_ITEMS", "MAX_LEVELS", "json_safe", "code_note"]

MAX_STRING = 200  # characters kept of a string (then "…")
MAX_ITEMS = 32  # entries kept of a dict or list
MAX_LEVELS = 6  # nesting levels kept


def code_note(code: Any) -> str:
    """What is shown instead of a ``Lambda``'s serialized code, which is never decoded or run."""
    size = len(code) if isinstance(code, str) else 0
    return f"<Python bytecode, {size} base64 characters: not executed>"


def json_safe(value: Any, level: int = 0) -> Any:
    """A JSON-safe, deterministic copy of a config value, with long, large or deep parts cut short.

    The live-model extractor and the model-file reader both use it, so a model and its saved file
    show the same details.

    >>> json_safe({"units": 4, "shape": (None, 3), "x": float("nan"), 1: "a" * 300})["shape"]
    [None, 3]
    >>> len(json_safe("a" * 300))
    201
    >>> json_safe({"class_name": "__lambda__", "config": {"code": "QUJD"}})["code"]
    '<Python bytecode, 4 base64 characters: not executed>'
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy scalar
        return json_safe(value.item(), level)
    if level >= MAX_LEVELS:
        return "…"
    if isinstance(value, dict):
        if value.get("class_name") == "__lambda__":
            config = value.get("config")
            return {
                "class_name": "__lambda__",
                "code": code_note(config.get("code") if isinstance(config, dict) else None),
            }
        items = list(value.items())
        out = {str(k): json_safe(v, level + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["…"] = f"{len(items) - MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        out_list = [json_safe(v, level + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out_list.append(f"… {len(value) - MAX_ITEMS} more")
        return out_list
    return f"<{type(value).__name__}>"

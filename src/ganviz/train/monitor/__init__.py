"""``ganviz.Monitor`` and what it is made of: events, state, health, samplers, the step count, the drawing of each interval.

``Monitor`` resolves lazily, so importing one of these modules does not import Keras.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Monitor"]


def __getattr__(name: str) -> Any:
    if name == "Monitor":
        from .callback import Monitor

        return Monitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

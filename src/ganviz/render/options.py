"""One frozen ``DrawOptions``: what a diagram shows and how, each parameter checked once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RANKDIRS", "SPLINES", "DrawOptions", "check_dpi", "check_rankdir", "check_splines"]

RANKDIRS = ("TB", "BT", "LR", "RL")
# Graphviz's values of the ``splines`` graph attribute; Keras's plot_model passes one through (default "ortho").
SPLINES = ("ortho", "spline", "polyline", "line", "curved", "true", "false", "none")
_MAX_DPI = 2400


def check_rankdir(rankdir: object) -> str:
    """Return ``rankdir`` if it is a Graphviz direction, else raise ``ValueError``.

    >>> check_rankdir("LR")
    'LR'
    >>> check_rankdir("XY")
    Traceback (most recent call last):
    ...
    ValueError: unknown rankdir 'XY' (must be one of ['TB', 'BT', 'LR', 'RL'])
    """
    if not isinstance(rankdir, str) or rankdir not in RANKDIRS:
        raise ValueError(f"unknown rankdir {rankdir!r} (must be one of {list(RANKDIRS)})")
    return rankdir


def check_dpi(dpi: object) -> int | float | None:
    """Return ``dpi`` if it is ``None`` or a number in [1, 2400], else raise ``ValueError``.

    >>> check_dpi(True)
    Traceback (most recent call last):
    ...
    ValueError: dpi must be a number between 1 and 2400 or None, got True
    """
    if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 1 <= dpi <= _MAX_DPI):
        raise ValueError(f"dpi must be a number between 1 and {_MAX_DPI} or None, got {dpi!r}")
    return dpi


def check_splines(splines: object) -> str | None:
    """Return ``splines`` if it is ``None`` (the engine's default) or a Graphviz ``splines`` value.

    >>> check_splines("ortho")
    'ortho'
    >>> check_splines("wavy")
    Traceback (most recent call last):
    ...
    ValueError: unknown splines 'wavy' (must be one of ['ortho', 'spline', 'polyline', 'line', 'curved', 'true', 'false', 'none'] or None)
    """
    if splines is not None and (not isinstance(splines, str) or splines not in SPLINES):
        raise ValueError(f"unknown splines {splines!r} (must be one of {list(SPLINES)} or None)")
    return splines


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
        raise TypeError(f"{name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class DrawOptions:
    """What a box shows and how the diagram is laid out; names and meanings are Keras's ``plot_model``'s.

    Every field is checked when the object is made, so a renderer can trust it.

    >>> DrawOptions(rankdir="LR").rankdir
    'LR'
    >>> DrawOptions.of(None, show_shapes=True).show_shapes
    True
    >>> DrawOptions.of(None, shape=True)
    Traceback (most recent call last):
    ...
    TypeError: unknown drawing option(s) ['shape'] (must be among ['dpi', 'rankdir', 'show_dtype', 'show_layer_activations', 'show_layer_names', 'show_shapes', 'show_trainable', 'splines'])
    """

    show_shapes: bool = False
    show_dtype: bool = False
    show_layer_names: bool = False
    rankdir: str = "TB"
    show_layer_activations: bool = False
    show_trainable: bool = False
    dpi: int | float | None = None
    splines: str | None = None  # Graphviz's edge routing; None: the engine's default (Mermaid ignores it)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name not in ("rankdir", "dpi", "splines"):
                _check_flag(f.name, getattr(self, f.name))
        check_rankdir(self.rankdir)
        check_dpi(self.dpi)
        check_splines(self.splines)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls, options: DrawOptions | None = None, /, **changes: Any) -> DrawOptions:
        """``options`` (or the defaults) with ``changes`` applied; unknown names raise ``TypeError``."""
        unknown = sorted(set(changes) - set(cls.names()))
        if unknown:
            raise TypeError(f"unknown drawing option(s) {unknown} (must be among {sorted(cls.names())})")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **changes) if changes else base

    @classmethod
    def split(cls, opts: Mapping[str, Any]) -> tuple[DrawOptions, dict[str, Any]]:
        """Drawing options taken out of ``opts``, and the rest (for callers with extra keywords)."""
        names = set(cls.names())
        mine = {k: v for k, v in opts.items() if k in names}
        return cls.of(None, **mine), {k: v for k, v in opts.items() if k not in names}

    def replace(self, **changes: Any) -> DrawOptions:
        """A copy with ``changes`` (checked like any new object)."""
        return DrawOptions.of(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as keyword arguments."""
        return dataclasses.asdict(self)

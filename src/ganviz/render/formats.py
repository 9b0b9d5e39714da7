"""The format table: a file extension names a format, and each format has one renderer to bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnknownFormatError
from ..ir.graph import Graph
from ..ir.transforms import check_depth, collapse_to_depth
from .options import DrawOptions

__all__ = ["EXTENSIONS", "FORMATS", "Drawing", "format_for", "render_bytes"]

# Extension -> format name. `.gv` is Graphviz's other usual extension for DOT.
EXTENSIONS = {
    ".png": "png",
    ".svg": "svg",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".json": "json",
    ".mmd": "mermaid",
    ".html": "html",
    ".htm": "html",
}
FORMATS = ("dot", "html", "json", "mmd", "pdf", "png", "svg")  # as users name them in errors


@dataclass(frozen=True)
class Drawing:
    """What a renderer gets: the graph at every level, the depth to show, and the options."""

    full: Graph
    depth: int | None
    options: DrawOptions
    title: str | None = None

    @property
    def shown(self) -> Graph:
        """The graph as drawn: nested models collapsed below ``depth`` (the one place it is applied)."""
        return collapse_to_depth(self.full, self.depth)


def _json(d: Drawing) -> bytes:
    return d.shown.to_json().encode("utf-8")


def _dot(d: Drawing) -> bytes:
    from .dot import graph_to_dot

    return graph_to_dot(d.shown, d.options).encode("utf-8")


def _mermaid(d: Drawing) -> bytes:
    from .mermaid import graph_to_mermaid

    return graph_to_mermaid(d.shown, d.options).encode("utf-8")


def _engine(fmt: str) -> Callable[[Drawing], bytes]:
    def render(d: Drawing) -> bytes:
        from .backend import render_dot
        from .big_svg import check_raster_size, svg_bytes
        from .dot import graph_to_dot

        shown = d.shown
        if fmt == "svg":
            return svg_bytes(shown, d.options)  # the compact layout when Graphviz would take minutes
        check_raster_size(shown, fmt)
        return render_dot(graph_to_dot(shown, d.options), fmt, dpi=d.options.dpi)

    return render


def _html(d: Drawing) -> bytes:
    from .html import graph_to_page

    return graph_to_page(d.full, d.options, start_depth=d.depth, title=d.title).encode("utf-8")


# Format -> renderer. Adding a format is one entry here (and its extension above).
_RENDERERS: dict[str, Callable[[Drawing], bytes]] = {
    "json": _json,
    "dot": _dot,
    "mermaid": _mermaid,
    "svg": _engine("svg"),
    "png": _engine("png"),
    "pdf": _engine("pdf"),
    "html": _html,
}


def format_for(path: str | os.PathLike[str]) -> str:
    """The output format named by ``path``'s extension.

    >>> format_for("model.SVG"), format_for("a/b.mmd")
    ('svg', 'mermaid')
    >>> format_for("model.jpg")
    Traceback (most recent call last):
    ...
    ganviz.errors.UnknownFormatError: unknown format 'jpg' of 'model.jpg' (must be one of ['dot', 'html', 'json', 'mmd', 'pdf', 'png', 'svg'])
    """
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        shown = ext.lstrip(".") or "(no extension)"
        raise UnknownFormatError(f"unknown format {shown!r} of {str(path)!r} (must be one of {list(FORMATS)})")
    return EXTENSIONS[ext]


def render_bytes(
    graph: Graph,
    fmt: str,
    *,
    depth: int | None = None,
    title: str | None = None,
    options: DrawOptions | None = None,
    **opts: Any,
) -> bytes:
    """Render ``graph`` (every level open) to the bytes of ``fmt``, nested models shown to ``depth``.

    For ``html`` the page holds one view per depth and starts at ``depth``.

    Raises:
        UnknownFormatError: ``fmt`` is not one of :data:`FORMATS`.
        TypeError: an option that is not a :class:`DrawOptions` field.
        ValueError: a bad option value or depth.
    """
    name = "mermaid" if fmt == "mmd" else fmt
    if name not in _RENDERERS:
        raise UnknownFormatError(f"unknown format {fmt!r} (must be one of {list(FORMATS)})")
    check_depth(depth)
    drawing = Drawing(graph, depth, DrawOptions.of(options, **opts), title)
    return _RENDERERS[name](drawing)

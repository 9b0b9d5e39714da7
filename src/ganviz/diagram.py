"""``Diagram``: what ``plot_model``/``plot_gan`` return: the file written, the graph, notebook display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .ir import Graph
from .render.options import DrawOptions
from .render.quoting import markup_attr

__all__ = ["Diagram"]


class Diagram:
    """The written path, the graph as drawn, and inline display in Jupyter.

    In a notebook the object shows itself: as the interactive page for ``.html`` output, as the
    PNG for ``.png``, else as SVG.
    """

    def __init__(self, path: Path | None, graph: Graph, fmt: str, options: DrawOptions | None = None) -> None:
        self.path = path
        self.graph = graph
        self.format = fmt
        self.options = options or DrawOptions()

    def __repr__(self) -> str:
        return f"<ganviz.Diagram {self.graph.name!r} -> {str(self.path) if self.path else None!r}>"

    def __fspath__(self) -> str:
        if self.path is None:
            raise TypeError("this diagram was not written to a file")
        return str(self.path)

    def _written(self, fmt: str) -> bool:
        return self.format == fmt and self.path is not None and self.path.exists()

    def _svg(self) -> str:
        if self._written("svg"):
            assert self.path is not None
            return self.path.read_text(encoding="utf-8")
        from .render.formats import render_bytes

        return render_bytes(self.graph, "svg", options=self.options).decode("utf-8")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if self._written("html"):
            assert self.path is not None
            page = self.path.read_text(encoding="utf-8")
            # Sandboxed: the page's script runs, but in its own origin, away from the notebook.
            frame = (
                f'<iframe srcdoc="{markup_attr(page)}" sandbox="allow-scripts" '
                'style="width:100%;height:600px;border:1px solid #e2e8f0"></iframe>'
            )
            return {"text/html": frame, "text/plain": repr(self)}
        if self._written("png"):
            assert self.path is not None
            return {"image/png": self.path.read_bytes(), "text/plain": repr(self)}
        return {"image/svg+xml": self._svg(), "text/plain": repr(self)}

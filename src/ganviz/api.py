"""Public drawing API: ``plot_model``, ``plot_gan`` and ``render`` (format chosen by file extension)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._io import check_writable, write_atomic
from .errors import NotAModelError, UnknownFormatError
from .ir import Graph, Trace, collapse_to_depth, max_depth

__all__ = ["FORMATS", "Diagram", "format_for", "render", "render_bytes", "plot_model", "plot_gan"]

# Extension -> format name. `.gv` is Graphviz's other usual extension for DOT.
_EXTENSIONS = {
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
FORMATS = ("dot", "html", "json", "mmd", "pdf", "png", "svg")
_RENDERED = frozenset(_EXTENSIONS.values())

_DOT_OPTIONS = (
    "show_shapes",
    "show_dtype",
    "show_layer_names",
    "rankdir",
    "show_layer_activations",
    "show_trainable",
    "dpi",
)


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
    if ext not in _EXTENSIONS:
        shown = ext.lstrip(".") or "(no extension)"
        raise UnknownFormatError(f"unknown format {shown!r} of {str(path)!r} (must be one of {list(FORMATS)})")
    return _EXTENSIONS[ext]


class Diagram:
    """What ``plot_model``/``plot_gan`` return: the written path, the graph, and notebook display.

    In Jupyter the object shows itself inline: as the interactive page for ``.html`` output, as SVG
    for ``.svg``, else as the PNG/SVG it can make.
    """

    def __init__(self, path: Path | None, graph: Graph, fmt: str, dot_options: Mapping[str, Any]) -> None:
        self.path = path
        self.graph = graph
        self.format = fmt
        self._dot_options = dict(dot_options)

    def __repr__(self) -> str:
        return f"<ganviz.Diagram {self.graph.name!r} -> {str(self.path) if self.path else None!r}>"

    def __fspath__(self) -> str:
        if self.path is None:
            raise TypeError("this diagram was not written to a file")
        return str(self.path)

    def _svg(self) -> str:
        if self.format == "svg" and self.path is not None and self.path.exists():
            return self.path.read_text(encoding="utf-8")
        return render_bytes(self.graph, "svg", **self._dot_options).decode("utf-8")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if self.format == "html" and self.path is not None and self.path.exists():
            page = self.path.read_text(encoding="utf-8")
            from html import escape

            # Sandboxed: the page's script runs, but in its own origin, away from the notebook.
            frame = (
                f'<iframe srcdoc="{escape(page, quote=True)}" sandbox="allow-scripts" '
                'style="width:100%;height:600px;border:1px solid #e2e8f0"></iframe>'
            )
            return {"text/html": frame, "text/plain": repr(self)}
        if self.format == "png" and self.path is not None and self.path.exists():
            return {"image/png": self.path.read_bytes(), "text/plain": repr(self)}
        return {"image/svg+xml": self._svg(), "text/plain": repr(self)}


ASSUMED_CAPTION = "Assumed: the standard adversarial loop (not traced from a train_step)"


def _graph_of(obj: Graph | Trace, *, expand_nested: bool) -> Graph:
    if isinstance(obj, Trace):
        from .ir.trace_graph import trace_to_graph

        return _label_assumed(trace_to_graph(obj, expand_nested=expand_nested))
    return obj


def _label_assumed(graph: Graph) -> Graph:
    """An assumed (not traced) GAN loop says so above the drawing."""
    if graph.details.get("assumed") and not graph.details.get("caption"):
        return dataclasses.replace(graph, details={**graph.details, "caption": ASSUMED_CAPTION})
    return graph


def _dot_opts(opts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in opts.items() if k in _DOT_OPTIONS}


def _views(full: Graph, dot_opts: Mapping[str, Any], start_depth: int | None) -> tuple[dict[str, str], str]:
    """SVG of the graph at every depth (shallowest first, then all levels open) and the label to start on.

    Layer names are always drawn: the page is where people look layers up by name.
    """
    from .render.backend import render_dot
    from .render.dot import graph_to_dot

    levels = max_depth(full)
    depths: list[int | None] = [*range(levels), None] if levels else [None]
    if start_depth is not None and start_depth >= levels:
        start_depth = None
    views: dict[str, str] = {}
    opts = {**dot_opts, "dpi": None, "show_layer_names": True}
    for d in depths:
        dot = graph_to_dot(collapse_to_depth(full, d), **opts)
        views[_view_label(d)] = render_dot(dot, "svg").decode("utf-8")
    return views, _view_label(start_depth)


def _view_label(depth: int | None) -> str:
    return "all levels" if depth is None else f"depth {depth}"


def render_bytes(
    obj: Graph | Trace, fmt: str, *, depth: int | None = None, title: str | None = None, **opts: Any
) -> bytes:
    """Render a Graph (or a Trace) to the bytes of ``fmt``; ``depth`` collapses nested models.

    For ``html`` the page holds one view per depth (every model's architecture, for a Trace too),
    starting at ``depth`` (for a Trace: all open with ``expand_nested=True``, else closed).

    Raises:
        UnknownFormatError: ``fmt`` is not one of :data:`FORMATS`.
        TypeError: an option that is not a ``graph_to_dot`` option or ``expand_nested``.
    """
    fmt = "mermaid" if fmt == "mmd" else fmt
    if fmt not in _RENDERED:
        raise UnknownFormatError(f"unknown format {fmt!r} (must be one of {list(FORMATS)})")
    unknown = sorted(set(opts) - {*_DOT_OPTIONS, "expand_nested"})
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} (must be among {sorted({*_DOT_OPTIONS, 'expand_nested'})})")
    if fmt == "json" and isinstance(obj, Trace):
        return obj.to_json().encode("utf-8")
    expand = bool(opts.pop("expand_nested", False))
    dot_opts = _dot_opts(opts)
    if fmt == "html":
        from .render.html import graph_to_html

        graph = _graph_of(obj, expand_nested=True)
        start = depth if depth is not None or not isinstance(obj, Trace) else (None if expand else 0)
        views, initial = _views(graph, dot_opts, start)
        return graph_to_html(graph, views=views, title=title, initial_view=initial).encode("utf-8")
    graph = _graph_of(obj, expand_nested=expand)
    shown = collapse_to_depth(graph, depth)
    if fmt == "json":
        return shown.to_json().encode("utf-8")
    if fmt == "mermaid":
        from .render.mermaid import graph_to_mermaid

        return graph_to_mermaid(shown, **{k: v for k, v in dot_opts.items() if k != "dpi"}).encode("utf-8")
    from .render.dot import graph_to_dot

    dot = graph_to_dot(shown, **dot_opts)
    if fmt == "dot":
        return dot.encode("utf-8")
    from .render.backend import render_dot

    return render_dot(dot, fmt, dpi=dot_opts.get("dpi"))


def render(obj: Graph | Trace, to_file: str | os.PathLike[str], *, depth: int | None = None, **opts: Any) -> Path:
    """Write ``obj`` to ``to_file`` in the format its extension names, atomically.

    Args:
        obj: a Graph (architecture) or a Trace (GAN system).
        to_file: output path; ``.png .svg .pdf .dot .json .mmd .html``.
        depth: nesting levels to keep open (None = all that the graph has).
        **opts: ``graph_to_dot`` options (``show_shapes``, ``rankdir``, ``dpi`` ...), and
            ``expand_nested`` for traces.

    Returns:
        The path written.
    """
    fmt = format_for(to_file)
    check_writable(to_file)
    data = render_bytes(obj, fmt, depth=depth, **opts)
    return write_atomic(to_file, data)


def _depth_for(expand_nested: bool, depth: int | None) -> int | None:
    if depth is not None:
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
            raise ValueError(f"depth must be a whole number >= 0, got {depth!r}")
        return depth
    return None if expand_nested else 0


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    *,
    depth: int | None = None,
    input_shape: Any = None,
) -> Diagram:
    """Draw a Keras model like ``keras.utils.plot_model`` — with no system Graphviz needed.

    Same names and defaults as Keras 3, so changing the import is enough. Also takes a path to a
    ``.keras``/``.h5`` file (read without TensorFlow) or an already-made ``Graph``.

    Args:
        model: a Keras model (Sequential, functional, subclassed, nested), a model file path, or a Graph.
        to_file: output file; its extension picks the format (png, svg, pdf, dot, json, mmd, html).
        show_shapes: show input/output shapes.
        show_dtype: show dtypes.
        show_layer_names: show layer names (classes are always shown).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: draw nested models as open clusters.
        dpi: resolution of PNG/PDF output.
        show_layer_activations: show activations.
        show_trainable: mark trainable/frozen state.
        depth: how many levels of nesting to open (overrides ``expand_nested``).
        input_shape: shape (without batch) for a subclassed model that was never built.

    Returns:
        A :class:`Diagram` (shows inline in Jupyter; ``.path`` is the file written).
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be one of 'TB', 'LR', 'BT', 'RL', got {rankdir!r}")
    fmt = format_for(to_file)
    check_writable(to_file)
    level = _depth_for(expand_nested, depth)
    if isinstance(model, Graph):
        graph = model
    elif isinstance(model, (str, os.PathLike)):
        from .extract.keras_file import file_to_graph

        graph = file_to_graph(model)
    else:
        from .extract.keras_model import model_to_graph

        graph = model_to_graph(model, expand_nested=True, input_shape=input_shape)
    opts = dict(
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        dpi=dpi,
    )
    path = write_atomic(to_file, render_bytes(graph, fmt, depth=level, title=graph.name, **opts))
    return Diagram(path, collapse_to_depth(graph, level), fmt, opts)


def plot_gan(
    gan_or_trace: Any = None,
    to_file: str | os.PathLike[str] = "gan.png",
    *,
    expand_nested: bool = False,
    show_shapes: bool = True,
    data: Any = None,
    generator: Any = None,
    discriminator: Any = None,
    combined: Any = None,
    rankdir: str = "TB",
    dpi: int = 200,
    show_trainable: bool = True,
) -> Diagram:
    """Draw a whole GAN (or any multi-model training step) in one diagram.

    Args:
        gan_or_trace: a ``keras.Model`` subclass with a custom ``train_step`` (traced, never run),
            or a ``Trace`` from ``trace_gan``/``trace_step``.
        to_file: output file; its extension picks the format.
        expand_nested: draw each model's whole architecture inside its box.
        show_shapes: show tensor shapes.
        data: an example batch or ``tf.TensorSpec`` for tracing (found from the models if omitted).
        generator, discriminator, combined: the classic pattern without a train step; the standard
            adversarial loop is drawn and labelled as assumed, not traced.
        rankdir: ``"TB"`` or ``"LR"``.
        dpi: resolution of PNG/PDF output.
        show_trainable: mark frozen models.

    Returns:
        A :class:`Diagram`.
    """
    fmt = format_for(to_file)
    check_writable(to_file)
    if gan_or_trace is None:
        if generator is None or discriminator is None:
            missing = [n for n, m in (("generator", generator), ("discriminator", discriminator)) if m is None]
            got = "neither" if len(missing) == 2 else f"no {missing[0]}="
            raise NotAModelError(
                f"plot_gan needs a GAN model or a Trace, or both generator= and discriminator= (got {got}); "
                "e.g. plot_gan(gan) or plot_gan(generator=g, discriminator=d)"
            )
        from .extract.step_trace import assumed_gan_trace

        trace = assumed_gan_trace(generator=generator, discriminator=discriminator, combined=combined)
    elif isinstance(gan_or_trace, Trace):
        trace = gan_or_trace
    else:
        from .extract.step_trace import trace_gan

        trace = trace_gan(gan_or_trace, data=data)
    from .ir.trace_graph import trace_to_graph

    # The interactive page gets every model's architecture and a depth switch to open them.
    graph = _label_assumed(trace_to_graph(trace, expand_nested=expand_nested or fmt == "html"))
    opts = dict(
        show_shapes=show_shapes,
        show_layer_names=True,
        rankdir=rankdir,
        show_trainable=show_trainable,
        dpi=dpi,
    )
    if fmt == "json":
        data_bytes = trace.to_json().encode("utf-8")
    else:
        level = None if expand_nested else 0
        data_bytes = render_bytes(graph, fmt, depth=level if fmt == "html" else None, title=trace.name, **opts)
    path = write_atomic(to_file, data_bytes)
    return Diagram(path, graph, fmt, opts)

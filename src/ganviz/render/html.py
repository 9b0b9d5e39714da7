"""Graph -> one self-contained interactive HTML page (pan, zoom, details, search, depth views)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ..ir.graph import Graph
from ..ir.transforms import collapse_to_depth, max_depth
from .dot import _DotWriter
from .options import DrawOptions
from .quoting import html_attr, html_text, markup_attr, markup_text

__all__ = ["graph_to_page", "depth_views", "graph_to_html", "svg_inline_safe"]

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# Elements Graphviz writes; anything else (script, foreignObject, use, image, animate ...) is dropped.
_ALLOWED_ELEMENTS = frozenset(
    "svg g title desc text tspan polygon polyline path ellipse circle rect line a defs "
    "linearGradient radialGradient stop".split()
)
# Style declarations that may be kept, turned into presentation attributes (inline style="" is
# blocked by the page's Content-Security-Policy).
_PRESENTATION = frozenset(
    "fill fill-opacity stroke stroke-width stroke-dasharray stroke-opacity stroke-linecap "
    "stroke-linejoin opacity font-family font-size font-weight font-style text-anchor "
    "text-decoration stop-color stop-opacity".split()
)
_BAD_VALUE = re.compile(r"(javascript|vbscript|livescript)\s*:|expression\s*\(|url\s*\(\s*['\"]?\s*(?!#)", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
# Characters XML 1.0 forbids: a layer name holding one must not make the whole page fail.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


# -- SVG sanitising -----------------------------------------------------------------------------


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return None, name


def _unsafe_value(value: str) -> bool:
    return bool(_BAD_VALUE.search(_CONTROL.sub("", value)))


def _clean_attrs(elem: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    style = ""
    for key, value in elem.attrib.items():
        ns, local = _local(key)
        low = local.lower()
        if ns is None and low == "style":
            style = value  # checked one declaration at a time below
            continue
        if low.startswith("on") or _unsafe_value(value):
            continue
        if ns is None:
            if low == "href" and not value.startswith("#"):
                continue
            out[local] = value
        elif ns == XLINK_NS:
            if low == "href" and not value.startswith("#"):
                continue
            out[f"xlink:{local}"] = value
        elif ns == XML_NS and local == "space":
            out["xml:space"] = value
    for decl in style.split(";"):
        prop, sep, value = decl.partition(":")
        prop, value = prop.strip().lower(), value.strip()
        if sep and prop in _PRESENTATION and prop not in out and not _unsafe_value(value):
            out[prop] = value
    return out


def _write(elem: ET.Element, out: list[str], root: bool = False) -> None:
    ns, local = _local(elem.tag)
    if ns != SVG_NS or local not in _ALLOWED_ELEMENTS or (root and local != "svg"):
        return
    attrs = _clean_attrs(elem)
    if root:
        attrs = {"xmlns": SVG_NS, "xmlns:xlink": XLINK_NS, **attrs}
    out.append("<" + local + "".join(f' {k}="{markup_attr(v)}"' for k, v in attrs.items()))
    children = list(elem)
    if elem.text is None and not children:
        out.append("/>")
        return
    out.append(">")
    if elem.text:
        out.append(markup_text(elem.text))
    for child in children:
        _write(child, out)
        if child.tail:
            out.append(markup_text(child.tail))
    out.append(f"</{local}>")


def svg_inline_safe(svg: str | bytes) -> str:
    """Parse an SVG document and re-write it as a fragment that is safe to inline in HTML.

    Keeps only the SVG elements a diagram needs (no ``script``, ``foreignObject``, ``use``, images
    or animation), drops every ``on*`` event attribute, any ``href`` that is not a ``#fragment``,
    and any value holding ``javascript:`` or an external ``url(...)``; ``style`` attributes become
    presentation attributes. Comments, the XML declaration and the DOCTYPE are removed, and text is
    re-escaped, so user text (layer names) can only ever be text; characters XML forbids (control
    characters) become U+FFFD.

    Raises:
        ValueError: when ``svg`` is not a well-formed SVG document, or declares XML entities.

    >>> svg_inline_safe('<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><script>x()</script>'
    ...                 '<text>&lt;b&gt;</text></svg>')
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><text>&lt;b&gt;</text></svg>'
    """
    if isinstance(svg, bytes):
        svg = svg.decode("utf-8")
    if not isinstance(svg, str):
        raise TypeError(f"svg must be str or bytes, got {type(svg).__name__}")
    if "<!ENTITY" in svg.upper():
        raise ValueError("SVG declares XML entities, which are not accepted; pass the renderer's SVG output as is")
    try:
        root = ET.fromstring(_NOT_XML.sub("\ufffd", svg))
    except ET.ParseError as exc:
        raise ValueError(f"expected a well-formed SVG document, got unparsable XML ({exc})") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError(f"expected an <svg> root element in the SVG namespace, got {root.tag!r}")
    out: list[str] = []
    _write(root, out, root=True)
    return "".join(out)


# -- page data ----------------------------------------------------------------------------------


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: tuples become lists, keys strings, non-finite floats and objects strings."""
    if depth > 40:
        return "…"
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v, depth + 1) for v in items]
    return str(value)


def json_for_script(value: Any) -> str:
    """JSON text that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``.

    >>> json_for_script({"name": "</script><!--"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003c!--"}'
    """
    text = json.dumps(_jsonable(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, esc)
    # A lone surrogate (a layer name read from a file's JSON can hold one) cannot be written as
    # UTF-8: keep it as a JSON escape, which reads back as the same string.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _page_data(graph: Graph, title: str, views: list[dict[str, Any]]) -> dict[str, Any]:
    clusters = {c.id: c for c in graph.clusters}

    def path(name: str, parent: str | None) -> list[str]:
        parts = [name]
        seen: set[str] = set()
        while parent is not None and parent in clusters and parent not in seen:
            seen.add(parent)
            parts.append(clusters[parent].name)
            parent = clusters[parent].parent
        return parts[::-1]

    cluster_ids = {c.id for c in graph.clusters}
    writer = _DotWriter(graph, DrawOptions()) if cluster_ids else None

    def end(item: str) -> str:
        """An edge that ends on a cluster (an optimizer arrow) is drawn to its first node, as in DOT."""
        return writer.anchor_of(item) if writer is not None and item in cluster_ids else item

    nodes = [{**n.to_dict(), "path": path(n.name, n.parent)} for n in graph.nodes]
    groups = [{**c.to_dict(), "kind": "cluster", "path": path(c.name, c.parent)} for c in graph.clusters]
    return {
        "title": title,
        "graph": {"name": graph.name, "details": dict(graph.details)},
        "nodes": nodes,
        "clusters": groups,
        "edges": [[end(e.source), end(e.target), e.kind, e.label] for e in graph.edges],
        "views": views,
    }


# -- assets and the page ------------------------------------------------------------------------


@cache
def asset(name: str) -> str:
    """The text of ``render/assets/<name>``, checked safe to inline in a page (the page and the report share them)."""
    text = resources.files("ganviz.render").joinpath("assets", name).read_text(encoding="utf-8")
    if "</" in text or "<!--" in text:
        raise RuntimeError(f"asset {name} must not contain '</' or '<!--' (it is inlined in the page)")
    return text


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def graph_to_html(
    graph: Graph, *, views: Mapping[str, str | bytes], title: str | None = None, initial_view: str | None = None
) -> str:
    """Build one self-contained interactive page for ``graph``.

    The page needs no network: its script and style are inline and allowed by a
    Content-Security-Policy hash, nothing else may load. It offers pan and zoom (wheel, drag, Fit),
    a details panel for any clicked box, a search box (name or class) and a switch between
    ``views`` (e.g. nested models collapsed at each depth); a collapsed model opens on double
    click or from its details.

    Args:
        graph: the fullest graph (every nested model open); its nodes and clusters give the
            details the page shows, matched to the SVGs by id.
        views: ordered mapping from a view label (``"depth 0"``, ``"all levels"``) to the SVG of
            the graph drawn that way, as made by the DOT renderer (SVG ids are the IR ids).
        title: page title; defaults to the graph's name.
        initial_view: the label shown first; defaults to the first view.

    Returns:
        The HTML document as a string.

    Raises:
        ValueError: no views, an unknown ``initial_view``, or an SVG that is not well-formed.
        TypeError: a view label or SVG of the wrong type.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a ganviz.ir.Graph, got {type(graph).__name__}")
    if not isinstance(views, Mapping) or not views:
        raise ValueError(f"views must be a non-empty mapping from a view label to an SVG string, got {views!r:.80}")
    page_title = graph.name if title is None else title
    if not isinstance(page_title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    if initial_view is not None and initial_view not in views:
        raise ValueError(f"initial_view {initial_view!r} is not one of the views {list(views)}")
    templates: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    initial = 0
    for label, svg in views.items():
        if not isinstance(label, str):
            raise TypeError(f"view labels must be strings, got {type(label).__name__} ({label!r:.40})")
        if not isinstance(svg, (str, bytes)):
            raise TypeError(f"view {label!r}: SVG must be str or bytes, got {type(svg).__name__}")
        clean = svg_inline_safe(svg)
        if label == initial_view:
            initial = len(entries)
        entries.append({"label": label, "svg": templates.setdefault(clean, len(templates))})
    data = _page_data(graph, page_title, entries)
    data["initial"] = initial
    css, js = asset("page.css"), asset("page.js")
    csp = (
        f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    view_buttons = "".join(
        f'<button type="button" class="gv-view" role="radio" aria-checked="false" data-view="{i}">'
        f"{html_text(e['label'])}</button>"
        for i, e in enumerate(entries)
    )
    tpls = "\n".join(f'<template id="gv-svg-{i}">{svg}</template>' for svg, i in templates.items())
    t = html_text(page_title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ganviz">
<title>{t}</title>
<style>{css}</style>
</head>
<body>
<header class="gv-bar">
<h1 class="gv-title" title="{html_attr(page_title)}">{t}</h1>
<div class="gv-views{"" if len(entries) > 1 else " gv-hidden"}" role="radiogroup" aria-label="View">
<span class="gv-views-label">Nested models</span>{view_buttons}</div>
<div class="gv-search"><input id="gv-search" type="search" placeholder="Find a layer by name or class" \
aria-label="Find a layer by name or class" autocomplete="off" spellcheck="false"><span id="gv-count" \
class="gv-count" aria-live="polite"></span></div>
<div class="gv-zoom"><button type="button" id="gv-zoom-out" title="Zoom out (-)" aria-label="Zoom out">\u2212</button>\
<button type="button" id="gv-fit" title="Fit the diagram (0)">Fit</button>\
<button type="button" id="gv-zoom-in" title="Zoom in (+)" aria-label="Zoom in">+</button></div>
</header>
<main class="gv-main">
<div class="gv-diagram">
<div id="gv-stage" class="gv-stage" tabindex="0" aria-label="Diagram: drag to pan, wheel to zoom, click a box"></div>
<footer class="gv-foot"><div id="gv-legend" class="gv-legend" aria-label="Legend"></div>
<div class="gv-hint">drag to pan \u00b7 wheel to zoom \u00b7 click a box for details \u00b7 / to search</div></footer>
</div>
<aside id="gv-panel" class="gv-panel">
<section id="gv-results" class="gv-results" hidden></section>
<section id="gv-details" class="gv-details"></section>
</aside>
</main>
<noscript><p class="gv-noscript">This page needs JavaScript to draw the diagram.</p></noscript>
{tpls}
<script type="application/json" id="gv-data">{json_for_script(data)}</script>
<script>{js}</script>
</body>
</html>
"""


def _view_label(depth: int | None) -> str:
    return "all levels" if depth is None else f"depth {depth}"


def depth_views(full: Graph, options: DrawOptions) -> dict[str, str]:
    """SVG of ``full`` at every depth, shallowest first, then all levels open.

    Layer names are always drawn: the page is where people look layers up by name.
    """
    from .big_svg import svg_bytes

    levels = max_depth(full)
    depths: list[int | None] = [*range(levels), None] if levels else [None]
    opts = options.replace(dpi=None, show_layer_names=True)
    return {_view_label(d): svg_bytes(collapse_to_depth(full, d), opts).decode("utf-8") for d in depths}


def graph_to_page(
    full: Graph, options: DrawOptions | None = None, *, start_depth: int | None = None, title: str | None = None
) -> str:
    """The interactive page of ``full`` with a view per depth, starting at ``start_depth``."""
    views = depth_views(full, options or DrawOptions())
    start = start_depth if start_depth is not None and start_depth < max_depth(full) else None
    return graph_to_html(full, views=views, title=title, initial_view=_view_label(start))


STEP_VIEW = "one box per call"


def trace_page(
    steps: Graph,
    full: Graph,
    options: DrawOptions | None = None,
    *,
    open_models: bool = False,
    title: str | None = None,
) -> str:
    """The page of a traced step: the one-box-per-call diagram first, then every architecture by depth.

    Args:
        steps: the per-call system diagram (ids are prefixed so they cannot meet ``full``'s).
        full: the merged diagram with every model's architecture as an open cluster.
        options: drawing options.
        open_models: start on the view with every architecture open instead of the per-call one.
        title: page title.
    """
    from ..ir.trace_calls import union_graph
    from .big_svg import svg_bytes

    opts = options or DrawOptions()
    renamed, both = union_graph(steps, full)
    step_svg = svg_bytes(renamed, opts.replace(dpi=None, show_layer_names=True)).decode("utf-8")
    views = {STEP_VIEW: step_svg, **depth_views(full, opts)}
    return graph_to_html(both, views=views, title=title, initial_view=_view_label(None) if open_models else STEP_VIEW)

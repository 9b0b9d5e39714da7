"""SVG of a graph too big for Graphviz, written by ganviz from the compact layout, in one pass.

The document has the structure of Graphviz's SVG (``<g id="<ir id>" class="node <kind>">`` with a
``<title>``, ``<g id="edge-<i>" class="edge <kind>">`` titled ``source->target``), so the HTML
page finds boxes and edges in it as in any other drawing. Boxes are equal rectangles in the
colours of :mod:`~ganviz.render.styles` showing the title (name or class, as in the DOT drawing)
and one small line (class, output shape when asked); edges are elbowed lines that run in the gap
next to the target's row, with an open arrowhead, drawn under the boxes. A title line says that the compact layout was used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..errors import DiagramTooLargeError
from ..ir.graph import Graph, Node
from . import styles
from .big_layout import BOX_H, BOX_W, COMPACT_NODES, GAP_RANK, GAP_SLOT, CompactLayout, compact_layout, endpoints
from .labels import check_graph, cut_name, format_shapes, node_title
from .options import DrawOptions
from .quoting import html_attr, html_text

__all__ = ["compact_svg", "svg_bytes", "check_raster_size", "needs_compact"]

_PAD = 8.0
_HEAD = 34.0  # room for the title line(s) above the diagram
_TITLE_CHARS, _SMALL_CHARS = 22, 32  # what fits in a box at 10 pt and 8 pt Helvetica
_ARROW, _ARROW_HALF = 6.0, 3.0


def needs_compact(graph: Graph) -> bool:
    """True when ``graph`` has more boxes than Graphviz lays out in a few seconds (:data:`COMPACT_NODES`)."""
    return len(graph.nodes) > COMPACT_NODES


def check_raster_size(graph: Graph, fmt: str) -> None:
    """Refuse a PNG or PDF of a graph that only the compact layout can draw (it draws SVG only).

    Raises:
        DiagramTooLargeError: ``graph`` has more than :data:`COMPACT_NODES` boxes.
    """
    if needs_compact(graph):
        raise DiagramTooLargeError(
            f"{len(graph.nodes):,} boxes is too many for {fmt.upper()} (at most {COMPACT_NODES:,}); "
            "write .svg or .html instead (a compact layout), or draw fewer boxes with --depth "
            "(depth= in Python) or without --expand-nested"
        )


def svg_bytes(graph: Graph, options: DrawOptions) -> bytes:
    """The SVG of ``graph``: Graphviz's layout, or the compact one above :data:`COMPACT_NODES` boxes."""
    if needs_compact(graph):
        return "".join(compact_svg(graph, options)).encode("utf-8")
    from .backend import render_dot
    from .dot import graph_to_dot

    return render_dot(graph_to_dot(graph, options), "svg", dpi=options.dpi)


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _box(i: int, node: Node, lay: CompactLayout, opts: DrawOptions) -> str:
    style = styles.node_style(node.kind)
    x, y = lay.x[i], lay.y[i]
    fill = style.fill if node.trainable else styles.FROZEN.fill
    dash = "" if node.trainable else ' stroke-dasharray="4,2"'
    round_ = ' rx="6"' if "rounded" in style.border_style or not style.table else ""
    name, cls = node_title(node, opts)
    small = [cls] if name and cls else []
    if opts.show_shapes and node.output_shapes:
        small.append(format_shapes(node.output_shapes[:1]))
    head = html_text(cut_name(name or cls or node.id, _TITLE_CHARS))
    cx = _f(x + BOX_W / 2)
    classes = node.kind + ("" if node.trainable else " frozen")
    parts = [
        f'<g id="{html_attr(node.id)}" class="node {html_attr(classes)}"><title>{html_text(node.id)}</title>',
        f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(BOX_W)}" height="{_f(BOX_H)}"{round_} fill="{fill}" '
        f'stroke="{styles.BORDER_COLOR}" stroke-width="{style.border_width}"{dash}/>',
    ]
    if small:
        line = html_text(cut_name(" · ".join(small).replace("\n", " "), _SMALL_CHARS))
        parts.append(f'<text x="{cx}" y="{_f(y + 15)}" font-weight="bold">{head}</text>')
        parts.append(f'<text x="{cx}" y="{_f(y + 27)}" font-size="8" fill="{styles.MUTED_COLOR}">{line}</text>')
    else:
        parts.append(f'<text x="{cx}" y="{_f(y + 21)}" font-weight="bold">{head}</text>')
    return "".join(parts) + "</g>\n"


def _route(sx: float, sy: float, tx: float, ty: float, w: float, h: float) -> list[tuple[float, float]]:
    """The corners of an edge from the box at (sx, sy) to the box at (tx, ty), ranks running down.

    The edge leaves its box, runs along the gap next to the target's row and enters the target
    straight: the edges of a wide fan share one line along each row instead of crossing boxes. An
    edge that skips rows first steps into the gap beside its source, so it is not hidden behind
    the boxes between.
    """
    if ty == sy:  # side by side in one row
        y = sy + h / 2
        return [(sx + w, y), (tx, y)] if tx > sx else [(sx, y), (tx + w, y)]
    down = ty > sy
    x1, x2 = sx + w / 2, tx + w / 2
    y1, y2 = (sy + h, ty) if down else (sy, ty + h)
    half = GAP_RANK / 2 if down else -GAP_RANK / 2
    bend = y2 - half
    if abs(y2 - y1) <= GAP_RANK + 1:  # the next row
        return [(x1, y1), (x1, bend), (x2, bend), (x2, y2)]
    side = sx + w + GAP_SLOT / 2
    return [(x1, y1), (x1, y1 + half), (side, y1 + half), (side, bend), (x2, bend), (x2, y2)]


def _line(lay: CompactLayout, s: int, t: int, across: bool) -> str:
    """Path data from box ``s`` to box ``t``, with an open arrowhead at ``t``."""
    sx, sy, tx, ty = lay.x[s], lay.y[s], lay.x[t], lay.y[t]
    if s == t:  # a loop on the box's right side
        a, b = sy + BOX_H / 3, sy + 2 * BOX_H / 3
        r = sx + BOX_W
        return f"M{_f(r)},{_f(a)}C{_f(r + 18)},{_f(a - 6)} {_f(r + 18)},{_f(b + 6)} {_f(r)},{_f(b)}"
    if across:
        points = _route(sx, sy, tx, ty, BOX_W, BOX_H)
    else:  # ranks run across: route in the turned frame, then turn back
        points = [(x, y) for y, x in _route(sy, sx, ty, tx, BOX_H, BOX_W)]
    (ax, ay), (x2, y2) = points[-2], points[-1]
    length = math.hypot(x2 - ax, y2 - ay) or 1.0
    ux, uy = (x2 - ax) / length, (y2 - ay) / length
    bx, by = x2 - ux * _ARROW, y2 - uy * _ARROW
    px, py = -uy * _ARROW_HALF, ux * _ARROW_HALF
    line = "L".join(f"{_f(x)},{_f(y)}" for x, y in points)
    return f"M{line}M{_f(bx + px)},{_f(by + py)}L{_f(x2)},{_f(y2)}L{_f(bx - px)},{_f(by - py)}"


def _title(graph: Graph, lay: CompactLayout, drawn_edges: int, across: bool) -> list[str]:
    caption = graph.details.get("caption")
    first = cut_name(caption if isinstance(caption, str) and caption else graph.name).split("\n")[0]
    group = ("column" if across else "band") + ("" if lay.columns == 1 else "s")
    note = (
        f"compact layout: {len(graph.nodes):,} boxes, {drawn_edges:,} edges, {lay.layers:,} layers in "
        f"{lay.rows:,} rows and {lay.columns:,} {group} (more than {COMPACT_NODES:,} boxes: too many for Graphviz)"
    )
    if graph.clusters:
        many = len(graph.clusters)
        note += f"; {many:,} nested model{'s are' if many > 1 else ' is'} not outlined"
    return [first, note]


def compact_svg(graph: Graph, options: DrawOptions | None = None) -> Iterator[str]:
    """The SVG document of ``graph`` in the compact layout, as consecutive pieces of text.

    Linear in the size of the graph after the layout's one sort; nothing per box is kept.

    Raises:
        ValueError: an inconsistent graph (as :func:`~ganviz.render.dot.graph_to_dot`).
    """
    opts = options or DrawOptions()
    check_graph(graph)
    lay = compact_layout(graph, rankdir=opts.rankdir)
    ends = endpoints(graph)
    across = opts.rankdir in ("TB", "BT")
    width, height = lay.width + 2 * _PAD, lay.height + 2 * _PAD + _HEAD
    first, note = _title(graph, lay, len(ends), across)
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f"<!-- Generated by ganviz (compact layout) -->\n"
        f'<svg width="{_f(width)}pt" height="{_f(height)}pt" viewBox="0 0 {_f(width)} {_f(height)}" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        f'<g id="graph0" class="graph" font-family="{styles.FONT},Arial,sans-serif" font-size="10">\n'
        f"<title>{html_text(cut_name(graph.name))}</title>\n"
        f'<rect x="0" y="0" width="{_f(width)}" height="{_f(height)}" fill="white" stroke="none"/>\n'
        f'<text x="{_f(_PAD)}" y="{_f(_PAD + 11)}" font-size="12" font-weight="bold">{html_text(first)}</text>\n'
        f'<text class="compact-note" x="{_f(_PAD)}" y="{_f(_PAD + 25)}" font-size="9" '
        f'fill="{styles.MUTED_COLOR}">{html_text(note)}</text>\n'
        f'<g transform="translate({_f(_PAD)} {_f(_PAD + _HEAD)})">\n'
        f'<g fill="none" stroke="{styles.MUTED_COLOR}" stroke-width="0.8">\n'
    )
    for k, s, t in ends:
        edge = graph.edges[k]
        look = styles.edge_style(edge.kind)
        paint = "" if edge.kind == "data" else f' stroke="{look.color}" stroke-width="{look.penwidth:g}"'
        if look.style == "dashed":
            paint += ' stroke-dasharray="5,3"'
        elif look.style == "dotted":
            paint += ' stroke-dasharray="1,3"'
        label = ""
        if edge.label:
            mx, my = (lay.x[s] + lay.x[t] + BOX_W) / 2, (lay.y[s] + lay.y[t] + BOX_H) / 2
            label = (
                f'<text x="{_f(mx)}" y="{_f(my)}" font-size="8" fill="{look.color}" stroke="none">'
                f"{html_text(cut_name(edge.label, _SMALL_CHARS))}</text>"
            )
        yield (
            f'<g id="edge-{k}" class="edge {html_attr(edge.kind)}">'
            f"<title>{html_text(edge.source + '->' + edge.target)}</title>"
            f'<path{paint} d="{_line(lay, s, t, across)}"/>{label}</g>\n'
        )
    yield '</g>\n<g text-anchor="middle">\n'
    for i, node in enumerate(graph.nodes):
        yield _box(i, node, lay, opts)
    yield "</g>\n</g>\n</g>\n</svg>\n"

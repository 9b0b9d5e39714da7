"""Graph IR -> Graphviz DOT text: Keras-style layer tables, nested clusters, trace kinds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ir.graph import Cluster, Edge, Graph, Node
from . import styles
from .dot_labels import caption_label, cluster_label, legend_label, shape_label, table_label
from .labels import check_graph, cut_name
from .options import DrawOptions
from .quoting import dot_string

__all__ = ["graph_to_dot"]


def _attrs(pairs: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in pairs) + "]"


def _node_stmt(node: Node, opts: DrawOptions) -> str:
    style = styles.node_style(node.kind)
    classes = node.kind + ("" if node.trainable else " frozen")
    attrs: list[tuple[str, str]] = [("id", dot_string(node.id)), ("class", dot_string(classes))]
    if style.table:
        attrs += [("shape", "plain"), ("label", table_label(node, opts))]
    else:
        fill = style.fill if node.trainable else styles.FROZEN.fill
        base = style.border_style if "filled" in style.border_style else "filled"
        dot_style = base if node.trainable else base + ",dashed"
        attrs += [
            ("shape", style.shape),
            ("style", f'"{dot_style}"'),
            ("fillcolor", f'"{fill}"'),
            ("penwidth", str(style.border_width)),
            ("label", shape_label(node, opts)),
        ]
    return f"{dot_string(node.id)} {_attrs(attrs)};"


class _DotWriter:
    def __init__(self, graph: Graph, opts: DrawOptions) -> None:
        self.graph = graph
        self.opts = opts
        self.lines: list[str] = []
        self.nodes_in: dict[str | None, list[Node]] = {}
        self.clusters_in: dict[str | None, list[Cluster]] = {}
        for n in graph.nodes:
            self.nodes_in.setdefault(n.parent, []).append(n)
        for c in graph.clusters:
            self.clusters_in.setdefault(c.parent, []).append(c)
        self.anchor: dict[str, str] = {}  # cluster id -> a DOT node name inside it (for lhead/ltail)

    def placeholder(self, cluster: Cluster) -> str:
        return f"{cluster.id}::empty"

    def write_children(self, parent: str | None, depth: int, indent: str) -> None:
        for node in self.nodes_in.get(parent, []):
            self.lines.append(indent + _node_stmt(node, self.opts))
        for cluster in self.clusters_in.get(parent, []):
            self.write_cluster(cluster, depth, indent)

    def write_cluster(self, cluster: Cluster, depth: int, indent: str) -> None:
        look = styles.FROZEN_CLUSTER if not cluster.trainable else styles.CLUSTER_FILLS[depth % 2]
        classes = "cluster-model" + ("" if cluster.trainable else " frozen")
        self.lines.append(f"{indent}subgraph {dot_string('cluster_' + cluster.id)} {{")
        inner = indent + "  "
        attrs = [
            ("id", dot_string(cluster.id)),
            ("class", dot_string(classes)),
            ("label", '""'),
            ("style", f'"{look.style}"'),
            ("fillcolor", f'"{look.fill}"'),
            ("color", f'"{look.border}"'),
            ("penwidth", "1.2"),
        ]
        self.lines.extend(f"{inner}{k}={v};" for k, v in attrs)
        if not self._has_nodes(cluster.id):
            name = self.placeholder(cluster)
            self.lines.append(
                f'{inner}{dot_string(name)} [shape=plain, label=<<FONT POINT-SIZE="9" COLOR="#777777">(empty)</FONT>>];'
            )
        # The label is a node of its own, one rank above the cluster's first layer, so edges that
        # enter the cluster are routed around the text instead of over it.
        header = self.header(cluster)
        self.lines.append(
            f'{inner}{dot_string(header)} [id={dot_string(header)}, class="cluster-label", shape=plain, '
            f"label={cluster_label(cluster, self.opts)}];"
        )
        self.write_children(cluster.id, depth + 1, inner)
        self.lines.append(f"{indent}}}")

    @staticmethod
    def header(cluster: Cluster) -> str:
        return f"{cluster.id}::label"

    def header_edges(self) -> list[str]:
        """Invisible edges that keep each cluster's label node above its first layer."""
        return [
            f"{dot_string(self.header(c))} -> {dot_string(self.anchor_of(c.id))} [style=invis];"
            for c in self.graph.clusters
        ]

    def _has_nodes(self, cluster_id: str) -> bool:
        if self.nodes_in.get(cluster_id):
            return True
        return any(self._has_nodes(c.id) for c in self.clusters_in.get(cluster_id, []))

    def anchor_of(self, cluster_id: str) -> str:
        """The first node drawn inside a cluster (depth first), or its placeholder."""
        if cluster_id not in self.anchor:
            nodes = self.nodes_in.get(cluster_id, [])
            if nodes:
                self.anchor[cluster_id] = nodes[0].id
            else:
                subs = [c for c in self.clusters_in.get(cluster_id, []) if self._has_nodes(c.id)]
                self.anchor[cluster_id] = (
                    self.anchor_of(subs[0].id) if subs else self.placeholder(self.graph.cluster(cluster_id))
                )
        return self.anchor[cluster_id]

    def edge_stmt(self, index: int, edge: Edge, cluster_ids: set[str]) -> str:
        look = styles.edge_style(edge.kind)
        src, dst = edge.source, edge.target
        attrs: list[tuple[str, str]] = [("id", dot_string(f"edge-{index}")), ("class", dot_string(edge.kind))]
        if src in cluster_ids:
            attrs.append(("ltail", dot_string("cluster_" + src)))
            src = self.anchor_of(src)
        if dst in cluster_ids:
            attrs.append(("lhead", dot_string("cluster_" + dst)))
            dst = self.anchor_of(dst)
        if edge.kind != "data" or look.color != styles.MUTED_COLOR:
            attrs += [("color", f'"{look.color}"'), ("fontcolor", f'"{look.color}"')]
        if look.style != "solid":
            attrs.append(("style", look.style))
        if look.penwidth != 1.0:
            attrs.append(("penwidth", f"{look.penwidth:g}"))
        if not look.constraint:
            attrs.append(("constraint", "false"))
        if edge.label:
            attrs.append(("label", dot_string(" " + edge.label + " ")))
        return f"{dot_string(src)} -> {dot_string(dst)} {_attrs(attrs)};"


def graph_to_dot(
    graph: Graph,
    options: DrawOptions | None = None,
    /,
    **opts: Any,
) -> str:
    """Render ``graph`` as Graphviz DOT text (deterministic: same graph, same bytes).

    Options come as a :class:`~ganviz.render.options.DrawOptions` or as its fields by keyword;
    they have the names and meanings of ``keras.utils.plot_model``. Every node is a DOT
    node named by its IR id; nested models are ``subgraph cluster_<id>`` blocks; each node and
    cluster carries ``id="<ir id>"`` so the ``<g id>`` of the SVG maps back to the IR. Frozen
    layers and models are grey with a dashed border and a ``FROZEN`` badge. A string
    ``graph.details["caption"]``, when present, is drawn above the diagram; the lines of
    ``graph.details["legend"]`` (a traced system's key) below it, or with the caption above.

    Args:
        graph: the diagram to draw.
        options: the drawing options (defaults when omitted).
        **opts: single :class:`DrawOptions` fields (``show_shapes``, ``rankdir``, ``dpi`` ...)
            that override ``options``.

    Raises:
        TypeError: an option name that is not a :class:`DrawOptions` field.
        ValueError: an unknown ``rankdir``, a bad ``dpi`` or an inconsistent graph.

    >>> from ganviz.ir import GraphBuilder
    >>> b = GraphBuilder("m")
    >>> b.add_edge(b.add_node("x", kind="input"), b.add_node("d", class_name="Dense"))
    >>> print(graph_to_dot(b.build()).splitlines()[-2])
      "n0" -> "n1" [id="edge-0", class="data"];
    """
    draw = DrawOptions.of(options, **opts)
    check_graph(graph)
    writer = _DotWriter(graph, draw)
    cluster_ids = {c.id for c in graph.clusters}
    compound = any(e.source in cluster_ids or e.target in cluster_ids for e in graph.edges)
    gattrs = [
        ("rankdir", draw.rankdir),
        ("fontname", dot_string(styles.FONT)),
        ("fontsize", str(styles.FONT_SIZE)),
        ("bgcolor", '"white"'),
        ("nodesep", "0.3"),
        ("ranksep", "0.4"),
        ("pad", "0.15"),
    ]
    if compound:
        gattrs.append(("compound", "true"))
    if draw.dpi is not None:
        gattrs.append(("dpi", f"{draw.dpi:g}"))
    if draw.splines is not None:
        gattrs.append(("splines", draw.splines))
    max_inches = graph.details.get("max_inches")
    if isinstance(max_inches, (int, float)) and not isinstance(max_inches, bool) and max_inches > 0:
        gattrs.append(("size", f'"{max_inches:g},{max_inches:g}"'))  # scale down, never up
    caption = graph.details.get("caption")
    caption = caption if isinstance(caption, str) and caption else None
    legend = graph.details.get("legend")
    legend = [str(x) for x in legend if isinstance(x, str) and x] if isinstance(legend, (list, tuple)) else []
    if legend:  # a traced system's key, under the diagram (with the caption above it when assumed)
        gattrs += [("label", legend_label(caption, legend)), ("labelloc", "t" if caption else "b"), ("labeljust", "l")]
    elif caption:
        gattrs += [("label", caption_label(caption)), ("labelloc", "t"), ("labeljust", "l")]
    lines = writer.lines
    lines.append(f"digraph {dot_string(cut_name(graph.name))} {{")
    lines.append(f"  graph {_attrs(gattrs)};")
    lines.append(
        f"  node {_attrs([('fontname', dot_string(styles.FONT)), ('fontsize', str(styles.FONT_SIZE)), ('color', dot_string(styles.BORDER_COLOR))])};"
    )
    lines.append(
        "  edge "
        + _attrs(
            [
                ("fontname", dot_string(styles.FONT)),
                ("fontsize", str(styles.EDGE_FONT_SIZE)),
                ("color", dot_string(styles.MUTED_COLOR)),
                ("arrowsize", "0.7"),
            ]
        )
        + ";"
    )
    writer.write_children(None, 0, "  ")
    lines.extend("  " + stmt for stmt in writer.header_edges())
    for i, edge in enumerate(graph.edges):
        lines.append("  " + writer.edge_stmt(i, edge, cluster_ids))
    lines.append("}")
    return "\n".join(lines) + "\n"

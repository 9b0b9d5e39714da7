"""Graph IR -> Graphviz DOT text: Keras-style layer tables, nested clusters, trace kinds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir.graph import Cluster, Edge, Graph, Node, Shape
from . import styles
from .quoting import DotHtml, dot_html, dot_string

__all__ = [
    "RANKDIRS",
    "LabelOptions",
    "graph_to_dot",
    "check_graph",
    "format_shape",
    "format_count",
    "node_title",
    "node_facts",
    "cluster_facts",
]

RANKDIRS = ("TB", "BT", "LR", "RL")
_TABLE_KINDS_WITH_NAME = ("input", "model", "output")


@dataclass(frozen=True)
class LabelOptions:
    """What a box shows; the names and meanings are those of ``keras.utils.plot_model``."""

    show_shapes: bool = False
    show_dtype: bool = False
    show_layer_names: bool = False
    show_layer_activations: bool = False
    show_trainable: bool = False


# -- text shared by the DOT and Mermaid renderers -------------------------------------------


def format_shape(shape: Shape | None) -> str:
    """A shape as Keras prints it; ``None`` (unknown) as ``?``.

    >>> format_shape((None, 28, 28, 1)), format_shape((None,)), format_shape(()), format_shape(None)
    ('(None, 28, 28, 1)', '(None,)', '()', '?')
    """
    if shape is None:
        return "?"
    dims = ["None" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"


def _format_shapes(shapes: Sequence[Shape | None]) -> str:
    return "\n".join(format_shape(s) for s in shapes) if shapes else "?"


def format_count(n: int) -> str:
    """A parameter count with thousands separators.

    >>> format_count(1234567)
    '1,234,567'
    """
    return f"{int(n):,}"


def _params_text(params: int, trainable_params: int) -> str:
    text = f"{format_count(params)} params"
    if trainable_params != params:
        text += f" ({format_count(trainable_params)} trainable)"
    return text


def node_title(node: Node, opts: LabelOptions) -> tuple[str, str]:
    """``(name, class)`` for the header of a node; either may be empty.

    Layers follow Keras: the class name only, unless ``show_layer_names``. Inputs, outputs,
    models and trace elements always show their name.
    """
    style = styles.node_style(node.kind)
    if style.table and node.kind not in _TABLE_KINDS_WITH_NAME and not opts.show_layer_names and node.class_name:
        return "", node.class_name
    cls = node.class_name if node.class_name and node.class_name != node.name else ""
    return node.name, cls


_KINDS_WITH_WEIGHTS = ("layer", "model")  # sources, losses and inputs have no trainable state to show


def node_facts(node: Node, opts: LabelOptions) -> list[tuple[str, str]]:
    """The small ``(label, value)`` facts shown under a node's header, in a fixed order."""
    facts: list[tuple[str, str]] = []
    if opts.show_dtype and node.dtype:
        facts.append(("dtype", node.dtype))
    if opts.show_layer_activations and node.activation:
        facts.append(("activation", node.activation))
    if opts.show_trainable and node.kind in _KINDS_WITH_WEIGHTS:
        facts.append(("trainable", "yes" if node.trainable else "no"))
    if node.params:
        facts.append(("", _params_text(node.params, node.trainable_params)))
    count = node.details.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 1:
        facts.append(("", f"×{count}"))
    return facts


def _node_shapes(node: Node) -> list[tuple[str, str]]:
    cols: list[tuple[str, str]] = []
    if node.input_shapes:
        cols.append(("Input shape", _format_shapes(node.input_shapes)))
    if node.output_shapes:
        cols.append(("Output shape", _format_shapes(node.output_shapes)))
    return cols or [("Shape", "?")]


def cluster_facts(cluster: Cluster, opts: LabelOptions, *, arrow: str = "->") -> list[str]:
    """Lines under a cluster's title: parameter counts, then shapes and dtype when asked."""
    lines = [_params_text(cluster.params, cluster.trainable_params)]
    det = cluster.details
    if opts.show_shapes and ("input_shapes" in det or "output_shapes" in det):
        ins = " ".join(format_shape(_as_shape(s)) for s in det.get("input_shapes") or [])
        outs = " ".join(format_shape(_as_shape(s)) for s in det.get("output_shapes") or [])
        lines.append(f"{ins or '?'} {arrow} {outs or '?'}")
    if opts.show_dtype and det.get("dtype"):
        lines.append(f"dtype: {det['dtype']}")
    if opts.show_trainable:
        lines.append("trainable: " + ("yes" if cluster.trainable else "no"))
    return lines


def _as_shape(value: object) -> Shape | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


# -- validation -----------------------------------------------------------------------------


def check_graph(graph: Graph) -> None:
    """Raise ``ValueError`` when ids are duplicated, parents unknown or cyclic, or edges dangle."""
    node_ids = [n.id for n in graph.nodes]
    cluster_ids = [c.id for c in graph.clusters]
    seen: set[str] = set()
    for i in (*node_ids, *cluster_ids):
        if i in seen:
            raise ValueError(f"graph {graph.name!r}: id {i!r} is used twice (node and cluster ids must be unique)")
        seen.add(i)
    clusters = {c.id: c for c in graph.clusters}
    parents: list[tuple[str, str | None]] = [(n.id, n.parent) for n in graph.nodes]
    parents += [(c.id, c.parent) for c in graph.clusters]
    for item_id, parent in parents:
        if parent is not None and parent not in clusters:
            raise ValueError(f"graph {graph.name!r}: {item_id!r} has unknown parent cluster {parent!r}")
    for c in graph.clusters:
        cur: str | None = c.parent
        for _ in range(len(clusters) + 1):
            if cur is None:
                break
            if cur == c.id:
                raise ValueError(f"graph {graph.name!r}: cluster {c.id!r} is nested inside itself")
            cur = clusters[cur].parent
    for e in graph.edges:
        for end in (e.source, e.target):
            if end not in seen:
                raise ValueError(
                    f"graph {graph.name!r}: edge {e.source!r} -> {e.target!r} refers to unknown id {end!r} "
                    "(edges must join node or cluster ids of the graph)"
                )


# -- DOT ------------------------------------------------------------------------------------


def _font(text: DotHtml, *, size: int | None = None, color: str | None = None, bold: bool = False) -> DotHtml:
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    inner = f"<B>{text}</B>" if bold else str(text)
    return DotHtml(f"<FONT{attrs}>{inner}</FONT>" if attrs else inner)


def _lines(text: str, align: str = "CENTER") -> DotHtml:
    return dot_html(text, br=f'<BR ALIGN="{align}"/>')


def _title_html(name: str, cls: str) -> DotHtml:
    parts = []
    if name:
        parts.append(_font(_lines(name), bold=True))
    if cls:
        cls_html = _lines(cls)
        parts.append(_font(DotHtml(f"({cls_html})" if name else cls_html), color=styles.MUTED_COLOR if name else None))
    return DotHtml(" ".join(parts))


def _badge() -> str:
    return (
        f'<TD BGCOLOR="{styles.BADGE_FILL}" CELLPADDING="2">'
        f'<FONT COLOR="{styles.BADGE_TEXT}" POINT-SIZE="{styles.SMALL_FONT_SIZE - 1}"><B>FROZEN</B></FONT></TD>'
    )


def _table_label(node: Node, opts: LabelOptions) -> str:
    style = styles.node_style(node.kind)
    frozen = not node.trainable
    head_fill = styles.FROZEN.fill if frozen else style.fill
    border = "dashed" if frozen else style.border_style
    # A rounded table is filled whole: a coloured header cell would poke out of the round corners.
    body_fill = styles.FROZEN_BODY if frozen else (style.fill if border == "rounded" else "#FFFFFF")
    table_style = f' STYLE="{border}"' if border in ("rounded", "dashed") else ""
    name, cls = node_title(node, opts)
    head_bg = "" if border == "rounded" else f' BGCOLOR="{head_fill}"'
    head = f'<TD{head_bg} CELLPADDING="4">{_title_html(name, cls)}</TD>'
    if frozen:
        head = (
            f'<TD BGCOLOR="{head_fill}" CELLPADDING="0"><TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">'
            f"<TR>{head}<TD>  </TD>{_badge()}</TR></TABLE></TD>"
        )
    rows = [f"<TR>{head}</TR>"]
    if opts.show_shapes:
        cols = _node_shapes(node)
        divider = ['<TD SIDES="R" BORDER="1">' if i < len(cols) - 1 else "<TD>" for i in range(len(cols))]
        heads = "".join(
            f"{td}{_font(dot_html(label), size=styles.SMALL_FONT_SIZE, color=styles.MUTED_COLOR)}</TD>"
            for td, (label, _) in zip(divider, cols)
        )
        values = "".join(f"{td}{_lines(value)}</TD>" for td, (_, value) in zip(divider, cols))
        inner = (
            f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" COLOR="{styles.BORDER_COLOR}">'
            f"<TR>{heads}</TR><TR>{values}</TR></TABLE>"
        )
        rows.append(f'<TR><TD SIDES="T" BORDER="1" CELLPADDING="0">{inner}</TD></TR>')
    facts = node_facts(node, opts)
    if facts:
        text = "\n".join(f"{k}: {v}" if k else v for k, v in facts)
        small = _font(_lines(text, "LEFT"), size=styles.SMALL_FONT_SIZE)
        rows.append(f'<TR><TD SIDES="T" BORDER="1" ALIGN="LEFT" BALIGN="LEFT">{small}</TD></TR>')
    return (
        f'<<TABLE BORDER="{style.border_width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" '
        f'COLOR="{styles.BORDER_COLOR}" BGCOLOR="{body_fill}"{table_style}>{"".join(rows)}</TABLE>>'
    )


def _shape_label(node: Node, opts: LabelOptions) -> str:
    name, cls = node_title(node, opts)
    lines = [str(_font(_lines(name or cls), bold=True))]
    small: list[str] = []
    if cls and name:
        small.append(cls)
    if opts.show_shapes and (node.output_shapes or node.input_shapes):
        small.append(_format_shapes(node.output_shapes or node.input_shapes))
    small.extend(f"{k}: {v}" if k else v for k, v in node_facts(node, opts))
    if small:
        lines.append(str(_font(_lines("\n".join(small)), size=styles.SMALL_FONT_SIZE)))
    return "<" + "<BR/>".join(lines) + ">"


def _attrs(pairs: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in pairs) + "]"


def _node_stmt(node: Node, opts: LabelOptions) -> str:
    style = styles.node_style(node.kind)
    classes = node.kind + ("" if node.trainable else " frozen")
    attrs: list[tuple[str, str]] = [("id", dot_string(node.id)), ("class", dot_string(classes))]
    if style.table:
        attrs += [("shape", "plain"), ("label", _table_label(node, opts))]
    else:
        fill = style.fill if node.trainable else styles.FROZEN.fill
        dot_style = "filled" if node.trainable else "filled,dashed"
        attrs += [
            ("shape", style.shape),
            ("style", f'"{dot_style}"'),
            ("fillcolor", f'"{fill}"'),
            ("penwidth", str(style.border_width)),
            ("label", _shape_label(node, opts)),
        ]
    return f"{dot_string(node.id)} {_attrs(attrs)};"


def _cluster_label(cluster: Cluster, opts: LabelOptions) -> str:
    title = _title_html(cluster.name, cluster.class_name if cluster.class_name != cluster.name else "")
    badge = _badge() if not cluster.trainable else ""
    facts = _font(_lines("\n".join(cluster_facts(cluster, opts)), "LEFT"), size=styles.SMALL_FONT_SIZE)
    span = ' COLSPAN="3"' if badge else ""
    gap = "<TD>  </TD>" if badge else ""
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f'<TR><TD ALIGN="LEFT">{title}</TD>{gap}{badge}</TR>'
        f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"{span}>{facts}</TD></TR></TABLE>>'
    )


class _DotWriter:
    def __init__(self, graph: Graph, opts: LabelOptions) -> None:
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
            f"label={_cluster_label(cluster, self.opts)}];"
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
    *,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    dpi: int | float | None = None,
) -> str:
    """Render ``graph`` as Graphviz DOT text (deterministic: same graph, same bytes).

    Options have the names and meanings of ``keras.utils.plot_model``. Every node is a DOT
    node named by its IR id; nested models are ``subgraph cluster_<id>`` blocks; each node and
    cluster carries ``id="<ir id>"`` so the ``<g id>`` of the SVG maps back to the IR. Frozen
    layers and models are grey with a dashed border and a ``FROZEN`` badge. A string
    ``graph.details["caption"]``, when present, is drawn above the diagram.

    Args:
        graph: the diagram to draw.
        show_shapes: show input and output shapes of every layer.
        show_dtype: show the output dtype.
        show_layer_names: show layer names (layers otherwise show their class, as in Keras).
        rankdir: ``"TB"`` (top to bottom), ``"BT"``, ``"LR"`` or ``"RL"``.
        show_layer_activations: show the activation of layers that have one.
        show_trainable: show whether each layer and nested model is trainable.
        dpi: resolution written into the graph (used for PNG/PDF), or ``None``.

    Raises:
        ValueError: an unknown ``rankdir``, a bad ``dpi`` or an inconsistent graph.

    >>> from ganviz.ir import GraphBuilder
    >>> b = GraphBuilder("m")
    >>> b.add_edge(b.add_node("x", kind="input"), b.add_node("d", class_name="Dense"))
    >>> print(graph_to_dot(b.build()).splitlines()[-2])
      "n0" -> "n1" [id="edge-0", class="data"];
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"unknown rankdir {rankdir!r} (must be one of {list(RANKDIRS)})")
    if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 1 <= dpi <= 2400):
        raise ValueError(f"dpi must be a number between 1 and 2400 or None, got {dpi!r}")
    check_graph(graph)
    opts = LabelOptions(show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    writer = _DotWriter(graph, opts)
    cluster_ids = {c.id for c in graph.clusters}
    compound = any(e.source in cluster_ids or e.target in cluster_ids for e in graph.edges)
    gattrs = [
        ("rankdir", rankdir),
        ("fontname", dot_string(styles.FONT)),
        ("fontsize", str(styles.FONT_SIZE)),
        ("bgcolor", '"white"'),
        ("nodesep", "0.3"),
        ("ranksep", "0.4"),
        ("pad", "0.15"),
    ]
    if compound:
        gattrs.append(("compound", "true"))
    if dpi is not None:
        gattrs.append(("dpi", f"{dpi:g}"))
    caption = graph.details.get("caption")
    if isinstance(caption, str) and caption:
        gattrs += [("label", f"<{_font(_lines(caption), bold=True)}>"), ("labelloc", "t"), ("labeljust", "l")]
    lines = writer.lines
    lines.append(f"digraph {dot_string(graph.name)} {{")
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

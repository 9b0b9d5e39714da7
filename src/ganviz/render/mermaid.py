"""Graph IR -> Mermaid flowchart text: subgraphs for nested models, one classDef per kind."""

from __future__ import annotations

from typing import Any

from ..ir.graph import Cluster, Graph, Node
from . import styles
from .labels import check_graph, cluster_facts, format_shape, node_facts, node_title
from .options import DrawOptions
from .quoting import mermaid_text, safe_id

__all__ = ["graph_to_mermaid"]


def _node_text(node: Node, opts: DrawOptions) -> str:
    name, cls = node_title(node, opts)
    lines = [f"{name} ({cls})" if name and cls else name or cls]
    if not node.trainable:
        lines[0] += " [frozen]"
    if opts.show_shapes:
        ins = ", ".join(format_shape(s) for s in node.input_shapes)
        outs = ", ".join(format_shape(s) for s in node.output_shapes)
        if ins and outs and styles.node_style(node.kind).table:
            lines.append(f"{ins} → {outs}")
        elif ins or outs:
            lines.append(outs or ins)
    lines.extend(f"{k}: {v}" if k else v for k, v in node_facts(node, opts))
    return "\n".join(lines)


def _cluster_text(cluster: Cluster, opts: DrawOptions) -> str:
    cls = cluster.class_name if cluster.class_name and cluster.class_name != cluster.name else ""
    title = f"{cluster.name} ({cls})" if cls else cluster.name
    if not cluster.trainable:
        title += " [frozen]"
    return "\n".join([title, *cluster_facts(cluster, opts, arrow="→")])


def _style_key(kind: str) -> str:
    return kind if kind in styles.NODE_STYLES else "layer"


def graph_to_mermaid(
    graph: Graph,
    options: DrawOptions | None = None,
    /,
    **opts: Any,
) -> str:
    """Render ``graph`` as a Mermaid flowchart (deterministic; ``dpi`` is accepted and ignored).

    Options mean what they mean for :func:`ganviz.render.dot.graph_to_dot`. Nested models
    become ``subgraph`` blocks; node kinds become ``classDef`` classes (``frozen`` for frozen
    layers); gradient edges are dotted and update edges thick. Node ids are the IR ids when they
    are plain identifiers, else :func:`ganviz.render.quoting.safe_id` of them.

    >>> from ganviz.ir import GraphBuilder
    >>> b = GraphBuilder("m")
    >>> b.add_edge(b.add_node("x", kind="input"), b.add_node("d", class_name="Dense"))
    >>> print(graph_to_mermaid(b.build()))  # doctest: +NORMALIZE_WHITESPACE
    flowchart TB
      n0(["x"])
      n1["Dense"]
      n0 --> n1
      classDef input fill:#99DDFF,stroke:#333333,color:#000000
      classDef layer fill:#77AADD,stroke:#333333,color:#000000
      class n0 input
      class n1 layer
    """
    draw = DrawOptions.of(options, **opts)  # dpi means nothing to Mermaid
    check_graph(graph)
    nodes_in: dict[str | None, list[Node]] = {}
    clusters_in: dict[str | None, list[Cluster]] = {}
    for n in graph.nodes:
        nodes_in.setdefault(n.parent, []).append(n)
    for c in graph.clusters:
        clusters_in.setdefault(c.parent, []).append(c)

    lines = [f"flowchart {draw.rankdir}"]
    cluster_styles: list[str] = []

    def write(parent: str | None, depth: int, indent: str) -> None:
        for node in nodes_in.get(parent, []):
            open_, close = styles.node_style(node.kind).mermaid
            lines.append(f'{indent}{safe_id(node.id)}{open_}"{mermaid_text(_node_text(node, draw))}"{close}')
        for cluster in clusters_in.get(parent, []):
            cid = safe_id(cluster.id)
            lines.append(f'{indent}subgraph {cid} ["{mermaid_text(_cluster_text(cluster, draw))}"]')
            write(cluster.id, depth + 1, indent + "  ")
            lines.append(f"{indent}end")
            look = styles.FROZEN_CLUSTER if not cluster.trainable else styles.CLUSTER_FILLS[depth % 2]
            dash = ",stroke-dasharray:5 3" if not cluster.trainable else ""
            cluster_styles.append(f"style {cid} fill:{look.mermaid_fill},stroke:{look.border}{dash}")

    write(None, 0, "  ")
    link_styles: list[str] = []
    for i, edge in enumerate(graph.edges):
        look = styles.edge_style(edge.kind)
        label = f'|"{mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {safe_id(edge.source)} {look.mermaid_arrow}{label} {safe_id(edge.target)}")
        if edge.kind in ("gradient", "update"):
            link_styles.append(f"linkStyle {i} stroke:{look.color},color:{look.color}")
    lines.extend("  " + s for s in (*cluster_styles, *link_styles))

    members: dict[str, list[str]] = {}
    for node in graph.nodes:
        key = _style_key(node.kind) if node.trainable else "frozen"
        members.setdefault(key, []).append(safe_id(node.id))
    for key in [*styles.NODE_STYLES, "frozen"]:
        if key in members:
            kind_look = styles.FROZEN if key == "frozen" else styles.NODE_STYLES[key]
            dash = ",stroke-dasharray:5 3" if key == "frozen" else ""
            lines.append(f"  classDef {key} fill:{kind_look.fill},stroke:{styles.BORDER_COLOR},color:#000000{dash}")
    for key in [*styles.NODE_STYLES, "frozen"]:
        if key in members:
            lines.append(f"  class {','.join(members[key])} {key}")
    return "\n".join(lines) + "\n"

"""Pure Graph -> Graph transforms: collapse nested models beyond a depth."""

from __future__ import annotations

from .graph import Cluster, Edge, Graph, Node

__all__ = ["check_depth", "collapse_to_depth", "cluster_depths", "depth_for", "max_depth", "view"]


def check_depth(depth: object) -> None:
    """Raise ``ValueError`` unless ``depth`` is ``None`` or an integer >= 0 (``bool`` is refused).

    >>> check_depth(None), check_depth(2)
    (None, None)
    >>> check_depth(-1)
    Traceback (most recent call last):
    ...
    ValueError: depth must be None or an integer >= 0, got -1
    """
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be None or an integer >= 0, got {depth!r}")


def cluster_depths(graph: Graph) -> dict[str, int]:
    """Depth of each cluster: 0 for a top-level nested model, 1 inside it, and so on.

    A cluster whose parent is not in the graph counts as top-level.
    """
    by_id = {c.id: c for c in graph.clusters}
    depths: dict[str, int] = {}

    def depth_of(cid: str) -> int:
        if cid not in depths:
            parent = by_id[cid].parent
            depths[cid] = 0 if parent is None or parent not in by_id else depth_of(parent) + 1
        return depths[cid]

    for c in graph.clusters:
        depth_of(c.id)
    return depths


def max_depth(graph: Graph) -> int:
    """Number of nesting levels in ``graph`` (0 when it has no nested models)."""
    depths = cluster_depths(graph)
    return max(depths.values()) + 1 if depths else 0


def _collapsed_node(cluster: Cluster) -> Node:
    det = dict(cluster.details)
    ins = det.pop("input_shapes", ())
    outs = det.pop("output_shapes", ())
    return Node(
        id=cluster.id,
        name=cluster.name,
        kind="model",
        class_name=cluster.class_name,
        parent=cluster.parent,
        input_shapes=tuple(tuple(s) if s is not None else None for s in ins),
        output_shapes=tuple(tuple(s) if s is not None else None for s in outs),
        dtype=det.pop("dtype", None),
        params=cluster.params,
        trainable_params=cluster.trainable_params,
        trainable=cluster.trainable,
        details=det,
    )


def collapse_to_depth(graph: Graph, depth: int | None) -> Graph:
    """Keep ``depth`` levels of nested models open; draw deeper ones as single ``model`` nodes.

    ``depth=None`` keeps everything open; ``depth=0`` collapses every nested model.
    Edges are re-attached to the collapsed node; edges inside a collapsed model disappear and
    duplicates are merged, so the result is still a valid graph.

    >>> from ganviz.ir.graph import GraphBuilder
    >>> b = GraphBuilder("gan")
    >>> z = b.add_node("z", kind="input")
    >>> g = b.add_cluster("generator")
    >>> d1 = b.add_node("dense", parent=g)
    >>> d2 = b.add_node("dense_1", parent=g)
    >>> b.add_edge(z, d1); b.add_edge(d1, d2)
    >>> out = collapse_to_depth(b.build(), 0)
    >>> [(n.id, n.name, n.kind) for n in out.nodes], out.edge_names()
    ([('n0', 'z', 'input'), ('c0', 'generator', 'model')], [('z', 'generator')])
    """
    check_depth(depth)
    if depth is None or not graph.clusters:
        return graph
    depths = cluster_depths(graph)
    by_id = {c.id: c for c in graph.clusters}

    # For each cluster, the outermost collapsed ancestor (itself included), or None if open.
    def collapsed_root(cid: str | None) -> str | None:
        root = None
        while cid in by_id:
            if depths[cid] >= depth:
                root = cid
            cid = by_id[cid].parent
        return root

    root_of_cluster = {c.id: collapsed_root(c.id) for c in graph.clusters}
    node_map: dict[str, str] = {}
    nodes: list[Node] = []
    emitted: set[str] = set()
    for n in graph.nodes:
        root = root_of_cluster.get(n.parent) if n.parent is not None else None
        if root is None:
            node_map[n.id] = n.id
            nodes.append(n)
            continue
        node_map[n.id] = root
        if root not in emitted:
            emitted.add(root)
            nodes.append(_collapsed_node(by_id[root]))
    # Collapsed clusters that held no node directly still become a node.
    for c in graph.clusters:
        if root_of_cluster[c.id] == c.id and c.id not in emitted:
            emitted.add(c.id)
            nodes.append(_collapsed_node(c))
    clusters = tuple(c for c in graph.clusters if root_of_cluster[c.id] is None)
    edges: list[Edge] = []
    seen: set[tuple[str, str, str, str | None]] = set()
    for e in graph.edges:
        s, t = node_map.get(e.source, e.source), node_map.get(e.target, e.target)
        if s == t and s != e.source:
            continue
        key = (s, t, e.kind, e.label)
        if key not in seen:
            seen.add(key)
            edges.append(Edge(s, t, e.kind, e.label))
    return Graph(graph.name, tuple(nodes), clusters, tuple(edges), dict(graph.details))


def depth_for(*, expand_nested: bool, depth: int | None) -> int | None:
    """The nesting depth to draw: ``depth`` when given, else all levels or none (``expand_nested``).

    >>> depth_for(expand_nested=False, depth=None), depth_for(expand_nested=True, depth=None)
    (0, None)
    >>> depth_for(expand_nested=False, depth=2)
    2
    """
    check_depth(depth)
    if depth is not None:
        return depth
    return None if expand_nested else 0


def view(graph: Graph, *, expand_nested: bool = True, depth: int | None = None) -> Graph:
    """The graph as drawn: nested models open down to the depth that the two options name.

    This is the one place the drawing depth is applied; extractors build every level and the
    renderers draw what they get.
    """
    return collapse_to_depth(graph, depth_for(expand_nested=expand_nested, depth=depth))

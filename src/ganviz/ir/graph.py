"""Plain-data graph IR (format ``ganviz.graph/1``): frozen nodes, clusters, edges and a builder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .records import Document, Record, mapping_field, shape_from_json, shape_to_json

__all__ = [
    "GRAPH_FORMAT",
    "NODE_KINDS",
    "EDGE_KINDS",
    "Shape",
    "Node",
    "Cluster",
    "Edge",
    "Graph",
    "GraphBuilder",
    "shape_from_json",
    "shape_to_json",
]

GRAPH_FORMAT = "ganviz.graph/1"
NODE_KINDS = ("input", "layer", "model", "output", "data", "noise", "constant", "op", "loss", "optimizer")
EDGE_KINDS = ("data", "gradient", "update")

Shape = tuple  # a tuple of int | None (None = unknown dimension); records.py writes a bare tuple as one


@dataclass(frozen=True)
class Node(Record):
    """One box of a diagram: a layer, an input/output, a collapsed model, or a trace element.

    ``details`` carries extra, kind-specific facts (a layer's config, a call count) that the
    interactive page shows; it is not part of the stable contract's required keys.
    """

    id: str
    name: str
    kind: str = "layer"
    class_name: str = ""
    parent: str | None = None
    input_shapes: tuple[Shape | None, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()
    dtype: str | None = None
    params: int = 0
    trainable_params: int = 0
    trainable: bool = True
    activation: str | None = None
    details: Mapping[str, Any] = mapping_field()

    _json_when_set = ("details",)


@dataclass(frozen=True)
class Cluster(Record):
    """A nested model drawn open: a labelled box that holds nodes and other clusters."""

    id: str
    name: str
    class_name: str = ""
    parent: str | None = None
    params: int = 0
    trainable_params: int = 0
    trainable: bool = True
    details: Mapping[str, Any] = mapping_field()

    _json_when_set = ("details",)


@dataclass(frozen=True)
class Edge(Record):
    """A directed edge between two node ids; ``kind`` is data, gradient or update."""

    source: str
    target: str
    kind: str = "data"
    label: str | None = None


@dataclass(frozen=True)
class Graph(Document):
    """An immutable diagram: nodes, clusters (nested models) and edges, in a fixed order."""

    name: str
    nodes: tuple[Node, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    edges: tuple[Edge, ...] = ()
    details: Mapping[str, Any] = mapping_field()

    _json_format = GRAPH_FORMAT
    _json_kind = "graph"
    _json_when_set = ("details",)

    # -- lookups -------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def cluster(self, cluster_id: str) -> Cluster:
        for c in self.clusters:
            if c.id == cluster_id:
                return c
        raise KeyError(cluster_id)

    def path_name(self, node_id: str) -> str:
        """The node's name qualified by its enclosing clusters, e.g. ``"generator > dense"``."""
        by_id = {c.id: c for c in self.clusters}
        node = self.node(node_id)
        parts = [node.name]
        parent = node.parent
        while parent is not None:
            c = by_id[parent]
            parts.append(c.name)
            parent = c.parent
        return " > ".join(reversed(parts))

    def edge_names(self) -> list[tuple[str, str]]:
        """Edges as (source path name, target path name) pairs, in order (handy for tests)."""
        return [(self.path_name(e.source), self.path_name(e.target)) for e in self.edges]

    def children(self, cluster_id: str | None) -> tuple[list[Node], list[Cluster]]:
        """The nodes and clusters directly inside ``cluster_id`` (``None`` = top level)."""
        return (
            [n for n in self.nodes if n.parent == cluster_id],
            [c for c in self.clusters if c.parent == cluster_id],
        )

    @property
    def total_params(self) -> int:
        if "params" in self.details:
            return int(self.details["params"])
        return sum(n.params for n in self.nodes)


class GraphBuilder:
    """Mutable helper that hands out deterministic ids (``n0, n1 ...``, ``c0, c1 ...``).

    >>> b = GraphBuilder("m")
    >>> a = b.add_node("x", kind="input")
    >>> c = b.add_node("dense", class_name="Dense")
    >>> b.add_edge(a, c)
    >>> g = b.build()
    >>> [n.id for n in g.nodes], g.edge_names()
    (['n0', 'n1'], [('x', 'dense')])
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[Node] = []
        self.clusters: list[Cluster] = []
        self.edges: list[Edge] = []
        self.details: dict[str, Any] = {}
        self._edge_keys: set[tuple[str, str, str, str | None]] = set()

    def add_node(self, name: str, **fields: Any) -> str:
        node_id = f"n{len(self.nodes)}"
        self.nodes.append(Node(id=node_id, name=name, **fields))
        return node_id

    def add_cluster(self, name: str, **fields: Any) -> str:
        cluster_id = f"c{len(self.clusters)}"
        self.clusters.append(Cluster(id=cluster_id, name=name, **fields))
        return cluster_id

    def add_edge(self, source: str, target: str, kind: str = "data", label: str | None = None) -> None:
        """Add an edge once; an identical (source, target, kind, label) edge is not repeated."""
        key = (source, target, kind, label)
        if key not in self._edge_keys:
            self._edge_keys.add(key)
            self.edges.append(Edge(source, target, kind, label))

    def build(self) -> Graph:
        return Graph(self.name, tuple(self.nodes), tuple(self.clusters), tuple(self.edges), dict(self.details))

"""Plain-data graph IR (format ``ganviz.graph/1``): frozen nodes, clusters, edges and a builder."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

Shape = tuple  # a tuple of int | None (None = unknown dimension)


def shape_to_json(shape: Shape | None) -> list[int | None] | None:
    """Turn a shape tuple into its JSON form (a list with ``null`` for unknown dimensions).

    >>> shape_to_json((None, 28, 28, 1))
    [None, 28, 28, 1]
    >>> shape_to_json(None) is None
    True
    """
    return None if shape is None else [None if d is None else int(d) for d in shape]


def shape_from_json(value: Sequence[int | None] | None) -> Shape | None:
    """Turn a JSON shape (list with ``null``) back into a tuple.

    >>> shape_from_json([None, 28, 28, 1])
    (None, 28, 28, 1)
    >>> shape_from_json(None) is None
    True
    """
    return None if value is None else tuple(None if d is None else int(d) for d in value)


@dataclass(frozen=True)
class Node:
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
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "class_name": self.class_name,
            "parent": self.parent,
            "input_shapes": [shape_to_json(s) for s in self.input_shapes],
            "output_shapes": [shape_to_json(s) for s in self.output_shapes],
            "dtype": self.dtype,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "trainable": self.trainable,
            "activation": self.activation,
        }
        if self.details:
            d["details"] = dict(self.details)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            kind=str(d.get("kind", "layer")),
            class_name=str(d.get("class_name", "")),
            parent=d.get("parent"),
            input_shapes=tuple(shape_from_json(s) for s in d.get("input_shapes", [])),
            output_shapes=tuple(shape_from_json(s) for s in d.get("output_shapes", [])),
            dtype=d.get("dtype"),
            params=int(d.get("params", 0)),
            trainable_params=int(d.get("trainable_params", 0)),
            trainable=bool(d.get("trainable", True)),
            activation=d.get("activation"),
            details=dict(d.get("details", {})),
        )


@dataclass(frozen=True)
class Cluster:
    """A nested model drawn open: a labelled box that holds nodes and other clusters."""

    id: str
    name: str
    class_name: str = ""
    parent: str | None = None
    params: int = 0
    trainable_params: int = 0
    trainable: bool = True
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "class_name": self.class_name,
            "parent": self.parent,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "trainable": self.trainable,
        }
        if self.details:
            d["details"] = dict(self.details)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Cluster:
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            class_name=str(d.get("class_name", "")),
            parent=d.get("parent"),
            params=int(d.get("params", 0)),
            trainable_params=int(d.get("trainable_params", 0)),
            trainable=bool(d.get("trainable", True)),
            details=dict(d.get("details", {})),
        )


@dataclass(frozen=True)
class Edge:
    """A directed edge between two node ids; ``kind`` is data, gradient or update."""

    source: str
    target: str
    kind: str = "data"
    label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "kind": self.kind, "label": self.label}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Edge:
        return cls(str(d["source"]), str(d["target"]), str(d.get("kind", "data")), d.get("label"))


@dataclass(frozen=True)
class Graph:
    """An immutable diagram: nodes, clusters (nested models) and edges, in a fixed order."""

    name: str
    nodes: tuple[Node, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    edges: tuple[Edge, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

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

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": GRAPH_FORMAT,
            "name": self.name,
            "nodes": [n.to_dict() for n in self.nodes],
            "clusters": [c.to_dict() for c in self.clusters],
            "edges": [e.to_dict() for e in self.edges],
        }
        if self.details:
            d["details"] = dict(self.details)
        return d

    def to_json(self, *, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Graph:
        if d.get("format") != GRAPH_FORMAT:
            raise ValueError(f"not a ganviz graph: format is {d.get('format')!r}, expected {GRAPH_FORMAT!r}")
        return cls(
            name=str(d["name"]),
            nodes=tuple(Node.from_dict(n) for n in d.get("nodes", [])),
            clusters=tuple(Cluster.from_dict(c) for c in d.get("clusters", [])),
            edges=tuple(Edge.from_dict(e) for e in d.get("edges", [])),
            details=dict(d.get("details", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> Graph:
        return cls.from_dict(json.loads(text))


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

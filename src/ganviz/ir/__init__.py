"""The graph IR: plain frozen dataclasses, JSON (de)serialisation and pure transforms."""

from .graph import GRAPH_FORMAT, Cluster, Edge, Graph, GraphBuilder, Node
from .trace import *  # noqa: F403 - the traced step's names (Trace, Call, ..., LossTerm, Fact, ...): trace.__all__
from .trace import __all__ as _TRACE_NAMES
from .transforms import collapse_to_depth, max_depth, view

__all__ = [
    "GRAPH_FORMAT",
    "Node",
    "Cluster",
    "Edge",
    "Graph",
    "GraphBuilder",
    *_TRACE_NAMES,
    "collapse_to_depth",
    "max_depth",
    "view",
]

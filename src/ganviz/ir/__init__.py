"""The graph IR: plain frozen dataclasses, JSON (de)serialisation and pure transforms."""

from .graph import GRAPH_FORMAT, Cluster, Edge, Graph, GraphBuilder, Node
from .trace import TRACE_FORMAT, Call, Loss, OptimizerInfo, Source, Trace, TraceModel, Update
from .transforms import collapse_to_depth, max_depth, view

__all__ = [
    "GRAPH_FORMAT",
    "TRACE_FORMAT",
    "Node",
    "Cluster",
    "Edge",
    "Graph",
    "GraphBuilder",
    "Trace",
    "TraceModel",
    "Source",
    "Call",
    "Loss",
    "Update",
    "OptimizerInfo",
    "collapse_to_depth",
    "max_depth",
    "view",
]

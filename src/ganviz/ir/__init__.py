"""The graph IR: plain frozen dataclasses, JSON (de)serialisation and pure transforms."""

from .graph import GRAPH_FORMAT, Cluster, Edge, Graph, GraphBuilder, Node
from .trace import TRACE_FORMAT, TRACE_FORMATS, Call, Loss, OptimizerInfo, Source, Trace, TraceModel, Update
from .trace_facts import Assignment, CompiledOutput, CompiledUpdate, LossTerm, Phase, TraceOp
from .trace_verified import Fact, Verification
from .transforms import collapse_to_depth, max_depth, view

__all__ = [
    "GRAPH_FORMAT",
    "TRACE_FORMAT",
    "TRACE_FORMATS",
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
    "LossTerm",
    "TraceOp",
    "Assignment",
    "Phase",
    "Fact",
    "Verification",
    "CompiledOutput",
    "CompiledUpdate",
    "collapse_to_depth",
    "max_depth",
    "view",
]

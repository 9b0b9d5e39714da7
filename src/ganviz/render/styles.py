"""Colours, fonts and shapes of every node and edge kind, as one data table.

Colours come from Paul Tol's colour-blind-safe "light" and "vibrant" schemes; every fill is light
enough for black text and for printing in grey, and each kind also has its own shape or border,
so a diagram stays readable without colour.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FONT",
    "FONT_SIZE",
    "SMALL_FONT_SIZE",
    "EDGE_FONT_SIZE",
    "TEXT_COLOR",
    "MUTED_COLOR",
    "BORDER_COLOR",
    "NodeStyle",
    "EdgeStyle",
    "ClusterStyle",
    "NODE_STYLES",
    "EDGE_STYLES",
    "FROZEN",
    "FROZEN_BODY",
    "BADGE_FILL",
    "BADGE_TEXT",
    "CLUSTER_FILLS",
    "FROZEN_CLUSTER",
    "node_style",
    "edge_style",
]

FONT = "Helvetica"  # Graphviz maps it to Arimo (graphviz-pure) or Liberation Sans / Arial
FONT_SIZE = 11
SMALL_FONT_SIZE = 9
EDGE_FONT_SIZE = 9
TEXT_COLOR = "#000000"
MUTED_COLOR = "#444444"
BORDER_COLOR = "#333333"


@dataclass(frozen=True)
class NodeStyle:
    """How one node kind looks.

    ``table`` kinds (layers, inputs, models) are drawn as Keras-like tables with a coloured
    header; the others are Graphviz shapes with a centred label. ``mermaid`` holds the opening and
    closing brackets of the Mermaid shape.
    """

    fill: str
    table: bool
    shape: str  # DOT shape for non-table kinds (table kinds use shape=plain)
    mermaid: tuple[str, str]
    border_style: str = "solid"  # "solid", "rounded" or "dashed" (table kinds), DOT style word otherwise
    border_width: int = 1
    description: str = ""


@dataclass(frozen=True)
class EdgeStyle:
    """How one edge kind looks; ``constraint=False`` keeps feedback edges out of the ranking."""

    color: str
    style: str  # DOT style: solid, dashed, bold, dotted
    penwidth: float
    constraint: bool
    mermaid_arrow: str  # "-->", "-.->" or "==>"
    arrowhead: str = "normal"
    description: str = ""


@dataclass(frozen=True)
class ClusterStyle:
    """How a nested-model cluster looks."""

    fill: str
    border: str
    style: str  # DOT style of the cluster, e.g. "rounded,filled"
    mermaid_fill: str


NODE_STYLES: dict[str, NodeStyle] = {
    "input": NodeStyle("#99DDFF", True, "box", ("([", "])"), "rounded", 1, "model input"),
    "layer": NodeStyle("#77AADD", True, "box", ("[", "]"), "solid", 1, "layer"),
    "model": NodeStyle("#44BB99", True, "box", ("[[", "]]"), "solid", 2, "nested model (collapsed)"),
    "output": NodeStyle("#BBCC33", True, "box", ("([", "])"), "rounded", 1, "model output"),
    "data": NodeStyle("#99DDFF", False, "cylinder", ("[(", ")]"), "filled", 1, "real data batch"),
    "noise": NodeStyle("#EEDD88", False, "parallelogram", ("[/", "/]"), "filled", 1, "random noise"),
    "constant": NodeStyle("#FFAABB", False, "note", (">", "]"), "filled", 1, "constant / labels"),
    "op": NodeStyle("#FFFFFF", False, "ellipse", ("(", ")"), "filled", 1, "operation"),
    "loss": NodeStyle("#EE8866", False, "octagon", ("{{", "}}"), "filled", 2, "loss"),
    "optimizer": NodeStyle("#AAAA00", False, "hexagon", ("[\\", "\\]"), "filled", 1, "optimizer"),
    "term": NodeStyle("#FFDDCC", False, "box", ("(", ")"), "rounded,filled", 1, "one weighted term of a loss"),
    "variable": NodeStyle("#DDCCEE", False, "box3d", ("[(", ")]"), "filled", 1, "a variable the step assigns"),
}

EDGE_STYLES: dict[str, EdgeStyle] = {
    "data": EdgeStyle(MUTED_COLOR, "solid", 1.0, True, "-->", "normal", "data flow"),
    "gradient": EdgeStyle("#CC3311", "dashed", 1.4, False, "-.->", "normal", "gradients of a loss"),
    "update": EdgeStyle("#0077BB", "bold", 1.6, True, "==>", "normal", "optimizer update"),
    "assign": EdgeStyle(
        "#AA3377", "dotted", 1.6, False, "-.->", "normal", "assignment without an optimizer (EMA, copy)"
    ),
}

# Frozen (non-trainable) layers and models: grey, dashed border and a dark "FROZEN" badge.
FROZEN = NodeStyle("#DDDDDD", True, "box", ("[", "]"), "dashed", 1, "frozen (not trainable)")
FROZEN_BODY = "#F2F2F2"
BADGE_FILL = "#333333"
BADGE_TEXT = "#FFFFFF"

# Open clusters alternate two pale fills by depth so nesting stays visible.
CLUSTER_FILLS = (
    ClusterStyle("#F4F8FB", "#4477AA", "rounded,filled", "#F4F8FB"),
    ClusterStyle("#FFFFFF", "#4477AA", "rounded,filled", "#FFFFFF"),
)
FROZEN_CLUSTER = ClusterStyle("#E8E8E8", "#555555", "rounded,filled,dashed", "#E8E8E8")


def node_style(kind: str) -> NodeStyle:
    """The style of a node kind; an unknown kind is drawn like a layer.

    >>> node_style("loss").shape
    'octagon'
    >>> node_style("something-new") is NODE_STYLES["layer"]
    True
    """
    return NODE_STYLES.get(kind, NODE_STYLES["layer"])


def edge_style(kind: str) -> EdgeStyle:
    """The style of an edge kind; an unknown kind is drawn like a data edge.

    >>> edge_style("gradient").style
    'dashed'
    """
    return EDGE_STYLES.get(kind, EDGE_STYLES["data"])

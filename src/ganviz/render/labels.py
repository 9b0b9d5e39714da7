"""Text both renderers show: node titles and facts, shapes, parameter counts, option checks."""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.graph import Cluster, Graph, Node, Shape
from . import styles
from .options import DrawOptions

__all__ = [
    "check_graph",
    "format_shape",
    "format_shapes",
    "format_count",
    "node_title",
    "node_facts",
    "node_shapes",
    "cluster_facts",
]

_TABLE_KINDS_WITH_NAME = ("input", "model", "output")
_KINDS_WITH_WEIGHTS = ("layer", "model")  # sources, losses and inputs have no trainable state to show


def format_shape(shape: Shape | None) -> str:
    """A shape as Keras prints it; ``None`` (unknown) as ``?``.

    >>> format_shape((None, 28, 28, 1)), format_shape((None,)), format_shape(()), format_shape(None)
    ('(None, 28, 28, 1)', '(None,)', '()', '?')
    """
    if shape is None:
        return "?"
    dims = ["None" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"


def format_shapes(shapes: Sequence[Shape | None]) -> str:
    """Several shapes, one a line; ``?`` when there are none."""
    return "\n".join(format_shape(s) for s in shapes) if shapes else "?"


def format_count(n: int) -> str:
    """A parameter count with thousands separators.

    >>> format_count(1234567)
    '1,234,567'
    """
    return f"{int(n):,}"


MAX_NAME_CHARS = 120  # longer names are cut in drawings (the HTML page's details keep the full text)


def cut_name(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, so one long name cannot break a layout.

    >>> cut_name("generator"), cut_name("x" * 10, 6)
    ('generator', 'xxxxx…')
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _params_text(params: int, trainable_params: int) -> str:
    text = f"{format_count(params)} params"
    if trainable_params != params:
        text += f" ({format_count(trainable_params)} trainable)"
    return text


def node_title(node: Node, opts: DrawOptions) -> tuple[str, str]:
    """``(name, class)`` for the header of a node; either may be empty.

    Layers follow Keras: the class name only, unless ``show_layer_names``. Inputs, outputs,
    models and trace elements always show their name.
    """
    style = styles.node_style(node.kind)
    if style.table and node.kind not in _TABLE_KINDS_WITH_NAME and not opts.show_layer_names and node.class_name:
        return "", cut_name(node.class_name)
    cls = node.class_name if node.class_name and node.class_name != node.name else ""
    return cut_name(node.name), cut_name(cls)


def node_facts(node: Node, opts: DrawOptions) -> list[tuple[str, str]]:
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


def node_shapes(node: Node) -> list[tuple[str, str]]:
    """``(heading, shapes)`` columns for a node's shape row: input and output, or ``Shape ?``."""
    cols: list[tuple[str, str]] = []
    if node.input_shapes:
        cols.append(("Input shape", format_shapes(node.input_shapes)))
    if node.output_shapes:
        cols.append(("Output shape", format_shapes(node.output_shapes)))
    return cols or [("Shape", "?")]


def cluster_facts(cluster: Cluster, opts: DrawOptions, *, arrow: str = "->") -> list[str]:
    """Lines under a cluster's title: parameter counts, then shapes and dtype when asked."""
    det = cluster.details
    if det.get("phase"):  # a phase of a traced step holds calls, not weights
        return []
    lines = [_params_text(cluster.params, cluster.trainable_params)]
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

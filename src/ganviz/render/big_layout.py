"""The compact layout: ganviz's own layered layout for graphs too big for Graphviz's ``dot``.

Graphviz's ``dot`` orders the nodes of each rank by repeated crossing reduction, which grows
faster than linearly with the width of a rank: one input feeding 4,000 layers takes seconds, and
100,000 does not finish in minutes. Above :data:`COMPACT_NODES` drawn boxes ganviz lays the graph
out itself, in O(n log n) time and O(n) memory:

1. layers: the longest path from a source, along a topological order (Kahn's algorithm; a cycle
   is broken by taking the next unplaced node in graph order); edges that do not constrain the
   ranking (gradients, assignments) are left out, as in the DOT drawing;
2. order in a layer: by the position of each node's first parent, then graph order (one sort);
3. rows: a layer wider than :data:`ROW_NODES` wraps into several rows;
4. columns: the rows are dealt into columns, top to bottom then bottom to top (a snake), so that
   the picture is about as wide as it is tall, whether the graph is a long chain or a wide fan.

Every box has the same size, so positions are plain arithmetic on (column, row, slot).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ..ir.graph import Graph
from . import styles

__all__ = [
    "COMPACT_NODES",
    "ROW_NODES",
    "BOX_W",
    "BOX_H",
    "GAP_RANK",
    "GAP_SLOT",
    "CompactLayout",
    "compact_layout",
    "endpoints",
]

COMPACT_NODES = 3000  # more drawn boxes than this: the compact layout (dot takes seconds at 4,000 fanned out)
ROW_NODES = 40  # a layer wider than this wraps into rows of this many boxes
BOX_W, BOX_H = 150.0, 34.0  # every box, in points
GAP_SLOT, GAP_RANK, GAP_COLUMN = 12.0, 30.0, 60.0  # between boxes of a row, between rows, between columns
_MIN_COLUMN_ROWS = 12  # never cut the rows into columns shorter than this


@dataclass(frozen=True)
class CompactLayout:
    """Where each node's box goes: ``x[i]``, ``y[i]`` (top left, points) for ``graph.nodes[i]``.

    ``layer[i]`` is the node's layer (its longest path from a source, once cycles are broken).
    """

    x: array[float]
    y: array[float]
    layer: array[int]
    width: float
    height: float
    layers: int
    rows: int
    columns: int


def endpoints(graph: Graph) -> list[tuple[int, int, int]]:
    """``(edge index, source node index, target node index)`` of every edge that can be drawn.

    An edge to or from a nested model's cluster is drawn to its first node (as the DOT drawing
    anchors it); an edge to an empty cluster cannot be drawn and is left out.
    """
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    parent_of = {c.id: c.parent for c in graph.clusters}
    anchor: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        cur = node.parent
        while cur is not None and cur not in anchor:  # each cluster is anchored once: linear overall
            anchor[cur] = i
            cur = parent_of.get(cur)
    out: list[tuple[int, int, int]] = []
    for k, edge in enumerate(graph.edges):
        s = index.get(edge.source, anchor.get(edge.source, -1))
        t = index.get(edge.target, anchor.get(edge.target, -1))
        if s >= 0 and t >= 0:
            out.append((k, s, t))
    return out


def _layers(n: int, graph: Graph, ends: Sequence[tuple[int, int, int]]) -> tuple[array[int], array[int]]:
    """Longest-path layer and first parent (-1 if none) of each node."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = array("i", bytes(4 * n))
    for k, s, t in ends:
        if s != t and styles.edge_style(graph.edges[k].kind).constraint:
            succ[s].append(t)
            indeg[t] += 1
    layer = array("i", bytes(4 * n))
    first = array("i", [-1]) * n
    placed = bytearray(n)
    queue = deque(i for i in range(n) if indeg[i] == 0)
    done, scan = 0, 0
    while done < n:
        if not queue:  # what is left sits on cycles: take the next unplaced node in graph order
            while placed[scan]:  # every node whose in-degree reached 0 was queued, so is placed by now
                scan += 1
            queue.append(scan)
        u = queue.popleft()
        if placed[u]:
            continue
        placed[u] = 1
        done += 1
        for v in succ[u]:
            if placed[v]:
                continue  # an edge back into what is already placed (a broken cycle)
            if layer[v] < layer[u] + 1:
                layer[v] = layer[u] + 1
            if first[v] < 0:
                first[v] = u
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    return layer, first


def compact_layout(graph: Graph, *, rankdir: str = "TB") -> CompactLayout:
    """Lay ``graph``'s nodes out on a grid of equal boxes, layered along ``rankdir``."""
    n = len(graph.nodes)
    layer, first = _layers(n, graph, endpoints(graph))
    depth = (max(layer) + 1) if n else 0
    buckets: list[list[int]] = [[] for _ in range(depth)]
    for i in range(n):
        buckets[layer[i]].append(i)
    pos = array("i", bytes(4 * n))  # place within its layer
    rows: list[tuple[int, int, int]] = []  # (layer, start, end) in the layer's order
    for lay, members in enumerate(buckets):
        members.sort(key=lambda i: (pos[first[i]] if first[i] >= 0 else -1, i))
        for p, i in enumerate(members):
            pos[i] = p
        rows.extend((lay, s, min(s + ROW_NODES, len(members))) for s in range(0, len(members), ROW_NODES))
    slots = max((e - s for _, s, e in rows), default=1)
    across = rankdir in ("TB", "BT")
    box_slot, box_rank = (BOX_W, BOX_H) if across else (BOX_H, BOX_W)
    slot_step, rank_step = box_slot + GAP_SLOT, box_rank + GAP_RANK
    column_size = slots * slot_step - GAP_SLOT + GAP_COLUMN
    # Rows per column so that the columns' total width about equals their height.
    per_column = max(_MIN_COLUMN_ROWS, math.ceil(math.sqrt(len(rows) * column_size / rank_step)))
    columns = max(1, math.ceil(len(rows) / per_column))
    used = min(per_column, len(rows))
    x, y = array("d", bytes(8 * n)), array("d", bytes(8 * n))
    for r, (lay, start, end) in enumerate(rows):
        col, down = divmod(r, per_column)
        if col % 2:
            down = used - 1 - down  # odd columns run back up: a chain snakes instead of jumping
        indent = (slots - (end - start)) * slot_step / 2  # centre a short row over a wide one
        members = buckets[lay]
        for s in range(start, end):
            slot_at = col * column_size + indent + (s - start) * slot_step
            rank_at = down * rank_step
            i = members[s]
            x[i], y[i] = (slot_at, rank_at) if across else (rank_at, slot_at)
    extent_slot = columns * column_size - GAP_COLUMN
    extent_rank = used * rank_step - GAP_RANK
    width, height = (extent_slot, extent_rank) if across else (extent_rank, extent_slot)
    if rankdir in ("BT", "RL"):  # mirror along the rank axis
        for i in range(n):
            if across:
                y[i] = height - BOX_H - y[i]
            else:
                x[i] = width - BOX_W - x[i]
    return CompactLayout(x, y, layer, max(width, 0.0), max(height, 0.0), depth, len(rows), columns)

"""The compact layout and its SVG: every box once, every edge, valid escaped XML, threshold switching."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from ganviz.errors import DiagramTooLargeError
from ganviz.ir import Graph, GraphBuilder
from ganviz.render import big_svg
from ganviz.render.big_layout import BOX_H, BOX_W, COMPACT_NODES, compact_layout
from ganviz.render.formats import render_bytes
from ganviz.render.labels import cut_name
from ganviz.render.options import DrawOptions

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ["<script>alert(1)</script>", "a & b", "quote \" and ' here", "x" * 400, "ctl\x00\x1b[31m", "]]>"]


def _fanout(n: int) -> Graph:
    b = GraphBuilder("fan & <out>")
    x = b.add_node("x", kind="input")
    for i in range(n):
        b.add_edge(x, b.add_node(HOSTILE[i % len(HOSTILE)] if i % 97 == 0 else f"r{i}", class_name="ReLU"))
    return b.build()


def _chain(n: int) -> Graph:
    b = GraphBuilder("chain")
    prev = b.add_node("x", kind="input")
    for i in range(n):
        nid = b.add_node(HOSTILE[i % len(HOSTILE)] if i % 89 == 0 else f"r{i}", class_name="Dense")
        b.add_edge(prev, nid)
        prev = nid
    return b.build()


def _random_dag(n: int, seed: int = 13) -> Graph:
    rng = random.Random(seed)
    b = GraphBuilder("dag")
    ids = [b.add_node("in", kind="input")]
    for i in range(1, n):
        ids.append(b.add_node(f"l{i}", class_name="Add", trainable=i % 5 != 0))
        for src in {rng.randrange(max(0, i - 50), i) for _ in range(rng.randint(1, 3))}:
            b.add_edge(ids[src], ids[i])
    b.add_edge(ids[-1], ids[0], kind="gradient")  # a feedback edge: drawn, not a constraint
    return b.build()


def _parse(svg: bytes) -> tuple[ET.Element, dict[str, ET.Element], dict[str, ET.Element]]:
    root = ET.fromstring(svg)
    nodes: dict[str, ET.Element] = {}
    edges: dict[str, ET.Element] = {}
    for g in root.iter(f"{SVG}g"):
        cls = (g.get("class") or "").split()
        where = nodes if cls[:1] == ["node"] else edges if cls[:1] == ["edge"] else None
        if where is not None:
            assert g.get("id") not in where, f"{g.get('id')} drawn twice"
            where[g.get("id")] = g  # type: ignore[index]
    return root, nodes, edges


@pytest.mark.parametrize("make", [_fanout, _chain, _random_dag])
def test_every_box_once_every_edge_valid_xml(make: object) -> None:
    graph = make(COMPACT_NODES + 2000)  # type: ignore[operator]
    svg = render_bytes(graph, "svg", show_layer_names=True, show_shapes=True)
    root, nodes, edges = _parse(svg)
    assert set(nodes) == {n.id for n in graph.nodes}
    assert set(edges) == {f"edge-{k}" for k in range(len(graph.edges))}
    for k, e in enumerate(graph.edges):
        assert edges[f"edge-{k}"].find(f"{SVG}title").text == f"{e.source}->{e.target}"  # type: ignore[union-attr]
    note = next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "compact-note")
    assert note and "compact layout" in note and f"{len(graph.nodes):,} boxes" in note
    # No two boxes overlap: equal boxes on a grid at distinct places, all inside the drawing.
    _, _, width, height = map(float, root.get("viewBox", "").split())
    spots = set()
    for g in nodes.values():
        rect = g.find(f"{SVG}rect")
        x, y = float(rect.get("x")), float(rect.get("y"))  # type: ignore[arg-type, union-attr]
        spots.add((x, y))
        assert 0 <= x and x + BOX_W <= width and 0 <= y and y + BOX_H <= height
    assert len(spots) == len(nodes)
    assert 0.2 < width / height < 5  # bounded aspect, whether one long chain or one wide fan


def test_hostile_names_are_escaped_and_cut() -> None:
    graph = _fanout(COMPACT_NODES + 100)
    svg = render_bytes(graph, "svg", show_layer_names=True)
    text = svg.decode("utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\x00" not in text and "\x1b" not in text
    _, nodes, _ = _parse(svg)
    heads = [t.text or "" for g in nodes.values() for t in g.iter(f"{SVG}text")]
    assert max(map(len, heads)) <= 32
    assert cut_name("x" * 400, 22) in heads  # a 400-character name is cut with an ellipsis
    assert "a &amp; b" in text and "quote &quot; and &#39; here" in text


def test_layers_are_longest_paths_and_cycles_do_not_hang() -> None:
    graph = _random_dag(4000)
    lay = compact_layout(graph)
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    best = [0] * len(graph.nodes)
    for e in graph.edges:
        if e.kind == "data":
            s, t = index[e.source], index[e.target]
            assert lay.layer[t] > lay.layer[s]
            best[t] = max(best[t], lay.layer[s] + 1)
    assert list(lay.layer) == best
    b = GraphBuilder("loop")
    a, c, d = (b.add_node(n) for n in "acd")
    b.add_edge(a, c)
    b.add_edge(c, d)
    b.add_edge(d, a)  # a data cycle: broken at the first node in graph order
    b.add_edge(c, c)
    loop = compact_layout(b.build())
    assert list(loop.layer) == [0, 1, 2]
    _, nodes, edges = _parse("".join(big_svg.compact_svg(b.build())).encode())
    assert len(nodes) == 3 and len(edges) == 4


@pytest.mark.parametrize("rankdir", ["TB", "BT", "LR", "RL"])
def test_every_direction_keeps_boxes_apart_and_inside(rankdir: str) -> None:
    graph = _random_dag(1500)
    lay = compact_layout(graph, rankdir=rankdir)
    spots = set(zip(lay.x, lay.y))
    assert len(spots) == len(graph.nodes)
    assert min(lay.x) >= 0 and max(lay.x) + BOX_W <= lay.width + 1e-6
    assert min(lay.y) >= 0 and max(lay.y) + BOX_H <= lay.height + 1e-6
    assert lay.layer[0] == 0 and lay.layer[1] == 1  # the input, and a layer fed by it
    root, nodes, edges = _parse("".join(big_svg.compact_svg(graph, DrawOptions(rankdir=rankdir))).encode())
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    note = next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "compact-note") or ""
    assert ("columns" in note) == (rankdir in ("TB", "BT"))


def test_edges_to_a_nested_model_reach_its_first_box_and_the_note_says_models_are_not_outlined() -> None:
    b = GraphBuilder("outer")
    x = b.add_node("x", kind="input")
    inner = b.add_cluster("inner")
    deeper = b.add_cluster("deeper", parent=inner)
    empty = b.add_cluster("empty")
    first = b.add_node("first", parent=deeper)
    b.add_node("second", parent=inner)
    b.add_edge(x, inner)
    b.add_edge(x, empty)  # nothing to draw it to: left out, not a crash
    graph = b.build()
    root, nodes, edges = _parse("".join(big_svg.compact_svg(graph)).encode())
    assert set(nodes) == {n.id for n in graph.nodes}
    assert set(edges) == {"edge-0"}
    path = edges["edge-0"].find(f"{SVG}path").get("d")  # type: ignore[union-attr]
    rect = nodes[first].find(f"{SVG}rect")  # type: ignore[union-attr]
    end = f"{float(rect.get('x')) + BOX_W / 2:.1f}".rstrip("0").rstrip(".")  # type: ignore[arg-type, union-attr]
    assert f"L{end}," in path  # type: ignore[operator]
    note = next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "compact-note")
    assert "3 nested models are not outlined" in (note or "")


def test_threshold_switches_between_graphviz_and_compact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(big_svg, "COMPACT_NODES", 12)
    at, above = _chain(11), _chain(12)  # 12 and 13 boxes
    assert b"compact layout" not in render_bytes(at, "svg")  # Graphviz draws it
    assert b"compact layout" in render_bytes(above, "svg")
    page = render_bytes(above, "html").decode("utf-8")
    assert "compact layout" in page and page.count('class="node ') >= 13  # the page keeps every box
    with pytest.raises(DiagramTooLargeError, match=r"13 boxes is too many for PNG .*\.svg or \.html"):
        render_bytes(above, "png")
    with pytest.raises(ValueError, match="too many for PDF"):
        render_bytes(above, "pdf")
    assert render_bytes(at, "png").startswith(b"\x89PNG")

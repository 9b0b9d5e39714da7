"""graph_to_dot: golden files, Keras option semantics, ids, clusters, trace kinds, escaping."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.render_samples import big_graph, gan_system_graph, nested_model_graph
from ganviz.ir import Cluster, Edge, Graph, GraphBuilder, Node, collapse_to_depth
from ganviz.render.backend import available_engines, render_dot
from ganviz.render.dot import graph_to_dot
from ganviz.render.quoting import clean_text

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"
FULL = {"show_shapes": True, "show_dtype": True, "show_layer_names": True}
FULL.update(show_layer_activations=True, show_trainable=True)

CASES = {
    "nested_default.dot": (nested_model_graph, {}),
    "nested_full.dot": (nested_model_graph, FULL),
    "nested_depth0_lr.dot": (lambda: collapse_to_depth(nested_model_graph(), 0), {"rankdir": "LR", "dpi": 200}),
    "gan_shapes.dot": (gan_system_graph, {"show_shapes": True}),
}


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/render/golden/<name>``; ``GANVIZ_UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / name
    if os.environ.get("GANVIZ_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"missing golden file {path}; run with GANVIZ_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (GANVIZ_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    build, opts = CASES[name]
    check_golden(name, graph_to_dot(build(), **opts))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CASES))
def test_deterministic(name: str) -> None:
    build, opts = CASES[name]
    assert graph_to_dot(build(), **opts) == graph_to_dot(build(), **opts)  # type: ignore[arg-type]


def _node_line(dot: str, node_id: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if ln.strip().startswith(f'"{node_id}" [')]
    return line


def test_every_node_and_cluster_carries_its_ir_id() -> None:
    g = nested_model_graph()
    dot = graph_to_dot(g)
    for n in g.nodes:
        assert f'id="{n.id}"' in _node_line(dot, n.id)
    for c in g.clusters:
        assert re.search(rf'subgraph "cluster_{c.id}" {{\n\s+id="{c.id}";', dot)


def test_clusters_nest_like_the_ir() -> None:
    dot = graph_to_dot(nested_model_graph())
    depth, stack, parent_of = 0, [], {}
    for line in dot.splitlines()[1:]:
        m = re.match(r'\s*subgraph "cluster_(\w+)" {', line)
        if m:
            parent_of[m.group(1)] = stack[-1] if stack else None
            stack.append(m.group(1))
            depth += 1
        elif line.strip() == "}" and stack:
            stack.pop()
    assert parent_of == {"c0": None, "c1": None, "c2": "c1"}
    assert "features" in dot and "600,000 params (0 trainable)" in dot


def test_layers_show_class_only_unless_show_layer_names() -> None:
    g = nested_model_graph()
    assert "<B>dense</B>" not in graph_to_dot(g) and "Dense" in _node_line(graph_to_dot(g), "n1")
    assert "<B>dense</B>" in graph_to_dot(g, show_layer_names=True)
    assert "<B>z</B>" in graph_to_dot(g)  # inputs always show their name


def test_options_add_their_rows() -> None:
    g = nested_model_graph()
    plain = _node_line(graph_to_dot(g), "n1")
    assert "Input shape" not in plain and "relu" not in plain and "float32" not in plain and "trainable:" not in plain
    assert "633,472 params" in plain
    full = _node_line(graph_to_dot(g, **FULL), "n1")
    for piece in ("Input shape", "(None, 100)", "Output shape", "(None, 6272)", "dtype: float32"):
        assert piece in full
    assert "activation: relu" in full and "trainable: yes" in full
    assert "25,088 params (12,544 trainable)" in graph_to_dot(g)


def test_frozen_layers_and_models_look_different() -> None:
    dot = graph_to_dot(nested_model_graph())
    frozen = _node_line(dot, "n5")
    assert "FROZEN" in frozen and 'STYLE="dashed"' in frozen and 'class="layer frozen"' in frozen
    assert "FROZEN" not in _node_line(dot, "n1")
    block = dot[dot.index('subgraph "cluster_c1"') :].split("\n")[:9]
    assert '    style="rounded,filled,dashed";' in block
    assert any("FROZEN" in line for line in block)


def test_rankdir_and_dpi() -> None:
    g = nested_model_graph()
    assert "rankdir=LR" in graph_to_dot(g, rankdir="LR")
    assert "dpi=200" in graph_to_dot(g, dpi=200) and "dpi" not in graph_to_dot(g).split("\n")[1]
    with pytest.raises(ValueError, match=r"unknown rankdir 'XY' \(must be one of \['TB', 'BT', 'LR', 'RL'\]\)"):
        graph_to_dot(g, rankdir="XY")
    with pytest.raises(ValueError, match="dpi must be"):
        graph_to_dot(g, dpi=0)


def test_trace_kinds_and_edge_kinds() -> None:
    dot = graph_to_dot(gan_system_graph())
    shapes = {"n0": "cylinder", "n1": "parallelogram", "n2": "note", "n5": "ellipse", "n6": "octagon", "n8": "hexagon"}
    for node_id, shape in shapes.items():
        assert f"shape={shape}" in _node_line(dot, node_id)
    grad = [ln for ln in dot.splitlines() if 'class="gradient"' in ln]
    assert len(grad) == 2 and all("style=dashed" in ln and "constraint=false" in ln for ln in grad)
    assert 'label=" d_optimizer (Adam, lr=0.0003) "' in grad[0]
    assert all("style=bold" in ln for ln in dot.splitlines() if 'class="update"' in ln)
    assert 'label=" ×2 "' in dot


def test_edges_to_a_cluster_use_lhead() -> None:
    b = GraphBuilder("sys")
    loss = b.add_node("loss", kind="loss")
    gen = b.add_cluster("generator", class_name="Sequential")
    empty = b.add_cluster("empty", class_name="Sequential")
    inner = b.add_node("dense", parent=gen)
    b.add_edge(inner, loss)
    b.add_edge(loss, gen, kind="gradient", label="adam")
    b.add_edge(loss, empty, kind="gradient")
    dot = graph_to_dot(b.build())
    assert "compound=true" in dot
    assert '"n0" -> "n1" [id="edge-1", class="gradient", lhead="cluster_c0"' in dot
    assert '"n0" -> "c1::empty" [id="edge-2", class="gradient", lhead="cluster_c1"' in dot


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (Graph("g", nodes=(Node("a", "a"), Node("a", "b"))), "id 'a' is used twice"),
        (Graph("g", nodes=(Node("a", "a", parent="zz"),)), "unknown parent cluster 'zz'"),
        (Graph("g", nodes=(Node("a", "a"),), edges=(Edge("a", "b"),)), "refers to unknown id 'b'"),
        (Graph("g", clusters=(Cluster("c", "c", parent="d"), Cluster("d", "d", parent="c"))), "nested inside itself"),
    ],
)
def test_inconsistent_graphs_are_refused(graph: Graph, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        graph_to_dot(graph)


def test_odd_names_are_escaped_in_the_dot_text() -> None:
    line = _node_line(graph_to_dot(nested_model_graph(), show_layer_names=True), "n7")
    assert "<B>a&quot;b&lt;c&gt;&amp;{d}|e\\n 😀</B>" in line


# -- rendered through the real backend --------------------------------------------------------

needs_engine = pytest.mark.skipif(not available_engines(), reason="no Graphviz engine installed")


def _svg_groups(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g")}


def _svg_text(group: ET.Element) -> str:
    return "\n".join(t.text or "" for t in group.iter(f"{SVG}text"))


@pytest.mark.backend
@needs_engine
@pytest.mark.parametrize("build", [nested_model_graph, gan_system_graph])
def test_svg_group_ids_map_back_to_the_ir(build) -> None:  # type: ignore[no-untyped-def]
    g = build()
    groups = _svg_groups(render_dot(graph_to_dot(g, **FULL), "svg"))
    for n in g.nodes:
        assert "node" in groups[n.id].get("class", "").split(), n.id
    for c in g.clusters:
        assert "cluster" in groups[c.id].get("class", "").split(), c.id
    assert sum(1 for k in groups if k.startswith("edge-")) == len(g.edges)


def _one_layer(name: str, label: str | None) -> Graph:
    b = GraphBuilder(name)
    x = b.add_node(name, kind="input", output_shapes=((None, 3),))
    c = b.add_cluster(name, class_name=name)
    y = b.add_node(name, class_name="Dense", parent=c, trainable=False)
    b.add_edge(x, y, label=label)
    return b.build()


NAMES = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(list('"<>&{}|\\\n\x01\x7f😀\u202e#;[]'))),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(NAMES, st.one_of(st.none(), NAMES))
def test_any_name_gives_well_formed_html_labels(name: str, label: str | None) -> None:
    dot = graph_to_dot(_one_layer(name, label), **FULL)
    for markup in re.findall(r"label=<(.*?>)>(?:\]|;|, )", dot):
        ET.fromstring(f"<x>{markup}</x>")  # Graphviz's HTML-like labels are XML
    for quoted in re.findall(r'"((?:[^"\\]|\\.)*)"', dot):
        assert "\n" not in quoted


@pytest.mark.backend
@needs_engine
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, st.one_of(st.none(), NAMES))
def test_any_name_renders_to_svg_that_contains_it(name: str, label: str | None) -> None:
    svg = render_dot(graph_to_dot(_one_layer(name, label), show_layer_names=True), "svg")
    groups = _svg_groups(svg)  # parses as XML
    text = _svg_text(groups["n0"])
    for line in clean_text(name).split("\n"):
        assert line.strip() in text
    if label is not None and clean_text(label).strip():
        edge_text = _svg_text(groups["edge-0"])
        assert clean_text(label).split("\n")[0].strip() in edge_text


@pytest.mark.backend
@pytest.mark.slow
@needs_engine
def test_a_thousand_layers_render_to_svg() -> None:
    g = big_graph(1000)
    svg = render_dot(graph_to_dot(g, show_shapes=True, show_layer_names=True), "svg")
    groups = _svg_groups(svg)
    classes = [(g_.get("class") or "").split() for g_ in groups.values()]
    assert sum(1 for c in classes if "node" in c and "cluster-label" not in c) == 1000
    assert sum(1 for c in classes if "cluster-label" in c) == sum(1 for c in classes if "cluster" in c)


def test_merged_trace_elements_show_their_count() -> None:
    g = Graph("t", nodes=(Node("s0", "noise", kind="noise", details={"count": 3}), Node("s1", "x", kind="data")))
    dot = graph_to_dot(g)
    assert "×3" in _node_line(dot, "s0") and "×" not in _node_line(dot, "s1")


def test_cluster_labels_are_nodes_above_the_first_layer() -> None:
    """A nested model's label is a node of its own, tied above its first layer, so edges route around it."""
    g = nested_model_graph()
    dot = graph_to_dot(g, show_shapes=True)
    for c in g.clusters:
        assert re.search(rf'"{c.id}::label" \[id="{c.id}::label", class="cluster-label"', dot), c.id
        assert re.search(rf'"{c.id}::label" -> "[^"]+" \[style=invis\];', dot), c.id
    # the cluster itself carries no label text any more
    assert not re.search(r"subgraph [^{]+\{\s*\n\s*id=[^\n]*\n\s*class=[^\n]*\n\s*label=<", dot)

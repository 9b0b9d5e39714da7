"""The interactive page in a real headless Chromium: drawing, details, search, views, safety."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganviz.ir import Graph, GraphBuilder, collapse_to_depth, max_depth
from ganviz.render.html import graph_to_html

pytestmark = pytest.mark.browser

# The page marks itself drawn on <html>. Waited for with a selector: a polled string predicate
# (wait_for_function) is evaluated with eval(), which the page's Content-Security-Policy blocks.
DRAWN = "html[data-gv-ready='1']"

HOSTILE = [
    "<img src=x onerror=window.__pwned=1;alert(1)>",
    "</script><script>window.__pwned=2;alert(2)</script>",
    '"><svg onload=window.__pwned=3>',
    "javascript:window.__pwned=4",
    "<!--",
]


# -- graphs and their SVG views -------------------------------------------------------------------


def gan_graph(names: list[str] | None = None) -> Graph:
    """A GAN system trace drawn whole: noise/data sources, two nested models, losses, gradients."""
    names = names or []
    b = GraphBuilder("dcgan")
    b.details.update(class_name="GAN", params=1_234_567, trainable_params=1_200_000)
    z = b.add_node("noise", kind="noise", output_shapes=((None, 128),))
    x = b.add_node("real_images", kind="data", output_shapes=((None, 28, 28, 1),))
    g = b.add_cluster("generator", class_name="Sequential", params=600_000, trainable_params=600_000)
    g1 = b.add_node(
        "dense",
        class_name="Dense",
        parent=g,
        input_shapes=((None, 128),),
        output_shapes=((None, 6272),),
        params=809_088,
        trainable_params=809_088,
        activation="relu",
        details={"config": {"units": 6272, "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform"}}},
    )
    g2 = b.add_node("reshape", class_name="Reshape", parent=g, output_shapes=((None, 7, 7, 128),))
    g3 = b.add_node("conv2d_transpose", class_name="Conv2DTranspose", parent=g, output_shapes=((None, 28, 28, 1),))
    d = b.add_cluster("discriminator", class_name="Sequential", params=400_000, trainable=False)
    d1 = b.add_node("conv2d", class_name="Conv2D", parent=d, output_shapes=((None, 14, 14, 64),), trainable=False)
    d2 = b.add_node("flatten", class_name="Flatten", parent=d, output_shapes=((None, 12544),), trainable=False)
    d3 = b.add_node("dense_1", class_name="Dense", parent=d, output_shapes=((None, 1),), trainable=False)
    dl = b.add_node("d_loss", kind="loss", class_name="BinaryCrossentropy")
    gl = b.add_node("g_loss", kind="loss", class_name="BinaryCrossentropy")
    prev = d3
    for i, name in enumerate(names):
        cfg = {"units": 4, "note": name, "nested": {"x": [name, 1]}}
        n = b.add_node(name, class_name=f"Hostile{i}{name}", parent=d, details={"config": cfg, "why": name})
        b.add_edge(prev, n)
        prev = n
    for s, t in [(z, g1), (g1, g2), (g2, g3), (g3, d1), (x, d1), (d1, d2), (d2, d3), (prev, dl), (prev, gl)]:
        b.add_edge(s, t)
    b.add_edge(dl, d1, "gradient", "d_optimizer: Adam(lr=0.0002)")
    b.add_edge(gl, g1, "gradient", "g_optimizer: Adam(lr=0.0002)")
    return b.build()


def chain_graph(n: int) -> Graph:
    """A plain chain of ``n`` Dense layers after one input."""
    b = GraphBuilder(f"chain_{n}")
    prev = b.add_node("input_layer", kind="input", class_name="InputLayer", output_shapes=((None, 32),))
    for i in range(n):
        cur = b.add_node(f"dense_{i}", class_name="Dense", output_shapes=((None, 32),), params=1056)
        b.add_edge(prev, cur)
        prev = cur
    return b.build()


_FILL = {"input": "#e0f2fe", "data": "#dcfce7", "noise": "#f3e8ff", "loss": "#fee2e2", "model": "#fef3c7"}


def _dot_fallback(graph: Graph) -> str:
    """A minimal DOT writer for tests, until ``render/dot.py`` lands (same id conventions)."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph G {", 'node [shape=box, style="rounded,filled", fillcolor="#eef2ff", fontname="Helvetica"];']

    def emit(parent: str | None) -> None:
        for c in graph.clusters:
            if c.parent == parent:
                lines.append(f"subgraph {q('cluster_' + c.id)} {{ id={q(c.id)}; label={q(c.name)}; style=rounded;")
                emit(c.id)
                lines.append("}")
        for n in graph.nodes:
            if n.parent == parent:
                shape = "ellipse" if n.kind in ("input", "data", "noise") else "box"
                label = n.name + (f"\n{n.class_name}" if n.class_name else "")
                fill = _FILL.get(n.kind, "#eef2ff")
                lines.append(f'{q(n.id)} [id={q(n.id)}, label={q(label)}, shape={shape}, fillcolor="{fill}"];')

    emit(None)
    for e in graph.edges:
        extra = ', style=dashed, color="#dc2626", constraint=false' if e.kind == "gradient" else ""
        lines.append(f"{q(e.source)} -> {q(e.target)} [label={q(e.label or '')}{extra}];")
    lines.append("}")
    return "\n".join(lines)


def render_svg(graph: Graph) -> str:
    """SVG of ``graph``: through ganviz's own DOT renderer and backend when present, else a fallback."""
    try:
        from ganviz.render.backend import render_dot
        from ganviz.render.dot import graph_to_dot
    except ImportError:
        exe = Path(sys.executable).with_name("graphviz-pure")
        cmd = [str(exe) if exe.exists() else "graphviz-pure", "-Tsvg"]
        return subprocess.run(cmd, input=_dot_fallback(graph), capture_output=True, text=True, check=True).stdout
    dot = graph_to_dot(graph, show_layer_names=True, show_shapes=True, show_trainable=True)
    return render_dot(dot, "svg").decode("utf-8")


def depth_views(graph: Graph) -> dict[str, str]:
    """One SVG per depth (shallowest first) and one with everything open."""
    views = {f"depth {d}": render_svg(collapse_to_depth(graph, d)) for d in range(max_depth(graph))}
    views["all levels"] = render_svg(graph)
    return views


# -- the browser ----------------------------------------------------------------------------------


class Opened:
    """A page opened from a file, with what it logged and requested."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", on_dialog)
        self.url = path.as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector(DRAWN, state="attached", timeout=10_000)

    def visible_names(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#gv-stage svg g.node:not(.cluster-label) text", "els => els.map(e => e.textContent)"
        )

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Opened] = []

    def _open(graph: Graph, views: dict[str, str] | None = None, **kw: Any) -> Opened:
        path = tmp_path / f"page{len(opened)}.html"
        path.write_text(graph_to_html(graph, views=views or depth_views(graph), **kw), encoding="utf-8")
        o = Opened(browser, path)
        opened.append(o)
        return o

    yield _open
    for o in opened:
        o.close()


# -- the tests --------------------------------------------------------------------------------------


def test_draws_every_layer_without_errors_or_network(open_page: Any) -> None:
    g = gan_graph()
    p = open_page(g, initial_view="all levels")
    texts = " ".join(p.visible_names())
    for n in g.nodes:
        assert n.name in texts
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == len(g.nodes)
    assert p.page.locator("#gv-stage svg g.cluster").count() == 2
    assert p.errors == []
    assert p.requests == [p.url]  # nothing else was fetched
    assert p.page.locator("#gv-legend").inner_text().count("\n") >= 3


def test_click_opens_details(open_page: Any) -> None:
    p = open_page(gan_graph(), initial_view="all levels")
    p.page.click("#gv-stage g.node#n2")  # generator > dense
    details = p.page.locator("#gv-details")
    text = details.inner_text()
    assert "dense" in text and "Dense" in text and "generator" in text
    assert "(None, 128)" in text and "(None, 6272)" in text
    assert "809,088" in text and "relu" in text and "GlorotUniform" in text
    assert p.page.locator("#gv-stage g.node#n2.gv-sel").count() == 1
    p.page.click("#gv-stage g.node#n6")  # a frozen discriminator layer
    assert "frozen" in details.inner_text()
    assert p.errors == []


def test_search_finds_and_highlights(open_page: Any) -> None:
    p = open_page(gan_graph(), initial_view="all levels")
    p.page.fill("#gv-search", "conv2d")
    assert p.page.locator("#gv-count").inner_text() == "2 matches"
    results = p.page.locator("#gv-results").inner_text()
    assert "conv2d_transpose" in results and "Conv2D" in results
    assert p.page.locator("#gv-stage g.node.gv-hit").count() == 2
    p.page.fill("#gv-search", "flatten")  # by class or name; Enter jumps to it
    p.page.press("#gv-search", "Enter")
    assert p.page.locator("#gv-stage g.node.gv-sel").get_attribute("id") == "n6"
    assert "Flatten" in p.page.locator("#gv-details").inner_text()
    p.page.fill("#gv-search", "BinaryCrossentropy")
    assert p.page.locator("#gv-count").inner_text() == "2 matches"
    assert p.errors == []


def test_views_open_and_close_nested_models(open_page: Any) -> None:
    g = gan_graph()
    p = open_page(g)  # first view: depth 0, both models closed
    inner = ["dense", "reshape", "conv2d_transpose", "conv2d", "flatten", "dense_1"]
    names = p.visible_names()
    assert not any(n in names for n in inner)
    assert "generator" in " ".join(names) and "discriminator" in " ".join(names)
    p.page.click(".gv-view:has-text('all levels')")
    names = " ".join(p.visible_names())
    assert all(n in names for n in inner)
    p.page.click(".gv-view:has-text('depth 0')")  # collapsing hides the layers again
    assert not any(n in p.visible_names() for n in inner)
    # Double-clicking a closed model opens it; its details offer to close it again.
    p.page.dblclick("#gv-stage g.node#c0")
    assert p.page.evaluate("window.ganviz.currentView()") == "all levels"
    assert "reshape" in " ".join(p.visible_names())
    p.page.click("#gv-details button:has-text('Close model')")
    assert p.page.evaluate("window.ganviz.currentView()") == "depth 0"
    # Searching for a hidden layer marks the closed model holding it; the result link opens it.
    p.page.fill("#gv-search", "reshape")
    assert p.page.locator("#gv-stage g.node#c0.gv-hit-in").count() == 1
    p.page.click("#gv-results .gv-link")
    assert p.page.locator("#gv-stage g.node#n3.gv-sel").count() == 1
    assert p.errors == []


def test_pan_and_zoom(open_page: Any) -> None:
    p = open_page(gan_graph(), initial_view="all levels")
    vb = "document.querySelector('#gv-stage svg').getAttribute('viewBox')"
    before = p.page.evaluate(vb)
    p.page.mouse.move(600, 400)
    p.page.mouse.wheel(0, -400)
    zoomed = p.page.evaluate(vb)
    assert float(zoomed.split()[2]) < float(before.split()[2])
    p.page.mouse.down()
    p.page.mouse.move(700, 450, steps=5)
    p.page.mouse.up()
    panned = p.page.evaluate(vb)
    assert panned.split()[:2] != zoomed.split()[:2] and panned.split()[2:] == zoomed.split()[2:]
    p.page.click("#gv-fit")
    assert p.page.evaluate(vb) == before
    assert p.errors == []


def test_hostile_names_run_nothing(open_page: Any) -> None:
    g = gan_graph(HOSTILE)
    p = open_page(g, initial_view="all levels", title=HOSTILE[1])
    assert p.page.evaluate("typeof window.__pwned") == "undefined"
    assert p.dialogs == []
    texts = " ".join(p.visible_names())
    for name in HOSTILE:
        assert name in texts  # drawn as text
    assert p.page.title() == HOSTILE[1]
    p.page.click("#gv-fit")  # the long chain starts zoomed in at its top; show it all to click every box
    for i, name in enumerate(HOSTILE):
        node = next(n for n in g.nodes if n.name == name)
        p.page.click(f"#gv-stage g.node#{node.id}")
        text = p.page.locator("#gv-details").inner_text()
        assert name in text and f"Hostile{i}{name}" in text
        p.page.fill("#gv-search", name)
        assert name in p.page.locator("#gv-results").inner_text()
    assert p.page.locator("#gv-panel img, #gv-panel script, #gv-panel svg").count() == 0
    assert p.page.evaluate("typeof window.__pwned") == "undefined"
    assert p.dialogs == []
    assert p.requests == [p.url]
    assert p.errors == []


def test_many_layers_draw(open_page: Any) -> None:
    # How fast the page draws is measured in benchmarks/bench_html.py, not asserted here.
    g = chain_graph(300)
    p = open_page(g, {"all levels": render_svg(g)})
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == 301
    assert p.page.evaluate("window.ganviz.drawnAt") is not None
    p.page.fill("#gv-search", "dense_299")
    p.page.press("#gv-search", "Enter")
    assert p.page.locator("#gv-stage g.node#n300.gv-sel").count() == 1
    assert p.errors == []

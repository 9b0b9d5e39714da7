"""The public API: formats by extension, errors, depth options, plot_gan, and notebook display (Diagram)."""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("keras")

import keras  # noqa: E402

from fixtures import zoo  # noqa: E402
from ganviz.api import Diagram, plot_gan, plot_model, render  # noqa: E402
from ganviz.errors import GanvizError, NotAModelError, OutputPathError, UnknownFormatError  # noqa: E402
from ganviz.ir import Graph, Trace  # noqa: E402
from ganviz.render.formats import render_bytes  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def gan() -> keras.Model:
    return zoo.build_seed_gan()


@pytest.fixture(scope="module")
def seed_models() -> tuple[keras.Model, keras.Model]:
    return zoo.build_generator(), zoo.build_discriminator()


def svg_texts(svg: str | bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


def page_data(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="gv-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


# -- every format, by extension ---------------------------------------------------------------------------


def check_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
        assert im.format == "PNG" and im.size[0] > 50 and im.size[1] > 50


def check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert "gan_input" in " ".join(svg_texts(path.read_bytes()))


def check_pdf(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def check_dot(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "digraph" in text and "gan_input" in text


def check_json(path: Path) -> None:
    g = Graph.from_json(path.read_text(encoding="utf-8"))
    assert g.name == "gan" and [n.name for n in g.nodes][0] == "gan_input"


def check_mmd(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith(("flowchart", "graph")) and "gan_input" in text


def check_html(path: Path) -> None:
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    data = page_data(page)
    assert data["graph"]["name"] == "gan" and any(n["name"] == "gan_input" for n in data["nodes"])


CHECKS = {
    ".png": check_png,
    ".svg": check_svg,
    ".pdf": check_pdf,
    ".dot": check_dot,
    ".json": check_json,
    ".mmd": check_mmd,
    ".html": check_html,
}


@pytest.mark.parametrize("ext", list(CHECKS))
def test_each_format_by_extension(gan: keras.Model, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"gan{ext}"
    diagram = plot_model(gan, to_file=out, show_shapes=True, dpi=72)
    assert isinstance(diagram, Diagram)
    assert diagram.path == out and out.is_file()
    assert Path(diagram) == out  # os.fspath works
    CHECKS[ext](out)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


# -- notebook display -------------------------------------------------------------------------------------


def test_png_diagram_shows_as_png(gan: keras.Model, tmp_path: Path) -> None:
    d = plot_model(gan, to_file=tmp_path / "m.png", dpi=72)
    bundle = d._repr_mimebundle_()
    assert isinstance(bundle["image/png"], bytes) and bundle["image/png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert bundle["image/png"] == (tmp_path / "m.png").read_bytes()
    assert "text/html" not in bundle and "gan" in bundle["text/plain"]


def test_svg_diagram_shows_as_svg(gan: keras.Model, tmp_path: Path) -> None:
    d = plot_model(gan, to_file=tmp_path / "m.svg")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert ET.fromstring(bundle["image/svg+xml"]).tag == f"{SVG_NS}svg"
    assert bundle["text/plain"] == repr(d) == f"<ganviz.Diagram 'gan' -> {str(tmp_path / 'm.svg')!r}>"


def test_other_formats_show_as_svg(gan: keras.Model, tmp_path: Path) -> None:
    for ext in (".pdf", ".json", ".dot"):
        bundle = plot_model(gan, to_file=tmp_path / f"m{ext}")._repr_mimebundle_()
        assert "gan_input" in " ".join(svg_texts(bundle["image/svg+xml"]))


def test_html_diagram_shows_the_page_in_a_sandboxed_iframe(gan: keras.Model, tmp_path: Path) -> None:
    d = plot_model(gan, to_file=tmp_path / "m.html", expand_nested=True)
    bundle = d._repr_mimebundle_()
    frame = bundle["text/html"]
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" style="[^"]*"></iframe>', frame)
    assert m is not None, frame[:200]
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert html.unescape(m.group(1)) == page  # the whole page, escaped into the attribute
    assert "<" not in m.group(1) and '"' not in m.group(1)
    assert "image/png" not in bundle


def test_png_display_falls_back_to_svg_when_the_file_is_gone(gan: keras.Model, tmp_path: Path) -> None:
    d = plot_model(gan, to_file=tmp_path / "m.png", dpi=72)
    (tmp_path / "m.png").unlink()
    assert "gan_input" in " ".join(svg_texts(d._repr_mimebundle_()["image/svg+xml"]))


# -- errors: the right class, one line, nothing overwritten ------------------------------------------------


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


def test_unknown_extension(gan: keras.Model, tmp_path: Path) -> None:
    out = tmp_path / "model.jpg"
    out.write_bytes(b"keep me")
    with pytest.raises(UnknownFormatError) as info:
        plot_model(gan, to_file=out)
    msg = _one_line(info.value)
    assert "'jpg'" in msg and "png" in msg and "html" in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, GanvizError)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(UnknownFormatError, match="no extension"):
        plot_model(gan, to_file=tmp_path / "model")


def test_unwritable_destination(gan: keras.Model, tmp_path: Path) -> None:
    with pytest.raises(OutputPathError) as info:
        plot_model(gan, to_file=tmp_path / "missing" / "m.png")
    assert "does not exist" in _one_line(info.value)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError) as info:
        plot_model(gan, to_file=blocker / "m.svg")
    _one_line(info.value)
    assert blocker.read_text() == "x"


def test_directory_named_like_a_file(gan: keras.Model, tmp_path: Path) -> None:
    folder = tmp_path / "out.png"
    folder.mkdir()
    with pytest.raises(OutputPathError) as info:
        plot_model(gan, to_file=folder)
    assert "directory" in _one_line(info.value)


@pytest.mark.parametrize("ext", [".png", ".html", ".json"])
def test_not_a_model_leaves_the_file_untouched(tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"m{ext}"
    out.write_bytes(b"old")
    for bad in (42, ["not", "a", "model"], object()):
        with pytest.raises(NotAModelError) as info:
            plot_model(bad, to_file=out)
        assert isinstance(info.value, TypeError)
        _one_line(info.value)
    assert out.read_bytes() == b"old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_options(gan: keras.Model, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(gan, to_file=tmp_path / "m.svg", rankdir="XY")
    with pytest.raises(ValueError, match="depth"):
        plot_model(gan, to_file=tmp_path / "m.svg", depth=-1)
    assert not (tmp_path / "m.svg").exists()


# -- depth and expand_nested ---------------------------------------------------------------------------


def test_expand_nested_and_depth_change_what_is_drawn(gan: keras.Model, tmp_path: Path) -> None:
    closed = plot_model(gan, to_file=tmp_path / "closed.svg")
    assert [n.name for n in closed.graph.nodes] == ["gan_input", "generator", "discriminator"]
    assert [n.kind for n in closed.graph.nodes] == ["input", "model", "model"]
    texts = svg_texts((tmp_path / "closed.svg").read_bytes())
    assert not any("LeakyReLU" in t for t in texts)

    opened = plot_model(gan, to_file=tmp_path / "open.svg", expand_nested=True)
    assert len(opened.graph.nodes) == 13 and len(opened.graph.clusters) == 2
    assert any("LeakyReLU" in t for t in svg_texts((tmp_path / "open.svg").read_bytes()))

    shut = plot_model(gan, to_file=tmp_path / "shut.json", expand_nested=True, depth=0)  # depth wins
    assert len(Graph.from_json((tmp_path / "shut.json").read_text()).nodes) == 3 == len(shut.graph.nodes)


def test_depth_on_deeper_nesting(tmp_path: Path) -> None:
    model = zoo.build_nested(3)
    counts = []
    for depth in (0, 1, 2, None):
        d = plot_model(model, to_file=tmp_path / f"d{depth}.json", depth=depth, expand_nested=depth is None)
        g = Graph.from_json((tmp_path / f"d{depth}.json").read_text())
        assert g == d.graph
        counts.append((len(g.clusters), sum(n.kind == "model" for n in g.nodes)))
    assert counts == [(0, 1), (1, 1), (2, 1), (3, 0)]


def test_html_has_one_view_per_depth_and_starts_at_the_asked_one(tmp_path: Path) -> None:
    model = zoo.build_nested(2)
    plot_model(model, to_file=tmp_path / "a.html", depth=1)
    data = page_data((tmp_path / "a.html").read_text(encoding="utf-8"))
    assert [v["label"] for v in data["views"]] == ["depth 0", "depth 1", "all levels"]
    assert data["views"][data["initial"]]["label"] == "depth 1"
    assert len(data["clusters"]) == 2  # the page always carries the whole model
    plot_model(model, to_file=tmp_path / "b.html")  # Keras's default: nested models closed
    data = page_data((tmp_path / "b.html").read_text(encoding="utf-8"))
    assert data["views"][data["initial"]]["label"] == "depth 0"


def test_html_always_draws_layer_names(gan: keras.Model, tmp_path: Path) -> None:
    plot_model(gan, to_file=tmp_path / "m.html", expand_nested=True)  # show_layer_names=False (Keras default)
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert ">leaky_re_lu_1</text>" in page and ">gan_input</text>" in page


# -- plot_gan ------------------------------------------------------------------------------------------


def test_plot_gan_assumed_loop_is_labelled(seed_models: tuple[keras.Model, keras.Model], tmp_path: Path) -> None:
    g, d = seed_models
    diagram = plot_gan(generator=g, discriminator=d, to_file=tmp_path / "gan.svg")
    assert diagram.graph.details["assumed"] is True
    texts = " ".join(svg_texts((tmp_path / "gan.svg").read_bytes()))
    assert "Assumed" in texts and "not traced" in texts
    assert "generator" in texts and "discriminator" in texts and "d_loss" in texts and "g_loss" in texts

    plot_gan(generator=g, discriminator=d, to_file=tmp_path / "gan.json")
    trace = Trace.from_json((tmp_path / "gan.json").read_text(encoding="utf-8"))
    assert trace.assumed and {m.name for m in trace.models} == {"generator", "discriminator"}

    plot_gan(generator=g, discriminator=d, to_file=tmp_path / "gan.html")
    data = page_data((tmp_path / "gan.html").read_text(encoding="utf-8"))
    assert data["graph"]["details"]["assumed"] is True
    clusters = {c["name"] for c in data["clusters"]}
    assert {"generator", "discriminator"} <= clusters  # architectures inside
    assert clusters - {"generator", "discriminator"} == {"1. update discriminator", "2. update generator"}


def test_plot_gan_traced_is_not_labelled_assumed(tmp_path: Path) -> None:
    from fixtures import gan_zoo

    entry = gan_zoo.dcgan()
    diagram = plot_gan(entry.system, to_file=tmp_path / "dcgan.svg", data=entry.data)
    assert diagram.graph.details["assumed"] is False
    assert "Assumed" not in " ".join(svg_texts((tmp_path / "dcgan.svg").read_bytes()))


@pytest.mark.parametrize(("name", "made"), [("gan.png", 1), ("gan.svg", 1), ("gan.html", 2)])
def test_plot_gan_makes_each_system_graph_once(
    seed_models: tuple[keras.Model, keras.Model], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, made: int
) -> None:
    from ganviz.ir import trace_graph

    seen: list[tuple[bool, str]] = []
    real = trace_graph.trace_to_graph

    def counting(trace: Trace, *, expand_nested: bool = False, calls: str = "separate") -> Graph:
        seen.append((expand_nested, calls))
        return real(trace, expand_nested=expand_nested, calls=calls)

    monkeypatch.setattr(trace_graph, "trace_to_graph", counting)
    plot_gan(generator=seed_models[0], discriminator=seed_models[1], to_file=tmp_path / name)
    assert len(seen) == made and len(set(seen)) == made, seen  # the page's two views: per call, and expanded


def test_plot_gan_to_no_file_returns_the_diagram(seed_models: tuple[keras.Model, keras.Model], tmp_path: Path) -> None:
    diagram = plot_gan(generator=seed_models[0], discriminator=seed_models[1], to_file=None)
    assert diagram.path is None and diagram.graph.details["assumed"] is True
    assert "<svg" in diagram._repr_mimebundle_()["image/svg+xml"]  # what Jupyter shows
    assert list(tmp_path.iterdir()) == []


def test_plot_gan_needs_models(seed_models: tuple[keras.Model, keras.Model], tmp_path: Path) -> None:
    out = tmp_path / "gan.png"
    with pytest.raises(NotAModelError) as info:
        plot_gan(to_file=out)
    assert "got neither" in _one_line(info.value)
    with pytest.raises(NotAModelError) as info:
        plot_gan(generator=seed_models[0], to_file=out)
    assert "discriminator" in _one_line(info.value)
    assert not out.exists()
    with pytest.raises(UnknownFormatError):
        plot_gan(generator=seed_models[0], discriminator=seed_models[1], to_file=tmp_path / "gan.gif")


# -- render / render_bytes ------------------------------------------------------------------------------


def test_render_a_trace_to_html_carries_the_architectures(
    seed_models: tuple[keras.Model, keras.Model], tmp_path: Path
) -> None:
    from ganviz.extract.assumed import assumed_gan_trace

    trace = assumed_gan_trace(generator=seed_models[0], discriminator=seed_models[1])
    render(trace, tmp_path / "t.html")
    data = page_data((tmp_path / "t.html").read_text(encoding="utf-8"))
    assert [v["label"] for v in data["views"]] == ["one box per call", "depth 0", "all levels"]
    assert data["views"][data["initial"]]["label"] == "one box per call"
    render(trace, tmp_path / "t2.html", expand_nested=True)
    data = page_data((tmp_path / "t2.html").read_text(encoding="utf-8"))
    assert data["views"][data["initial"]]["label"] == "all levels"


def test_render_bytes_formats_and_options(gan: keras.Model) -> None:
    from ganviz.extract.keras_model import model_to_graph

    graph = model_to_graph(gan)
    assert render_bytes(graph, "mmd") == render_bytes(graph, "mermaid")  # FORMATS names it "mmd"
    with pytest.raises(UnknownFormatError):
        render_bytes(graph, "jpg")
    with pytest.raises(TypeError, match="show_shape"):
        render_bytes(graph, "dot", show_shape=True)  # a typo is an error, not silently ignored
    from PIL import Image

    png = render_bytes(graph, "png", dpi=72)
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"

"""The interactive page made by the public API from real Keras models and a real GAN trace, in Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("keras")

import keras  # noqa: E402
from keras import layers  # noqa: E402
from test_html_browser import DRAWN, Opened  # noqa: E402

from fixtures import (
    gan_zoo,  # noqa: E402
    zoo,  # noqa: E402
)
from ganviz.api import plot_gan, plot_model  # noqa: E402
from ganviz.ir import Graph  # noqa: E402

pytestmark = pytest.mark.browser

HOSTILE_LAYERS = ["<img src=x onerror=window.__pwned=1;alert(1)>", '"><svg onload=window.__pwned=3>', "<!--"]
HOSTILE_CONFIG = "</script><script>window.__pwned=2;alert(2)</script>"


class Note(layers.Layer):
    """An identity layer whose config carries a string (to smuggle markup into the page's data)."""

    def __init__(self, note: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.note = note

    def call(self, x: Any) -> Any:
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "note": self.note}


# -- pages, each made once per module through the public API ------------------------------------------


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("html_real")


@pytest.fixture(scope="module")
def seed_html(out: Path) -> tuple[Path, keras.Model]:
    model = zoo.build_seed_gan()
    diagram = plot_model(model, to_file=out / "seed.html", show_shapes=True, expand_nested=True)
    return diagram.path, model


@pytest.fixture(scope="module")
def resnet_html(out: Path) -> tuple[Path, keras.Model]:
    model = zoo.build_resnet_nested(size=32)
    diagram = plot_model(model, to_file=out / "resnet.html", show_shapes=True, expand_nested=True)
    return diagram.path, model


@pytest.fixture(scope="module")
def cyclegan_html(out: Path) -> tuple[Path, gan_zoo.ZooEntry]:
    entry = gan_zoo.cyclegan()
    diagram = plot_gan(entry.system, to_file=out / "cyclegan.html", data=entry.data)
    return diagram.path, entry


@pytest.fixture(scope="module")
def hostile_html(out: Path) -> Path:
    x_in = keras.Input(shape=(3,), name="in")
    x = x_in
    for name in HOSTILE_LAYERS:
        x = layers.Dense(3, name=name)(x)
    x = Note(note=HOSTILE_CONFIG, name="note")(x)
    model = keras.Model(x_in, x, name="hostile")
    diagram = plot_model(model, to_file=out / "hostile.html", show_shapes=True)
    assert diagram.path is not None
    return diagram.path


@pytest.fixture
def opened(browser: Any) -> Iterator[Any]:
    pages: list[Opened] = []

    def _open(path: Path) -> Opened:
        p = Opened(browser, path)
        pages.append(p)
        return p

    yield _open
    for p in pages:
        p.close()


def page_data(p: Opened) -> dict[str, Any]:
    return json.loads(p.page.eval_on_selector("#gv-data", "e => e.textContent"))


def node_id(p: Opened, *path: str) -> str:
    """The IR id of the node or cluster at ``path`` (``"generator", "dense"``), read from the page's data."""
    data = page_data(p)
    found = [x["id"] for x in data["nodes"] + data["clusters"] if x["path"] == list(path)]
    assert len(found) == 1, (path, found)
    return found[0]


def show(p: Opened, label: str) -> None:
    p.page.click(f".gv-view:has-text('{label}')")
    assert p.page.evaluate("window.ganviz.currentView()") == label


def layer_names(model: keras.Model, *, nested: bool = False) -> set[str]:
    """Every layer name of ``model`` and its nested models (whose own InputLayers are not drawn)."""
    names: set[str] = set()
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names |= layer_names(layer, nested=True) | {layer.name}
        elif not (nested and isinstance(layer, layers.InputLayer)):
            names.add(layer.name)
    return names


# -- (a) the seed's GAN ----------------------------------------------------------------------------------


def test_seed_gan_every_layer_and_details(opened: Any, seed_html: tuple[Path, keras.Model]) -> None:
    path, model = seed_html
    p = opened(path)
    assert p.page.evaluate("window.ganviz.currentView()") == "all levels"  # expand_nested=True
    names = set(p.visible_names())
    expected = layer_names(model)
    assert {"gan_input", "generator", "discriminator", "dense", "leaky_re_lu_1", "flatten", "reshape"} <= expected
    assert expected - {"generator", "discriminator"} <= names  # layer names are drawn (shown on every page)
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == 13
    assert p.page.locator("#gv-stage svg g.cluster").count() == 2

    # A tall diagram starts readable (at its top), not shrunk to a blur.
    scale = p.page.evaluate(
        "(() => { const s = document.querySelector('#gv-stage svg');"
        " return s.clientWidth / s.viewBox.baseVal.width; })()"
    )
    assert scale >= 0.6

    dense = node_id(p, "generator", "dense")
    p.page.click(f"#gv-stage g.node#{dense}")
    text = p.page.locator("#gv-details").inner_text()
    assert "dense" in text and "Dense" in text and "generator" in text
    assert "(None, 100)" in text and "(None, 128)" in text and "12,928" in text  # shapes and params
    assert p.page.locator(f"#gv-stage g.node#{dense}.gv-sel").count() == 1

    frozen = node_id(p, "discriminator", "dense_2")
    p.page.click("#gv-fit")
    p.page.click(f"#gv-stage g.node#{frozen}")
    text = p.page.locator("#gv-details").inner_text()
    assert "frozen" in text and "(None, 128)" in text and "(None, 1)" in text and "129" in text
    assert "Frozen" in p.page.locator("#gv-legend").inner_text()
    assert p.errors == [] and p.requests == [p.url]


def test_seed_gan_search_and_depth(opened: Any, seed_html: tuple[Path, keras.Model]) -> None:
    path, _ = seed_html
    p = opened(path)
    p.page.fill("#gv-search", "leaky_re_lu_1")
    assert p.page.locator("#gv-count").inner_text() == "2 matches"  # one in each model
    assert p.page.locator("#gv-stage g.node.gv-hit").count() == 2
    p.page.press("#gv-search", "Enter")
    assert p.page.locator("#gv-stage g.node.gv-sel").get_attribute("id") == node_id(p, "generator", "leaky_re_lu_1")
    assert "LeakyReLU" in p.page.locator("#gv-details").inner_text()
    p.page.press("#gv-search", "Escape")

    inner = {"dense", "dense_1", "dense_2", "leaky_re_lu", "leaky_re_lu_1", "flatten", "reshape"}
    show(p, "depth 0")
    names = set(p.visible_names())
    assert not inner & names
    assert {"gan_input", "generator", "discriminator"} <= names
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == 3
    p.page.fill("#gv-search", "flatten")  # a hidden layer marks the closed model holding it
    assert p.page.locator(f"#gv-stage g.node#{node_id(p, 'discriminator')}.gv-hit-in").count() == 1
    show(p, "all levels")
    assert inner <= set(p.visible_names())
    assert p.errors == []


# -- (b) a nested ResNet50 -------------------------------------------------------------------------------


def test_resnet_nested_draws_searches_and_switches_depth(opened: Any, resnet_html: tuple[Path, keras.Model]) -> None:
    path, model = resnet_html
    p = opened(path)
    data = page_data(p)
    assert len(data["nodes"]) > 170 and [c["name"] for c in data["clusters"]] == ["resnet50"]
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == len(data["nodes"])
    names = set(p.visible_names())
    assert {"image", "head", "conv1_conv", "conv2_block1_1_conv", "conv5_block3_out"} <= names
    assert layer_names(model) - {"resnet50"} <= names

    convs = sum(1 for n in data["nodes"] if n["class_name"] == "Conv2D")
    assert convs == 53
    p.page.fill("#gv-search", "Conv2D")
    assert p.page.locator("#gv-count").inner_text() == f"{convs} matches"
    assert p.page.locator("#gv-stage g.node.gv-hit").count() == convs
    p.page.locator("#gv-results .gv-link").nth(5).click()  # a result link jumps to that layer
    assert p.page.locator("#gv-stage g.node.gv-sel").count() == 1
    assert "Conv2D" in p.page.locator("#gv-details").inner_text()

    show(p, "depth 0")
    assert {"image", "resnet50", "head"} <= set(p.visible_names())
    assert p.page.locator("#gv-stage svg g.node:not(.cluster-label)").count() == 3
    assert "conv1_conv" not in p.visible_names()
    assert p.page.locator("#gv-stage g.node.gv-hit-in").count() == 1  # the search now marks resnet50
    p.page.dblclick(f"#gv-stage g.node#{node_id(p, 'resnet50')}")  # double click opens it
    assert p.page.evaluate("window.ganviz.currentView()") == "all levels"
    assert "conv1_conv" in p.visible_names()
    assert p.errors == [] and p.requests == [p.url]


# -- (c) CycleGAN's trace --------------------------------------------------------------------------------


def test_cyclegan_trace_page(opened: Any, cyclegan_html: tuple[Path, gan_zoo.ZooEntry]) -> None:
    path, entry = cyclegan_html
    p = opened(path)
    assert p.page.evaluate("window.ganviz.views") == ["one box per call", "depth 0", "all levels"]
    assert p.page.evaluate("window.ganviz.currentView()") == "one box per call"  # as in the PNG
    names = set(p.visible_names())
    assert {"fake_y", "cycled_x", "same_y", "cycle_loss_G", "id_loss_F", "G_loss"} <= names
    assert p.page.locator("#gv-stage g.edge.gv-e-gradient").count() == 4
    (cycled,) = [x["id"] for x in page_data(p)["nodes"] if x["path"][-1] == "cycled_x"]  # inside its phase
    p.page.click(f"#gv-stage g.node#{cycled}")
    assert "generator_F" in (p.page.locator("#gv-details").text_content() or "")
    show(p, "depth 0")  # one box per model, closed
    names = set(p.visible_names())
    assert set(entry.models) <= names  # generator_G, generator_F, discriminator_X, discriminator_Y
    assert {"real_x", "real_y", "G_loss", "F_loss", "D_X_loss", "D_Y_loss"} <= names
    assert p.page.locator("#gv-stage g.edge.gv-e-gradient").count() == 4
    legend = p.page.locator("#gv-legend").inner_text()
    assert "Gradients" in legend and "Loss" in legend

    p.page.click(f"#gv-stage g.node#{node_id(p, 'G_loss')}")
    text = p.page.locator("#gv-details").text_content()
    assert "Loss" in text and "G_loss" in text and "Inputs from" in text and "real_y" in text
    assert "Trains" in text and "generator_G" in text and "gradients: gen_G_optimizer: Adam" in text
    assert "Parameters" not in text  # a loss holds no weights

    p.page.click(f"#gv-stage g.node#{node_id(p, 'generator_G')}")
    text = p.page.locator("#gv-details").text_content()
    assert "Nested model" in text and "generator_G" in text and "Functional" in text and "77" in text
    assert "(None, 8, 8, 1)" in text and "Trained by" in text and "G_loss" in text
    assert "conv2d" not in p.visible_names()
    p.page.click("#gv-details button:has-text('Open model')")  # expanding shows its architecture
    assert p.page.evaluate("window.ganviz.currentView()") == "all levels"
    names = set(p.visible_names())
    inner = {layer.name for key in ("generator_G", "generator_F") for layer in entry.models[key].layers}
    assert len(inner) >= 4 and inner <= names  # Keras numbers layer names per process: ask the models
    assert p.page.locator(f"#gv-stage g.cluster#{node_id(p, 'generator_G')}").count() == 1
    assert "Nested model (open)" in p.page.locator("#gv-details").text_content()
    assert p.page.locator("#gv-stage g.edge.gv-e-gradient").count() == 4
    assert p.errors == [] and p.requests == [p.url]


# -- safety: hostile names through the real extractor ----------------------------------------------------


def test_hostile_layer_names_run_nothing(opened: Any, hostile_html: Path) -> None:
    p = opened(hostile_html)
    assert p.page.evaluate("typeof window.__pwned") == "undefined"
    names = p.visible_names()
    for name in HOSTILE_LAYERS:
        assert name in names  # drawn as text
    for name in HOSTILE_LAYERS:
        p.page.click(f"#gv-stage g.node#{node_id(p, name)}")
        assert name in p.page.locator("#gv-details").inner_text()
        p.page.fill("#gv-search", name)
        assert name in p.page.locator("#gv-results").inner_text()
    p.page.click(f"#gv-stage g.node#{node_id(p, 'note')}")
    assert HOSTILE_CONFIG in p.page.locator("#gv-details").inner_text()  # the config value, as text
    assert p.page.locator("img, iframe, object, embed").count() == 0
    assert p.page.locator("script").count() == 2  # the page's data and its own script, nothing injected
    assert p.page.evaluate("typeof window.__pwned") == "undefined"
    assert p.dialogs == [] and p.errors == [] and p.requests == [p.url]


# -- notebook display: the Diagram's iframe works in a browser -------------------------------------------


def test_notebook_iframe_draws_the_page(browser: Any, seed_html: tuple[Path, keras.Model], out: Path) -> None:
    from ganviz.api import Diagram

    path, _ = seed_html
    diagram = Diagram(path, Graph("gan"), "html", {})
    host = out / "notebook.html"
    host.write_text(f"<!DOCTYPE html><title>cell</title>{diagram._repr_mimebundle_()['text/html']}", encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 750})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(host.as_uri())
        frame = page.frames[1]
        frame.wait_for_selector(DRAWN, state="attached", timeout=10_000)
        assert frame.locator("#gv-stage svg g.node:not(.cluster-label)").count() == 13
        # Sandboxed: the page runs, but cannot reach the notebook around it.
        assert frame.evaluate(
            "(() => { try { return parent.document.title; } catch (e) { return 'blocked'; } })()"
        ) == ("blocked")
        assert errors == []
    finally:
        page.close()

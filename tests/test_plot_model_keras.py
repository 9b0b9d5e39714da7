"""plot_model has Keras 3's signature (compared with the installed Keras), splines, **kwargs and to_file=None."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from ganviz.api import plot_model  # noqa: E402
from ganviz.ir import Graph, GraphBuilder  # noqa: E402
from ganviz.render.dot import graph_to_dot  # noqa: E402
from ganviz.render.options import SPLINES  # noqa: E402


def _graph() -> Graph:
    b = GraphBuilder("m")
    x = b.add_node("x", kind="input", class_name="InputLayer")
    d = b.add_node("d", class_name="Dense")
    b.add_edge(x, d)
    return b.build()


def test_signature_matches_the_installed_keras() -> None:
    ours = inspect.signature(plot_model).parameters
    theirs = inspect.signature(keras.utils.plot_model).parameters
    positional = [p for p in theirs.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == [p.name for p in ours.values() if p.kind is p.POSITIONAL_OR_KEYWORD], (
        "same arguments in the same order, so positional calls mean the same"
    )
    for p in positional:
        assert ours[p.name].default == p.default, f"{p.name}: ours {ours[p.name].default!r}, Keras {p.default!r}"
    assert any(p.kind is p.VAR_KEYWORD for p in theirs.values())
    assert any(p.kind is p.VAR_KEYWORD for p in ours.values())
    extra = [p.name for p in ours.values() if p.name not in theirs]
    assert all(ours[n].kind is inspect.Parameter.KEYWORD_ONLY for n in extra), extra


def test_splines_reaches_the_dot_and_defaults_to_keras_ortho(tmp_path: Path) -> None:
    plot_model(_graph(), to_file=tmp_path / "a.dot")
    assert "splines=ortho" in (tmp_path / "a.dot").read_text(encoding="utf-8")
    plot_model(_graph(), tmp_path / "b.dot", False, False, False, "TB", False, 200, False, False, "line")
    assert "splines=line" in (tmp_path / "b.dot").read_text(encoding="utf-8")
    assert "splines" not in graph_to_dot(_graph())  # the renderer's own default: the engine's
    assert set(SPLINES) >= {"ortho", "spline", "polyline", "line", "curved"}


def test_splines_draws_in_every_raster_format(tmp_path: Path) -> None:
    svg = plot_model(_graph(), to_file=tmp_path / "a.svg", splines="curved")
    assert svg.path is not None and svg.path.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    plot_model(_graph(), to_file=tmp_path / "a.mmd", splines="polyline")  # Mermaid has no splines: ignored
    assert "flowchart" in (tmp_path / "a.mmd").read_text(encoding="utf-8")


def test_bad_splines_is_one_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "a.png"
    with pytest.raises(ValueError, match=r"unknown splines 'wavy' \(must be one of \[.*'ortho'.*\] or None\)"):
        plot_model(_graph(), to_file=out, splines="wavy")
    with pytest.raises(ValueError, match="unknown splines 'wavy'"):
        graph_to_dot(_graph(), splines="wavy")
    assert not out.exists()


def test_kwargs_are_checked_as_keras_does(tmp_path: Path) -> None:
    out = tmp_path / "a.svg"
    plot_model(_graph(), to_file=out, layer_range=None)  # Keras accepts an explicit None
    assert out.exists()
    with pytest.raises(ValueError, match="layer_range is no longer supported"):
        plot_model(_graph(), to_file=tmp_path / "b.svg", layer_range=["a", "b"])
    with pytest.raises(ValueError, match=r"unrecognized keyword arguments \['show_shape'\]"):
        plot_model(_graph(), to_file=tmp_path / "c.svg", show_shape=True)
    assert not (tmp_path / "b.svg").exists() and not (tmp_path / "c.svg").exists()


def test_to_file_none_writes_nothing_and_displays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    d = plot_model(_graph(), to_file=None, show_shapes=True)
    assert d.path is None and list(tmp_path.iterdir()) == []
    bundle = d._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and bundle["text/plain"] == "<ganviz.Diagram 'm' -> None>"
    with pytest.raises(TypeError, match="not written to a file"):
        os.fspath(d)
    assert [n.name for n in d.graph.nodes] == ["x", "d"]


def test_to_file_none_works_for_a_live_model() -> None:
    inp = keras.Input((3,), name="features")
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(inp), name="tiny")
    d = plot_model(model, None, show_layer_names=True)
    assert d.path is None and ">head<" in d._repr_mimebundle_()["image/svg+xml"].replace("&#45;", "-")

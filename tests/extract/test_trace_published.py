"""Seven published GAN patterns traced: calls named by their results, loss terms, GP, EMA, ×N, goldens."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from test_step_trace import _same_state, _state, _trace  # noqa: E402

from fixtures import zoo_published  # noqa: E402
from ganviz import plot_gan  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "trace"


@pytest.fixture(scope="module")
def published() -> dict[str, tuple[Any, Trace, dict[str, Any], dict[str, Any]]]:
    out = {}
    for name, build in zoo_published.PUBLISHED.items():
        entry = build()
        before = _state(entry)
        trace = _trace(entry)
        out[name] = (entry, trace, before, _state(entry))
    return out


def _call(trace: Trace, output: str) -> Any:
    hits = [c for c in trace.calls if c.output == output]
    assert len(hits) == 1, f"{output}: {[c.output for c in trace.calls]}"
    return hits[0]


def _loss(trace: Trace, name: str) -> Any:
    return next(x for x in trace.losses if x.name == name)


def _term(trace: Trace, loss: str, term: str) -> Any:
    return next(t for t in _loss(trace, loss).terms if t.name == term)


def _src(trace: Trace, name: str) -> str:
    return next(s.id for s in trace.sources if s.name == name)


@pytest.mark.parametrize("name", list(zoo_published.PUBLISHED))
def test_tracing_changes_nothing(published: Any, name: str) -> None:
    _, _, before, after = published[name]
    assert _same_state(before, after)


@pytest.mark.parametrize("name", list(zoo_published.PUBLISHED))
def test_golden_trace(published: Any, name: str) -> None:
    """The whole trace/2 JSON, architectures left out (their own tests cover them)."""
    d = published[name][1].to_dict()
    for m in d["models"]:
        m.pop("graph")
    text = json.dumps(d, indent=1, ensure_ascii=False) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("GANVIZ_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with GANVIZ_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (GANVIZ_UPDATE_GOLDEN=1 to accept)"
    assert d["format"] == "ganviz.trace/2"
    assert Trace.from_dict(published[name][1].to_dict()) == published[name][1]


def test_dcgan_d_on_fake_feeds_only_g_loss(published: Any) -> None:
    t = published["dcgan"][1]
    d_calls = [c for c in t.calls if c.model == "discriminator"]
    assert len(d_calls) == 2  # two boxes, not one merged box
    combined = next(o for o in t.ops if o.output == "combined_images")
    assert combined.kind == "concat" and _src(t, "real_images") in combined.inputs
    d_loss, g_loss = _loss(t, "d_loss"), _loss(t, "g_loss")
    assert d_calls[0].id in d_loss.inputs and d_calls[0].id not in g_loss.inputs
    assert d_calls[1].id in g_loss.inputs and _src(t, "real_images") not in d_calls[1].inputs
    assert [x.kind for x in d_loss.terms] == ["bce"] and d_calls[0].in_tape
    assert not _call(t, "generated_images").in_tape  # G runs before the discriminator's tape
    assert [(p.name, p.repeat) for p in t.phases] == [("update discriminator", 1), ("update generator", 1)]


def test_wgan_gp_penalty_and_repeat(published: Any) -> None:
    t = published["wgan_gp"][1]
    assert [x.name for x in t.losses] == ["d_loss", "g_loss"]  # the inner tape's `pred` is no loss
    gp = _term(t, "d_loss", "gp")
    assert (gp.kind, gp.weight) == ("gradient_penalty", 10.0)
    pred = _call(t, "pred")
    assert gp.inputs == (pred.id,)
    interp = next(o for o in t.ops if o.id in pred.inputs)
    assert interp.kind == "interpolate" and interp.output == "interpolated"
    assert {_src(t, "alpha"), _src(t, "real_images"), _call(t, "fake_images").id} == set(interp.inputs)
    assert _term(t, "d_loss", "d_cost").kind == "wasserstein"
    assert [(p.name, p.repeat) for p in t.phases] == [("update critic", 3), ("update generator", 1)]
    times = {(u.optimizer, u.model): u.times for u in t.updates}
    assert times == {("d_optimizer", "critic"): 3, ("g_optimizer", "generator"): 1}
    assert len(t.calls) == 6  # the critic phase is drawn once, not three times


def test_conditional_gan_concatenations(published: Any) -> None:
    t = published["conditional_gan"][1]
    labels = _src(t, "one_hot_labels")
    into_g = next(o for o in t.ops if o.id in t.calls[0].inputs)
    assert into_g.kind == "concat" and labels in into_g.inputs and into_g.output == "random_vector_labels"
    fake_and_labels = [o for o in t.ops if o.output == "fake_image_and_labels"]
    assert fake_and_labels and all(labels in o.inputs for o in fake_and_labels)


def test_cyclegan_terms_and_calls(published: Any) -> None:
    t = published["cyclegan"][1]
    g_calls = {c.output for c in t.calls if c.model == "generator_G"}
    assert g_calls == {"fake_y", "cycled_y", "same_y"}
    terms = {x.name: (x.kind, x.weight) for x in _loss(t, "G_loss").terms}
    assert terms == {"gen_G_loss": ("mse", 1.0), "cycle_loss_G": ("mae", 10.0), "id_loss_G": ("mae", 5.0)}
    assert _term(t, "G_loss", "cycle_loss_G").inputs == (_src(t, "real_y"), _call(t, "cycled_y").id)
    assert _term(t, "G_loss", "id_loss_G").inputs == (_src(t, "real_y"), _call(t, "same_y").id)
    assert _call(t, "disc_fake_y").id in _term(t, "G_loss", "gen_G_loss").inputs
    assert [x.weight for x in _loss(t, "D_X_loss").terms] == [0.5, 0.5]


def test_gan_ada_ema_and_probability(published: Any) -> None:
    t = published["gan_ada"][1]
    ema = next(a for a in t.assignments if a.kind == "ema")
    assert (ema.target, ema.source, ema.decay, ema.variables) == ("ema_generator", "generator", 0.99, 6)
    prob = next(a for a in t.assignments if a.target == "probability")
    assert prob.source is None and prob.inputs == (_call(t, "real_logits").id,)
    assert "ema_generator" not in t.unused_models and "ema_generator" in [m.name for m in t.models]


def test_tf_dcgan_globals_and_terms(published: Any) -> None:
    t = published["tf_dcgan"][1]
    assert t.updates_by_model() == {"generator": ["generator_optimizer"], "discriminator": ["discriminator_optimizer"]}
    terms = _loss(t, "disc_loss").terms
    assert [(x.name, x.kind) for x in terms] == [("real_loss", "bce"), ("fake_loss", "bce")]
    assert terms[0].inputs[0] == _call(t, "real_output").id and terms[1].inputs[0] == _call(t, "fake_output").id


def test_pix2pix_l1_weight_and_named_inputs(published: Any) -> None:
    t = published["pix2pix"][1]
    l1 = _term(t, "gen_total_loss", "gen_l1_loss")
    assert (l1.kind, l1.weight) == ("mae", 100.0)
    assert _term(t, "gen_total_loss", "gen_gan_loss").kind == "bce"
    fake_pair = _call(t, "disc_generated_output")
    assert dict(fake_pair.input_names) == {
        _src(t, "input_image"): "input_image",
        _call(t, "gen_output").id: "target_image",
    }


@pytest.mark.parametrize("name", list(zoo_published.PUBLISHED))
def test_renders_readable(published: Any, name: str, tmp_path: Path) -> None:
    """PNG at default dpi stays within 8,000 px a side, expanded too; the page has both views."""
    t = published[name][1]
    for expand in (False, True):
        png = tmp_path / f"{name}{'_x' if expand else ''}.png"
        plot_gan(t, png, expand_nested=expand)
        data = png.read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 0 < width <= 8000 and 0 < height <= 8000
    html = (plot_gan(t, tmp_path / f"{name}.html").path).read_text(encoding="utf-8")
    assert "one box per call" in html
    graph = trace_to_graph(t)
    calls = [n for n in graph.nodes if n.kind == "model"]
    assert len(calls) >= len(t.calls)
    assert sum(1 for n in calls if n.params) == len(t.models)  # one summary per model

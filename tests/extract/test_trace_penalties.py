"""Gradient penalties (R1, WGAN-GP), step counters and the system diagram's key: ganviz's own GAN and hand-written steps."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from ganviz.extract.step_trace import trace_gan, trace_step  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402
from ganviz.render.dot import graph_to_dot  # noqa: E402
from ganviz.render.html import trace_page  # noqa: E402

DATA = np.zeros((8, 28, 28, 1), "float32")


def _own(**kw: Any) -> Any:
    from ganviz.train.gan import gan_class
    from ganviz.train.models import seed_discriminator, seed_generator

    gan = gan_class()(seed_generator(16), seed_discriminator(), latent_dim=16, **kw)
    gan.compile()
    return gan


@pytest.fixture(scope="module")
def own() -> dict[str, Trace]:
    out = {}
    out["r1_joint"] = trace_gan(_own(r1_weight=4.0, ema=0.999, updates="alternating"), data=DATA)
    out["r1_simultaneous"] = trace_gan(_own(r1_weight=4.0, ema=0.999), data=DATA)  # the default with d_steps=1
    apart = _own(r1_weight=4.0)
    apart.joint_discriminator = False  # D(real) and D(fake) in two calls
    out["r1_apart"] = trace_gan(apart, data=DATA)
    out["plain"] = trace_gan(_own(r1_weight=0.0, ema=None), data=DATA)  # GAN()'s bce default has R1
    out["wgan_gp"] = trace_gan(_own(loss="wgan-gp", gp_weight=10.0), data=DATA)
    return out


def _loss(trace: Trace, name: str) -> Any:
    return next(x for x in trace.losses if x.name == name)


def _penalties(trace: Trace) -> list[Any]:
    return [t for x in trace.losses for t in x.terms if t.kind == "gradient_penalty"]


def _data_id(trace: Trace) -> str:
    return next(s.id for s in trace.sources if s.kind == "data")


def test_r1_of_a_joint_call_is_its_own_term(own: dict[str, Trace]) -> None:
    """D scores real + fake in one call for the loss; R1 has a discriminator call of its own on real images."""
    t = own["r1_joint"]
    d_loss = _loss(t, "d_loss")
    assert [(x.name, x.kind) for x in d_loss.terms] == [("d_loss", "bce"), ("r1", "gradient_penalty")]
    bce, r1 = d_loss.terms
    assert r1.weight == 2.0  # 0.5 * r1_weight
    (call_id,) = r1.inputs
    call = next(c for c in t.calls if c.id == call_id)
    assert call.model == "discriminator" and call.output == "r1_scores" and call.inputs == (_data_id(t),)
    (joint_id,) = bce.inputs
    joint = next(c for c in t.calls if c.id == joint_id)
    concat = next(o for o in t.ops if o.id == joint.inputs[0])  # D(concat(real, fake))
    assert joint.model == "discriminator" and concat.kind == "concat" and concat.inputs[0] == _data_id(t)
    assert all(x.kind != "other" for x in d_loss.terms)  # no zero "regularization" constant


def test_r1_of_separate_calls_comes_from_d_of_the_real_images(own: dict[str, Trace]) -> None:
    t = own["r1_apart"]
    (r1,) = _penalties(t)
    assert (r1.name, r1.weight) == ("r1", 2.0)
    (call_id,) = r1.inputs
    call = next(c for c in t.calls if c.id == call_id)
    assert call.model == "discriminator" and call.inputs == (_data_id(t),)


def test_no_penalty_without_r1_and_gp_in_wgan_gp(own: dict[str, Trace]) -> None:
    assert _penalties(own["plain"]) == []
    assert [x.kind for x in _loss(own["plain"], "d_loss").terms] == ["bce"]  # the zero regularization is no term
    (gp,) = _penalties(own["wgan_gp"])
    assert (gp.name, gp.weight) == ("gp", 10.0)
    call = next(c for c in own["wgan_gp"].calls if c.id == gp.inputs[0])
    assert next(o for o in own["wgan_gp"].ops if o.id == call.inputs[0]).kind == "interpolate"
    kinds = {x.kind for x in _loss(own["wgan_gp"], "d_loss").terms}
    assert kinds == {"wasserstein", "gradient_penalty"}


def test_ema_through_strategy_update_and_the_counter(own: dict[str, Trace]) -> None:
    by_target = {a.target: a for a in own["r1_joint"].assignments}
    ema = by_target["generator_ema"]
    assert (ema.source, ema.kind, ema.decay) == ("generator", "ema", 0.999)
    counter = by_target["gan/noise_counter"]
    assert (counter.source, counter.inputs, counter.increment, counter.drawn) == (None, (), 1.0, False)
    assert json.loads(json.dumps(own["r1_joint"].to_dict()))["assignments"][1]["increment"] == 1.0
    assert Trace.from_dict(own["r1_joint"].to_dict()) == own["r1_joint"]
    assert "increment" not in ema.to_dict()


@pytest.mark.parametrize("calls", ["separate", "merged"])
def test_counter_is_no_floating_box_and_the_key_says_so(own: dict[str, Trace], calls: str) -> None:
    graph = trace_to_graph(own["r1_joint"], calls=calls)
    assert not [n for n in graph.nodes if "noise_counter" in n.name]
    assert graph.details["not_drawn"] == ["gan/noise_counter: step counter +1"]
    legend = graph.details["legend"]
    assert any("d_loss = bce + 2×gradient_penalty" in line for line in legend)
    assert any(line.startswith("gradient_penalty:") for line in legend)
    assert any("Purple dotted arrows" in line for line in legend)
    dot = graph_to_dot(graph)
    assert "step counter +1" in dot and "Loss terms (small boxes)" in dot and "labelloc=b" in dot


def test_simultaneous_updates_one_phase_and_only_fakes_reach_g_loss(own: dict[str, Trace]) -> None:
    """The default step (d_steps=1): G once, D on the real and on the fake images, both updates in one phase."""
    t = own["r1_simultaneous"]
    (phase,) = t.phases
    by_output = {c.output: c for c in t.calls}
    assert {"fake", "real_scores", "fake_scores", "r1_scores"} <= set(by_output)
    assert _loss(t, "g_loss").inputs == (by_output["fake_scores"].id,)  # never the real images' scores
    bce = _loss(t, "d_loss").terms[0]
    assert bce.inputs == (by_output["real_scores"].id, by_output["fake_scores"].id)
    assert sorted(u.optimizer for u in t.updates) == ["d_optimizer", "g_optimizer"]
    assert len(phase.calls) == 4 and len(phase.updates) == 2
    alt = own["r1_joint"]  # updates="alternating": D's update, then G's through another D call
    assert [p.name for p in alt.phases] == ["update discriminator", "update generator"]
    assert [c.model for c in alt.calls].count("discriminator") == 3


def test_page_counts_from_the_trace_and_legends_terms(own: dict[str, Trace]) -> None:
    t = own["r1_joint"]
    page = trace_page(trace_to_graph(t, calls="separate"), trace_to_graph(t, calls="merged", expand_nested=True))
    data = json.loads(re.search(r'<script type="application/json" id="gv-data">(.*?)</script>', page, re.S).group(1))
    summary = dict(map(tuple, data["graph"]["details"]["summary"]))
    assert summary == {"Models": 3, "Model calls": 4, "Losses": 2, "Loss terms": 3, "Phases": 2}
    assert len(data["nodes"]) > summary["Model calls"] + summary["Loss terms"]  # two diagrams on one page
    assert 'term: "Loss term (kind; \\u00d7weight on its arrow)"' in page
    assert 'assign: "Set without an optimizer (EMA, copy)"' in page


# -- hand-written R1 steps (StyleGAN-style "lazy" R1 without the laziness) -----------------------


def _models() -> tuple[Any, Any]:
    gen = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1))], name="g")
    disc = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)], name="d")
    return gen, disc


def test_hand_written_r1_unnamed_gets_a_default_name() -> None:
    gen, disc = _models()
    d_opt = keras.optimizers.Adam(1e-3)
    gamma = 10.0

    def train_step(images: Any) -> Any:
        z = tf.random.normal([tf.shape(images)[0], 4])
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(images)
                real_logits = disc(images, training=True)
                score = tf.reduce_sum(real_logits)
            slopes = inner.gradient(score, images)
            fake_logits = disc(gen(z, training=True), training=True)
            d_loss = (
                tf.reduce_mean(tf.nn.softplus(-real_logits))
                + tf.reduce_mean(tf.nn.softplus(fake_logits))
                + gamma / 2 * tf.reduce_mean(tf.reduce_sum(tf.square(slopes), axis=[1, 2, 3]))
            )
        d_opt.apply_gradients(zip(tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        return d_loss

    t = trace_step(train_step, np.zeros((2, 4, 4, 1), "float32"))
    (loss,) = t.losses
    assert [(x.kind, x.weight) for x in loss.terms] == [("bce", 1.0), ("bce", 1.0), ("gradient_penalty", 5.0)]
    r1 = loss.terms[-1]
    assert r1.name == "r1"
    assert r1.inputs == tuple(c.id for c in t.calls if c.output == "real_logits")


def test_hand_written_r1_on_a_slice_of_a_joint_call() -> None:
    gen, disc = _models()
    d_opt = keras.optimizers.Adam(1e-3)

    def train_step(images: Any) -> Any:
        n = tf.shape(images)[0]
        fake = gen(tf.random.normal([n, 4]), training=True)
        both = tf.concat([images, fake], axis=0)
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(both)
                logits = disc(both, training=True)
                real_logits, fake_logits = tf.split(logits, 2)
                score = tf.reduce_sum(real_logits)
            grad = inner.gradient(score, both)[:n]
            per_example = tf.nn.softplus(-real_logits[:, 0]) + tf.nn.softplus(fake_logits[:, 0])
            per_example += 0.5 * tf.reduce_sum(tf.reshape(tf.square(grad), [n, -1]), axis=1)
            d_loss = tf.reduce_mean(per_example)
        d_opt.apply_gradients(zip(tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        return d_loss

    t = trace_step(train_step, np.zeros((2, 4, 4, 1), "float32"))
    (loss,) = t.losses
    assert [x.kind for x in loss.terms] == ["bce", "bce", "gradient_penalty"]
    assert [x.name for x in loss.terms][:2] == ["bce(real_logits)", "bce(fake_logits)"]
    r1 = loss.terms[-1]
    assert (r1.name, r1.weight) == ("r1", 0.5)
    (call,) = [c for c in t.calls if c.model == "d"]
    assert r1.inputs == (call.id,)

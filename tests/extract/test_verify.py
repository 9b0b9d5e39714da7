"""verify_trace: each zoo trace checked against one real step; broken traces named; all state restored."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from test_step_trace import _same_state, _state  # noqa: E402

from fixtures import gan_zoo, zoo_published  # noqa: E402
from fixtures.gan_zoo import ZooEntry  # noqa: E402
from ganviz import plot_gan, verify_trace  # noqa: E402
from ganviz.errors import NotAModelError, TraceError  # noqa: E402
from ganviz.extract.step_trace.verify import VerifyWarning  # noqa: E402
from ganviz.ir import Trace  # noqa: E402

SYSTEMS = {**zoo_published.PUBLISHED, "vae": gan_zoo.vae, "seed_step": gan_zoo.seed_step}


def _verify(entry: ZooEntry, **kw: Any) -> tuple[Trace, list[str]]:
    args = (entry.data,) if entry.kind == "gan" else entry.data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = verify_trace(entry.system, *args, **kw)
    return trace, [str(w.message) for w in caught if issubclass(w.category, VerifyWarning)]


def _failed(trace: Trace) -> set[tuple[str, str]]:
    assert trace.verified is not None
    return {(f.kind, f.subject) for f in trace.verified.failed}


@pytest.fixture(scope="module")
def verified() -> dict[str, tuple[ZooEntry, Trace, list[str], dict[str, Any], dict[str, Any]]]:
    out = {}
    for name, build in SYSTEMS.items():
        entry = build()
        before = _state(entry)
        trace, warned = _verify(entry)
        out[name] = (entry, trace, warned, before, _state(entry))
    return out


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_fact_holds(verified: Any, name: str) -> None:
    _, trace, warned, _, _ = verified[name]
    v = trace.verified
    assert v is not None
    assert v.holds, [f.sentence() for f in v.failed]
    assert not warned
    kinds = {f.kind for f in v.facts}
    assert {"loss", "update", "iterations", "feeds", "phases"} <= kinds
    assert v.verdict() == f"checked against one real step: {len(v.facts)} facts, all hold"


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_state_is_bit_identical_after(verified: Any, name: str) -> None:
    """Weights, optimizer iterations, slots and built flags, metrics and seed state: as before."""
    _, _, _, before, after = verified[name]
    assert _same_state(before, after)


def test_golden_numbers_wgan_gp(verified: Any) -> None:
    """The facts that carry numbers: ×3 critic updates, gp weight 10, g_loss sign -1."""
    facts = {(f.kind, f.subject): f for f in verified["wgan_gp"][1].verified.facts}
    assert facts[("update", "d_optimizer -> critic")].observed == "4 variables with gradients, ×3"
    assert facts[("iterations", "d_optimizer")].observed == "iterations +3"
    assert facts[("term", "gp of d_loss")].observed.endswith("= 10")
    assert facts[("term", "wasserstein(gen_img_logits) of g_loss")].observed.endswith("= -1")
    assert facts[("phases", "order of updates")].observed == "d_optimizer -> critic ×3; g_optimizer -> generator"


def test_gan_ada_ema_decay_measured(verified: Any) -> None:
    facts = {(f.kind, f.subject): f for f in verified["gan_ada"][1].verified.facts}
    ema = facts[("assignment", "ema_generator")]
    assert ema.holds and "implied decay 0.99" in ema.observed


def test_json_carries_the_verdict(verified: Any) -> None:
    trace = verified["dcgan"][1]
    d = json.loads(trace.to_json())
    assert d["format"] == "ganviz.trace/2"
    assert d["verified"]["holds"] is True
    assert d["verified"]["verdict"].startswith("checked against one real step: ")
    assert {"kind", "subject", "holds", "claim", "observed"} <= set(d["verified"]["facts"][0])
    assert Trace.from_json(trace.to_json()) == trace
    unchecked = dataclasses.replace(trace, verified=None)
    assert "verified" not in json.loads(unchecked.to_json())


# -- a trace broken on purpose: the verifier names the broken fact ------------------------------------


def _replace_term(trace: Trace, loss: str, term: str, **changes: Any) -> Trace:
    losses = []
    for x in trace.losses:
        if x.name == loss:
            terms = tuple(dataclasses.replace(t, **changes) if t.name == term else t for t in x.terms)
            x = dataclasses.replace(x, terms=terms)
        losses.append(x)
    return dataclasses.replace(trace, losses=tuple(losses), verified=None)


@pytest.fixture(scope="module")
def wgan() -> tuple[ZooEntry, Trace]:
    entry = gan_zoo.wgan_gp()
    from ganviz import trace_gan

    return entry, trace_gan(entry.system, data=entry.data)


def test_flipped_sign_is_named(wgan: Any) -> None:
    entry, trace = wgan
    broken = _replace_term(trace, "g_loss", "wasserstein(gen_img_logits)", weight=1.0)
    checked, warned = _verify(entry, trace=broken)
    assert ("loss", "g_loss") in _failed(checked)
    assert ("term", "wasserstein(gen_img_logits) of g_loss") in _failed(checked)
    assert any("term wasserstein(gen_img_logits) of g_loss does not hold" in w for w in warned)
    assert "NOT hold" in checked.verified.verdict()


def test_changed_weight_is_named(wgan: Any) -> None:
    entry, trace = wgan
    broken = _replace_term(trace, "d_loss", "gp", weight=1.0)
    checked, warned = _verify(entry, trace=broken)
    assert _failed(checked) == {("loss", "d_loss"), ("term", "gp of d_loss")}
    assert any("weight 1;" in w and "= 10" in w for w in warned)


def test_dropped_update_is_named(wgan: Any) -> None:
    entry, trace = wgan
    broken = dataclasses.replace(trace, updates=tuple(u for u in trace.updates if u.model != "generator"))
    checked, _ = _verify(entry, trace=broken)
    failed = _failed(checked)
    assert ("update", "g_optimizer -> generator") in failed
    assert ("iterations", "g_optimizer") in failed
    assert ("explained", "changed weights") in failed


def test_wrong_repeat_count_is_named(wgan: Any) -> None:
    entry, trace = wgan
    phases = tuple(dataclasses.replace(p, repeat=2) if p.repeat == 3 else p for p in trace.phases)
    updates = tuple(dataclasses.replace(u, times=2) if u.times == 3 else u for u in trace.updates)
    checked, _ = _verify(entry, trace=dataclasses.replace(trace, phases=phases, updates=updates))
    assert {("phases", "order of updates"), ("update", "d_optimizer -> critic")} <= _failed(checked)


def test_dropped_input_breaks_connectivity(wgan: Any) -> None:
    """A critic call drawn without the generator's images feeding it: ``feeds d_loss`` fails."""
    entry, trace = wgan
    gen = next(c.id for c in trace.calls if c.model == "generator")
    calls = tuple(dataclasses.replace(c, inputs=tuple(i for i in c.inputs if i != gen)) for c in trace.calls)
    ops = tuple(dataclasses.replace(o, inputs=tuple(i for i in o.inputs if i != gen)) for o in trace.ops)
    checked, _ = _verify(entry, trace=dataclasses.replace(trace, calls=calls, ops=ops))
    assert ("feeds", "d_loss") in _failed(checked)


def test_drawn_frozen_but_updated_is_named(wgan: Any) -> None:
    entry, trace = wgan
    models = tuple(dataclasses.replace(m, trainable=False) if m.name == "critic" else m for m in trace.models)
    checked, _ = _verify(entry, trace=dataclasses.replace(trace, models=models))
    assert _failed(checked) == {("frozen", "critic")}


def test_dropped_assignment_and_wrong_decay_are_named() -> None:
    entry = zoo_published.gan_ada()
    from ganviz import trace_gan

    trace = trace_gan(entry.system, data=entry.data)
    dropped = dataclasses.replace(trace, assignments=tuple(a for a in trace.assignments if a.kind != "ema"))
    checked, warned = _verify(entry, trace=dropped)
    assert {("assignment", "ema_generator"), ("explained", "changed weights")} <= _failed(checked)
    assert any("assignment ema_generator does not hold" in w for w in warned)
    decay = tuple(dataclasses.replace(a, decay=0.9) if a.kind == "ema" else a for a in trace.assignments)
    checked, _ = _verify(entry, trace=dataclasses.replace(trace, assignments=decay))
    assert _failed(checked) == {("assignment", "ema_generator")}


# -- state: batch-norm statistics, seed generators, metrics, slots; also when the step raises ---------


class _BNGan(keras.Model):
    """Batch norm and dropout in both models, a seeded noise draw, a metric; may fail after its D step."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.generator = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8),
                keras.layers.BatchNormalization(),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(4),
            ],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)],
            name="discriminator",
        )
        self.seed_generator = keras.random.SeedGenerator(7)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.fail = fail

    def compile(self) -> None:  # type: ignore[override]
        super().compile()
        self.d_optimizer = keras.optimizers.Adam(1e-3)
        self.g_optimizer = keras.optimizers.SGD(1e-2, momentum=0.9)

    def train_step(self, real: Any) -> dict[str, Any]:
        noise = keras.random.normal((tf.shape(real)[0], 4), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(noise, training=True)
            d_loss = tf.reduce_mean(self.discriminator(fake, training=True)) - tf.reduce_mean(
                self.discriminator(real, training=True)
            )
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        if self.fail:
            tf.debugging.assert_less(d_loss, -1.0e9, message="a step that fails after its first update")
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.discriminator(self.generator(noise, training=True), training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        return {"d_loss": d_loss, "g_loss": g_loss}


def _bn_entry(fail: bool, trained: bool) -> ZooEntry:
    gan = _BNGan(fail=fail)
    gan.compile()
    data = np.random.default_rng(5).normal(size=(6, 4)).astype("float32")
    if trained:  # built optimizers with non-zero slots, moved statistics, a used seed
        gan.fail = False
        gan.train_step(tf.constant(data))
        gan.fail = fail
    return ZooEntry(
        "bn_gan",
        gan,
        data,
        {"generator": gan.generator, "discriminator": gan.discriminator},
        {"d_optimizer": gan.d_optimizer, "g_optimizer": gan.g_optimizer},
    )


def _named_state(gan: _BNGan) -> list[Any]:
    """The pieces a real step moves besides weights: BN statistics, the seed, the metric."""
    bn = [layer for m in (gan.generator, gan.discriminator) for layer in m.layers if "batch_norm" in layer.name]
    return [
        *(np.array(layer.moving_mean) for layer in bn),
        *(np.array(layer.moving_variance) for layer in bn),
        np.array(gan.seed_generator.state),
        *(np.array(v) for v in gan.d_loss_metric.variables),
    ]


@pytest.mark.parametrize("trained", [False, True])
def test_state_restored_with_batch_norm_seeds_metrics(trained: bool) -> None:
    entry = _bn_entry(fail=False, trained=trained)
    before, named = _state(entry), _named_state(entry.system)
    checked, warned = _verify(entry)
    assert checked.verified.holds, warned
    assert _same_state(before, _state(entry))
    assert all(np.array_equal(a, b) for a, b in zip(named, _named_state(entry.system)))


@pytest.mark.parametrize("trained", [False, True])
def test_state_restored_when_the_step_raises(trained: bool) -> None:
    entry = _bn_entry(fail=True, trained=trained)
    before, named = _state(entry), _named_state(entry.system)
    with pytest.raises(TraceError, match=r"the step raised .*all state was restored"):
        verify_trace(entry.system, entry.data)
    assert _same_state(before, _state(entry))
    assert all(np.array_equal(a, b) for a, b in zip(named, _named_state(entry.system)))


# -- plot_gan(verify=True) ------------------------------------------------------------------------------


def test_plot_gan_verify_puts_the_verdict_in_the_key(tmp_path: Path) -> None:
    entry = gan_zoo.dcgan()
    before = _state(entry)
    plot_gan(entry.system, to_file=tmp_path / "v.dot", data=entry.data, verify=True)
    assert "checked against one real step: " in (tmp_path / "v.dot").read_text(encoding="utf-8")
    plot_gan(entry.system, to_file=tmp_path / "v.json", data=entry.data, verify=True)
    assert json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))["verified"]["holds"] is True
    plot_gan(entry.system, to_file=tmp_path / "plain.dot", data=entry.data)
    assert "checked against" not in (tmp_path / "plain.dot").read_text(encoding="utf-8")
    assert _same_state(before, _state(entry))


def test_plot_gan_verify_needs_the_gan(tmp_path: Path) -> None:
    entry = gan_zoo.dcgan()
    from ganviz import trace_gan

    trace = trace_gan(entry.system, data=entry.data)
    with pytest.raises(NotAModelError, match="verify=True needs the GAN itself"):
        plot_gan(trace, to_file=tmp_path / "t.png", verify=True)


def test_bad_input_gets_the_tracers_one_line() -> None:
    with pytest.raises(TraceError, match="is a class, not a GAN object"):
        verify_trace(_BNGan, np.zeros((2, 4), "float32"))
    with pytest.raises(TraceError, match="does not override train_step"):
        verify_trace(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), np.zeros((2, 4), "float32"))


# -- ganviz's own GAN: stop_gradient, warmed-up EMA, per-example losses ------------------------------


@pytest.mark.parametrize(
    ("loss", "options"),
    [("bce", {"r1_weight": 0.0, "ema": None}), ("bce", {}), ("wgan-gp", {"d_steps": 2}), ("hinge", {"ema": 0.99})],
    ids=["bce-plain", "bce-recipe", "wgan-gp", "hinge-ema"],
)
def test_ganviz_gan_is_verified(loss: str, options: dict[str, Any]) -> None:
    import ganviz

    g, d = gan_zoo.seed_models(8)
    gan = ganviz.GAN(g, d, latent_dim=8, loss=loss, seed=3, **options)
    gan.compile()
    entry = ZooEntry("own", gan, gan_zoo._images(), {"generator": g, "discriminator": d}, {})
    before = _state(entry)
    checked, warned = _verify(entry)
    assert checked.verified.holds, warned
    assert _same_state(before, _state(entry))
    facts = {(f.kind, f.subject): f for f in checked.verified.facts}
    if loss == "bce" and not gan.r1_weight:  # alternating: G's images reach D's loss behind a stop_gradient
        assert "fake_g through stop_gradient" in facts[("feeds", "d_loss")].observed
    if loss == "bce" and gan.r1_weight:  # the default recipe: R1's own discriminator call, the EMA generator
        assert "r1_scores" in facts[("feeds", "d_loss")].observed
        assert ("assignment", "generator_ema") in facts
    if loss == "hinge":  # the generator's hinge loss is -mean(scores): the sign is the weight
        (term,) = next(x for x in checked.losses if x.name == "g_loss").terms
        assert (term.kind, term.weight) == ("wasserstein", -1.0)
        assert "while it warms up" in facts[("assignment", "generator_ema")].observed

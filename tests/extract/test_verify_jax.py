"""verify_trace on the JAX backend: our JAX systems checked against one real step; broken traces named.

Keras picks its backend once per process, so everything runs in one subprocess with
``KERAS_BACKEND=jax``: the JAX twins (``fixtures/jax_zoo.py``), ``ganviz.GAN``'s JAX step with the
recipe's options, an EMA GAN written here in the stateless style, and traces broken on purpose (a
flipped sign, a changed weight, a dropped update, a wrong repeat count, a model drawn frozen, a
dropped input, a dropped assignment, a wrong decay). The subprocess reports each verification's
failed facts and checks that no variable changed and TensorFlow was never imported.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from support.trace_facts import backend_traces

_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys, warnings
    import numpy as np
    import jax
    import jax.numpy as jnp
    import keras
    assert keras.backend.backend() == "jax"
    import ganviz
    from ganviz.extract.step_trace.verify import VerifyWarning
    from ganviz.train.gan import gan_class
    from fixtures import jax_zoo, zoo
    from fixtures.jax_zoo import JaxDCGAN

    class JaxEmaDCGAN(JaxDCGAN):
        '''The DCGAN twin, then an EMA copy of the generator moved in the returned non-trainable state.'''

        def __init__(self, *args, decay=0.99, **kwargs):
            super().__init__(*args, **kwargs)
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.name = "ema_generator"
            self.ema_generator.trainable = False
            self.decay = decay

        def train_step(self, state, real_images):
            logs, (tv, ntv, ov, mv) = super().train_step(state, real_images)
            where_t = {id(v): i for i, v in enumerate(self.trainable_variables)}
            where_nt = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
            ntv = list(ntv)
            for w, e in zip(self.generator.trainable_variables, self.ema_generator.variables):
                k = where_nt[id(e)]
                ntv[k] = self.decay * ntv[k] + (1.0 - self.decay) * tv[where_t[id(w)]]
            return logs, (tv, ntv, ov, mv)

    def ema_gan():
        gan, data = jax_zoo.dcgan()
        ema = JaxEmaDCGAN(gan.discriminator, gan.generator, gan.latent_dim)
        ema.compile(keras.optimizers.Adam(0.0001), keras.optimizers.Adam(0.0002), keras.losses.BinaryCrossentropy())
        return ema, data

    def ganviz_gan(**kw):
        gan = gan_class()(zoo.build_generator(8), zoo.build_discriminator(), latent_dim=8, **kw)
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(2e-4))
        gan.build_optimizers()
        return gan, np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")

    def state(gan):
        values = [np.array(v.numpy()) for v in gan.variables]
        for attr in ("d_optimizer", "g_optimizer"):
            values += [np.array(v.numpy()) for v in getattr(gan, attr).variables]
        return values

    def verify(gan, data, trace=None):
        before = state(gan)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            checked = ganviz.verify_trace(gan, data, trace=trace)
        after = state(gan)
        v = checked.verified
        return {
            "failed": sorted([f.kind, f.subject] for f in v.failed),
            "kinds": sorted({f.kind for f in v.facts}),
            "observed": {f"{f.kind}|{f.subject}": f.observed for f in v.facts},
            "verdict": v.verdict(),
            "warned": [str(w.message) for w in caught if issubclass(w.category, VerifyWarning)],
            "unchanged": len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after)),
        }

    systems = {
        "dcgan": jax_zoo.dcgan,
        "wgan_gp": jax_zoo.wgan_gp,
        "ema_dcgan": ema_gan,
        "gan_default": ganviz_gan,
        "gan_wgan_gp": lambda: ganviz_gan(loss="wgan-gp"),
        "gan_ema_alternating": lambda: ganviz_gan(ema=0.999, r1_weight=0.0),
    }
    out = {name: verify(*build()) for name, build in systems.items()}

    def term(trace, loss, name, **changes):
        losses = []
        for x in trace.losses:
            if x.name == loss:
                x = dataclasses.replace(x, terms=tuple(dataclasses.replace(t, **changes) if t.name == name else t for t in x.terms))
            losses.append(x)
        return dataclasses.replace(trace, losses=tuple(losses))

    gan, data = jax_zoo.wgan_gp()
    trace = ganviz.trace_gan(gan, data=data)
    gen = next(c.id for c in trace.calls if c.model == "generator")
    broken = {
        "flipped_sign": term(trace, "g_loss", "wasserstein(gen_img_logits)", weight=1.0),
        "gp_weight": term(trace, "d_loss", "gp", weight=1.0),
        "dropped_update": dataclasses.replace(trace, updates=tuple(u for u in trace.updates if u.model != "generator")),
        "repeat": dataclasses.replace(
            trace,
            phases=tuple(dataclasses.replace(p, repeat=2) if p.repeat == 3 else p for p in trace.phases),
            updates=tuple(dataclasses.replace(u, times=2) if u.times == 3 else u for u in trace.updates),
        ),
        "frozen": dataclasses.replace(
            trace, models=tuple(dataclasses.replace(m, trainable=False) if m.name == "critic" else m for m in trace.models)
        ),
        "dropped_input": dataclasses.replace(
            trace,
            calls=tuple(dataclasses.replace(c, inputs=tuple(i for i in c.inputs if i != gen)) for c in trace.calls),
            ops=tuple(dataclasses.replace(o, inputs=tuple(i for i in o.inputs if i != gen)) for o in trace.ops),
        ),
    }
    out["broken"] = {name: verify(gan, data, t) for name, t in broken.items()}
    gan, data = ema_gan()
    trace = ganviz.trace_gan(gan, data=data)
    out["broken"]["dropped_assignment"] = verify(
        gan, data, dataclasses.replace(trace, assignments=tuple(a for a in trace.assignments if a.kind != "ema"))
    )
    out["broken"]["wrong_decay"] = verify(
        gan, data, dataclasses.replace(trace, assignments=tuple(dataclasses.replace(a, decay=0.9) for a in trace.assignments))
    )
    out["ema_trace"] = [[a.target, a.source, a.kind, a.decay, a.variables] for a in trace.assignments]

    # plot_gan(verify=True) and the one-line refusal of a step that cannot run
    gan, data = jax_zoo.dcgan()
    drawn = ganviz.plot_gan(gan, data=data, verify=True, to_file=sys.argv[2])
    out["svg"] = open(sys.argv[2], encoding="utf-8").read()
    try:
        ganviz.verify_trace(gan, np.zeros((8, 3, 3, 1), "float32"))
        out["bad_batch"] = None
    except ganviz.errors.TraceError as exc:
        out["bad_batch"] = str(exc)
    out["tensorflow"] = "tensorflow" in sys.modules
    print("JSON" + json.dumps(out))
    """
)

SYSTEMS = ["dcgan", "wgan_gp", "ema_dcgan", "gan_default", "gan_wgan_gp", "gan_ema_alternating"]


@pytest.fixture(scope="module")
def jax_verified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return backend_traces("jax", _SCRIPT, {}, tmp_path_factory.mktemp("jax_verify") / "dcgan.svg")


def _failed(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(k, s) for k, s in result["failed"]}


@pytest.mark.slow
@pytest.mark.parametrize("name", SYSTEMS)
def test_every_fact_of_a_jax_system_holds_and_nothing_changes(jax_verified: dict[str, Any], name: str) -> None:
    result = jax_verified[name]
    assert result["failed"] == [], result["observed"]
    assert not result["warned"]
    assert {"loss", "term", "feeds", "update", "iterations", "phases", "explained"} <= set(result["kinds"])
    assert result["verdict"].startswith("checked against one real step: ") and result["verdict"].endswith("all hold")
    assert result["unchanged"] is True
    assert jax_verified["tensorflow"] is False


@pytest.mark.slow
def test_jax_golden_numbers(jax_verified: dict[str, Any]) -> None:
    """The facts that carry numbers, measured on the real JAX step: ×3 critic updates, gp weight 10,
    the generator's -1, the EMA's decay, the recipe's R1 weight and its warming-up EMA."""
    wgan = jax_verified["wgan_gp"]["observed"]
    assert wgan["update|d_optimizer -> critic"] == "4 variables with gradients, ×3"
    assert wgan["iterations|d_optimizer"] == "iterations +3"
    assert wgan["term|gp of d_loss"].endswith("= 10")
    assert wgan["term|wasserstein(gen_img_logits) of g_loss"].endswith("= -1")
    assert wgan["sign|wasserstein(gen_img_logits) of g_loss"].startswith("the term rises with gen_img_logits")
    assert wgan["phases|order of updates"] == "d_optimizer -> critic ×3; g_optimizer -> generator"
    ema = jax_verified["ema_dcgan"]["observed"]["assignment|ema_generator"]
    assert "implied decay 0.99" in ema and "warms up" not in ema
    assert jax_verified["ema_trace"] == [["ema_generator", "generator", "ema", 0.99, 6]]
    default = jax_verified["gan_default"]["observed"]
    assert default["term|r1 of d_loss"].endswith("= 0.5")
    assert "at most 0.999 while it warms up" in default["assignment|generator_ema"]
    assert default["phases|order of updates"] == "d_optimizer -> discriminator + g_optimizer -> generator"


@pytest.mark.slow
def test_broken_jax_traces_are_named(jax_verified: dict[str, Any]) -> None:
    broken = jax_verified["broken"]
    assert {("loss", "g_loss"), ("term", "wasserstein(gen_img_logits) of g_loss")} <= _failed(broken["flipped_sign"])
    assert any("term wasserstein(gen_img_logits) of g_loss does not hold" in w for w in broken["flipped_sign"]["warned"])
    assert _failed(broken["gp_weight"]) == {("loss", "d_loss"), ("term", "gp of d_loss")}
    assert {
        ("update", "g_optimizer -> generator"),
        ("iterations", "g_optimizer"),
        ("explained", "changed weights"),
    } <= _failed(broken["dropped_update"])
    assert {("phases", "order of updates"), ("update", "d_optimizer -> critic")} <= _failed(broken["repeat"])
    assert _failed(broken["frozen"]) == {("frozen", "critic")}
    assert ("feeds", "d_loss") in _failed(broken["dropped_input"])
    assert {("assignment", "ema_generator"), ("explained", "changed weights")} <= _failed(broken["dropped_assignment"])
    assert _failed(broken["wrong_decay"]) == {("assignment", "ema_generator")}
    assert all(r["unchanged"] for r in broken.values())


@pytest.mark.slow
def test_plot_gan_verify_on_jax_and_a_bad_batch(jax_verified: dict[str, Any]) -> None:
    assert "checked against one real step" in jax_verified["svg"]
    bad = jax_verified["bad_batch"]
    assert bad is not None and "\n" not in bad and "fix" in bad

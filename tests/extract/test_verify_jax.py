"""verify_trace on the JAX backend: our JAX systems checked against one real step; broken traces named.

Keras picks its backend once per process, so everything runs in one subprocess with
``KERAS_BACKEND=jax``: the JAX twins (``fixtures/jax_zoo.py``), ``ganviz.GAN``'s JAX step with the
recipe's options, and traces broken on purpose (a
flipped sign, a changed weight, a dropped update, a wrong repeat count, a model drawn frozen, a
dropped input, a dropped assignment, a wrong decay). The subprocess reports each verification's
failed facts and checks that no variable changed and TensorFlow was never imported.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from support.trace_facts import backend_traces, check_broken_verifications, check_verified_numbers

_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    import jax
    import jax.numpy as jnp
    import keras
    assert keras.backend.backend() == "jax"
    import ganviz
    from ganviz.extract.step_trace.verify import VerifyWarning
    from support.broken_traces import broken_wgan, with_decay, without_ema
    from ganviz.train.gan import gan_class
    from fixtures import jax_zoo, zoo

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
        "conditional_gan": jax_zoo.conditional_gan,
        "ema_dcgan": jax_zoo.ema_dcgan,
        "ema_dcgan_trainable": jax_zoo.ema_dcgan_trainable,
        "gan_default": ganviz_gan,
        "gan_wgan_gp": lambda: ganviz_gan(loss="wgan-gp"),
        "gan_ema_alternating": lambda: ganviz_gan(ema=0.999, r1_weight=0.0),
    }
    out = {name: verify(*build()) for name, build in systems.items()}

    gan, data = jax_zoo.wgan_gp()
    trace = ganviz.trace_gan(gan, data=data)
    broken = broken_wgan(trace)
    out["broken"] = {name: verify(gan, data, t) for name, t in broken.items()}
    gan, data = jax_zoo.ema_dcgan()
    trace = ganviz.trace_gan(gan, data=data)
    out["broken"]["dropped_assignment"] = verify(gan, data, without_ema(trace))
    out["broken"]["wrong_decay"] = verify(gan, data, with_decay(trace, 0.9))
    gan, data = jax_zoo.ema_dcgan_trainable()
    trace_t = ganviz.trace_gan(gan, data=data)
    out["broken"]["dropped_trainable_assignment"] = verify(gan, data, without_ema(trace_t))
    out["ema_trace"] = [[a.target, a.source, a.kind, a.decay, a.variables] for a in trace.assignments]

    # a plain step function of arrays (trace_step's JAX form): checked too, its own return values unread
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(6)], name="generator")
    d = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(1)], name="critic")
    d_opt, g_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    d_opt.build(d.trainable_variables)
    g_opt.build(g.trainable_variables)

    def plain_step(d_tv, g_tv, d_ov, g_ov, real, key):
        z = jax.random.normal(key, (real.shape[0], 4))

        def d_loss_fn(d_tv):
            fake, _ = g.stateless_call(g_tv, [], z)
            return jnp.mean(d.stateless_call(d_tv, [], fake)[0]) - jnp.mean(d.stateless_call(d_tv, [], real)[0])

        d_loss, grads = jax.value_and_grad(d_loss_fn)(d_tv)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)

        def g_loss_fn(g_tv):
            return -jnp.mean(d.stateless_call(d_tv, [], g.stateless_call(g_tv, [], z)[0])[0])

        g_loss, grads = jax.value_and_grad(g_loss_fn)(g_tv)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return d_loss, g_loss, d_tv, g_tv, d_ov, g_ov

    args = ([v.value for v in d.trainable_variables], [v.value for v in g.trainable_variables],
            [v.value for v in d_opt.variables], [v.value for v in g_opt.variables],
            np.random.default_rng(0).random((8, 6)).astype("float32"), jax.random.key(0))
    checked = ganviz.verify_trace(plain_step, *args, models={"generator": g, "critic": d, "d_opt": d_opt, "g_opt": g_opt})
    out["plain_step"] = {
        "failed": [f.sentence() for f in checked.verified.failed],
        "kinds": sorted({f.kind for f in checked.verified.facts}),
        "unchecked": list(checked.verified.unchecked),
        "weights_kept": all(np.array_equal(np.asarray(v.value), a) for v, a in zip(d.trainable_variables, args[0])),
    }

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

SYSTEMS = [
    "dcgan",
    "wgan_gp",
    "conditional_gan",
    "ema_dcgan",
    "ema_dcgan_trainable",
    "gan_default",
    "gan_wgan_gp",
    "gan_ema_alternating",
]


@pytest.fixture(scope="module")
def jax_verified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return backend_traces("jax", _SCRIPT, {}, tmp_path_factory.mktemp("jax_verify") / "dcgan.svg")


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
    check_verified_numbers(jax_verified)
    assert jax_verified["ema_trace"] == [["ema_generator", "generator", "ema", 0.999, 6]]


@pytest.mark.slow
def test_broken_jax_traces_are_named(jax_verified: dict[str, Any]) -> None:
    broken = jax_verified["broken"]
    check_broken_verifications(broken)


@pytest.mark.slow
def test_a_plain_jax_step_function_is_checked(jax_verified: dict[str, Any]) -> None:
    plain = jax_verified["plain_step"]
    assert plain["failed"] == []
    assert {"loss", "term", "sign", "feeds", "update", "phases"} <= set(plain["kinds"])
    assert "explained" not in plain["kinds"] and "iterations" not in plain["kinds"]
    assert any("not Keras's (logs, state)" in u for u in plain["unchecked"])
    assert plain["weights_kept"] is True


@pytest.mark.slow
def test_plot_gan_verify_on_jax_and_a_bad_batch(jax_verified: dict[str, Any]) -> None:
    assert "checked against one real step" in jax_verified["svg"]
    bad = jax_verified["bad_batch"]
    assert bad is not None and "\n" not in bad and "fix" in bad

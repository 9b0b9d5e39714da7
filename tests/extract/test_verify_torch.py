"""verify_trace on the PyTorch backend: our torch systems checked against one real step; broken traces named.

Keras picks its backend once per process, so everything runs in one subprocess with
``KERAS_BACKEND=torch``: the torch twins (``fixtures/torch_zoo.py``), ``ganviz.GAN``'s torch step
with the recipe's options, a plain step function, and traces broken on purpose (a flipped sign, a
changed weight, a dropped update, a wrong repeat count, a model drawn frozen, a dropped input, a
dropped assignment, a wrong decay). The subprocess reports each verification's failed facts and
checks that no variable, parameter gradient or random state changed, that two training steps
afterwards are those without a verification, and that TensorFlow was never imported. Skipped, with
the documented reason, where torch is not installed.
"""

from __future__ import annotations

import importlib.util
import textwrap
from typing import Any

import pytest

from support.trace_facts import backend_traces, check_broken_verifications, check_verified_numbers

_TORCH_SKIP = (
    "PyTorch is not installed: the registry's torch wheel is the CUDA build (~3 GB with its nvidia-* "
    "dependencies), so it is left out of the dev extra; `pip install torch` to run these"
)

_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    import keras, torch
    assert keras.backend.backend() == "torch"
    import ganviz
    from ganviz.extract.step_trace.verify import VerifyWarning
    from support.broken_traces import broken_wgan, with_decay, without_ema
    from ganviz.train.gan import gan_class
    from fixtures import torch_zoo, zoo

    def ganviz_gan(**kw):
        gan = gan_class()(zoo.build_generator(8), zoo.build_discriminator(), latent_dim=8, **kw)
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(2e-4))
        gan.build_optimizers()
        return gan, np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")

    def built(make):  # the optimizers built first, so that "nothing changed" compares like with like
        def build():
            gan, data = make()
            gan.d_optimizer.build(gan.discriminator.trainable_variables)
            gan.g_optimizer.build(gan.generator.trainable_variables)
            return gan, data
        return build

    def state(gan):
        values = [np.array(v.numpy()) for v in gan.variables]
        for attr in ("d_optimizer", "g_optimizer"):
            values += [np.array(v.numpy()) for v in getattr(gan, attr).variables]
        return values, [v.value.grad for v in gan.variables]

    def verify(gan, data, trace=None):
        before, grads = state(gan)
        rng = torch.get_rng_state()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            checked = ganviz.verify_trace(gan, data, trace=trace)
        after, grads_after = state(gan)
        v = checked.verified
        same = len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
        return {
            "failed": sorted([f.kind, f.subject] for f in v.failed),
            "kinds": sorted({f.kind for f in v.facts}),
            "observed": {f"{f.kind}|{f.subject}": f.observed for f in v.facts},
            "verdict": v.verdict(),
            "warned": [str(w.message) for w in caught if issubclass(w.category, VerifyWarning)],
            "unchanged": same and all(a is b for a, b in zip(grads, grads_after)),
            "rng": bool(torch.equal(rng, torch.get_rng_state())),
        }

    systems = {name: built(torch_zoo.TORCH_ZOO[name]) for name in
               ("dcgan", "wgan_gp", "conditional_gan", "ema_dcgan", "ema_dcgan_trainable")}
    systems["gan_default"] = ganviz_gan
    systems["gan_wgan_gp"] = lambda: ganviz_gan(loss="wgan-gp")
    systems["gan_ema_alternating"] = lambda: ganviz_gan(ema=0.999, r1_weight=0.0)
    out = {name: verify(*build()) for name, build in systems.items()}

    # an optimizer not built yet is built for the real step, and put back unbuilt afterwards
    gan, data = torch_zoo.dcgan()
    weights = [np.array(v.numpy()) for v in gan.variables]
    checked = ganviz.verify_trace(gan, data)
    out["unbuilt"] = {
        "failed": [f.sentence() for f in checked.verified.failed],
        "built": [gan.d_optimizer.built, gan.g_optimizer.built],
        "iterations": [int(gan.d_optimizer.iterations.numpy()), int(gan.g_optimizer.iterations.numpy())],
        "variables": [len(gan.d_optimizer.variables), len(gan.g_optimizer.variables)],
        "weights_kept": all(np.array_equal(a, np.array(v.numpy())) for a, v in zip(weights, gan.variables)),
    }

    gan, data = built(torch_zoo.wgan_gp)()
    trace = ganviz.trace_gan(gan, data=data)
    broken = broken_wgan(trace)
    out["broken"] = {name: verify(gan, data, t) for name, t in broken.items()}
    gan, data = built(torch_zoo.ema_dcgan)()
    trace = ganviz.trace_gan(gan, data=data)
    out["broken"]["dropped_assignment"] = verify(gan, data, without_ema(trace))
    out["broken"]["wrong_decay"] = verify(gan, data, with_decay(trace, 0.9))
    gan, data = built(torch_zoo.ema_dcgan_trainable)()
    trace_t = ganviz.trace_gan(gan, data=data)
    out["broken"]["dropped_trainable_assignment"] = verify(gan, data, without_ema(trace_t))

    # a plain step function (trace_step's torch form): the models and optimizers it closes over
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(6)], name="generator")
    d = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(1)], name="critic")
    d_opt, g_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    d_opt.build(d.trainable_variables)
    g_opt.build(g.trainable_variables)

    def plain_step(real):
        z = torch.randn((real.shape[0], 4))
        for layer in (d, g):
            layer.zero_grad()
        d_loss = torch.mean(d(g(z).detach())) - torch.mean(d(real))
        d_loss.backward()
        with torch.no_grad():
            d_opt.apply([v.value.grad for v in d.trainable_variables], d.trainable_variables)
        g.zero_grad()
        g_loss = -torch.mean(d(g(z)))
        g_loss.backward()
        with torch.no_grad():
            g_opt.apply([v.value.grad for v in g.trainable_variables], g.trainable_variables)
        return {"d_loss": d_loss, "g_loss": g_loss}

    weights = [np.array(v.numpy()) for v in d.variables + g.variables + d_opt.variables + g_opt.variables]
    checked = ganviz.verify_trace(plain_step, np.random.default_rng(0).random((8, 6)).astype("float32"),
                                  models={"generator": g, "critic": d, "d_opt": d_opt, "g_opt": g_opt})
    out["plain_step"] = {
        "failed": [f.sentence() for f in checked.verified.failed],
        "kinds": sorted({f.kind for f in checked.verified.facts}),
        "observed": {f"{f.kind}|{f.subject}": f.observed for f in checked.verified.facts},
        "weights_kept": all(np.array_equal(a, np.array(v.numpy())) for a, v in
                            zip(weights, d.variables + g.variables + d_opt.variables + g_opt.variables)),
    }

    out["tensorflow"] = "tensorflow" in sys.modules  # before keras.utils.set_random_seed, which imports it

    # training after a verification is training without one, bit for bit (same seeds, two real steps)
    def trained(make, verify):
        keras.utils.set_random_seed(3)
        gan, data = make()
        if verify:
            ganviz.verify_trace(gan, data)
        torch.manual_seed(5)
        for _ in range(2):
            gan.train_step(torch.as_tensor(data))
        return [np.array(v.numpy()) for v in gan.variables] + [np.array(gan.d_optimizer.iterations.numpy())]

    out["training_same"] = {}
    for name in ("wgan_gp", "ema_dcgan"):
        plain, checked_first = trained(torch_zoo.TORCH_ZOO[name], False), trained(torch_zoo.TORCH_ZOO[name], True)
        out["training_same"][name] = len(plain) == len(checked_first) and all(
            np.array_equal(a, b) for a, b in zip(plain, checked_first))

    # plot_gan(verify=True) and the one-line refusal of a step that cannot run
    gan, data = built(torch_zoo.dcgan)()
    ganviz.plot_gan(gan, data=data, verify=True, to_file=sys.argv[2])
    out["svg"] = open(sys.argv[2], encoding="utf-8").read()
    try:
        ganviz.verify_trace(gan, np.zeros((8, 3, 3, 1), "float32"))
        out["bad_batch"] = None
    except ganviz.errors.TraceError as exc:
        out["bad_batch"] = str(exc)
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
def torch_verified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if importlib.util.find_spec("torch") is None:
        pytest.skip(_TORCH_SKIP)
    return backend_traces("torch", _SCRIPT, {}, tmp_path_factory.mktemp("torch_verify") / "dcgan.svg")


@pytest.mark.slow
@pytest.mark.parametrize("name", SYSTEMS)
def test_every_fact_of_a_torch_system_holds_and_nothing_changes(torch_verified: dict[str, Any], name: str) -> None:
    result = torch_verified[name]
    assert result["failed"] == [], result["observed"]
    assert not result["warned"]
    assert {"loss", "term", "feeds", "update", "iterations", "phases", "explained"} <= set(result["kinds"])
    assert result["verdict"].startswith("checked against one real step: ") and result["verdict"].endswith("all hold")
    assert result["unchanged"] is True and result["rng"] is True
    assert torch_verified["tensorflow"] is False


@pytest.mark.slow
def test_torch_golden_numbers(torch_verified: dict[str, Any]) -> None:
    """The facts that carry numbers, measured on the real torch step, as on JAX: ×3 critic updates, gp
    weight 10, the generator's -1, the EMA's decay, the recipe's R1 weight and its warming-up EMA."""
    check_verified_numbers(torch_verified)


@pytest.mark.slow
def test_broken_torch_traces_are_named(torch_verified: dict[str, Any]) -> None:
    broken = torch_verified["broken"]
    check_broken_verifications(broken)
    assert all(r["rng"] for r in broken.values())


@pytest.mark.slow
def test_a_plain_torch_step_function_is_checked(torch_verified: dict[str, Any]) -> None:
    plain = torch_verified["plain_step"]
    assert plain["failed"] == [], plain["observed"]
    assert {"loss", "term", "sign", "feeds", "update", "iterations", "phases"} <= set(plain["kinds"])
    assert plain["observed"]["phases|order of updates"] == "d_opt -> critic; g_opt -> generator"
    assert plain["weights_kept"] is True


@pytest.mark.slow
def test_plot_gan_verify_on_torch_and_a_bad_batch(torch_verified: dict[str, Any]) -> None:
    assert "checked against one real step" in torch_verified["svg"]
    bad = torch_verified["bad_batch"]
    assert bad is not None and "\n" not in bad and "fix" in bad

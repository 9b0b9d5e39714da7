"""ganviz.GAN on whichever Keras backend runs the tests: losses, d_steps, seeding, logs, Monitor and resume.

The main run uses TensorFlow; tests/test_backends.py runs this file again under JAX (and PyTorch
where it is installed), so each backend's own train_step is checked by the same assertions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import ops  # noqa: E402

import ganviz  # noqa: E402
from ganviz.train.gan import gan_class  # noqa: E402

BACKEND = keras.backend.backend()


def _tiny(latent: int = 8, d_activation: str | None = "sigmoid") -> tuple[keras.Model, keras.Model]:
    g = keras.Sequential(
        [keras.Input((latent,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(64, activation="tanh"),
         keras.layers.Reshape((8, 8, 1))], name="generator")  # fmt: skip
    d = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dense(1, activation=d_activation)], name="discriminator")  # fmt: skip
    return g, d


def _real(n: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 8, 8, 1)).astype("float32")


def _int(v: keras.Variable) -> int:
    return int(ops.convert_to_numpy(v.value))


def _fit(loss: str, *, seed: int = 3, d_steps: int = 1, sgd: bool = False) -> tuple[dict[str, list[float]], object]:
    keras.utils.set_random_seed(0)
    g, d = _tiny(d_activation="sigmoid" if loss in ("bce", "lsgan") else None)
    gan = ganviz.GAN(g, d, latent_dim=8, loss=loss, d_steps=d_steps, seed=seed)
    if sgd:
        gan.compile(d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.01))
    else:
        gan.compile()
    hist = gan.fit(_real(), batch_size=8, epochs=1, verbose=0, shuffle=False)
    return hist.history, gan


def test_ganviz_gan_is_the_backends_own_class() -> None:
    cls = gan_class()
    assert ganviz.GAN is cls
    expected = {
        "tensorflow": "ganviz.train.gan.tf_backend",
        "jax": "ganviz.train.gan.jax_backend",
        "torch": "ganviz.train.gan.torch_backend",
    }
    assert cls.__module__ == expected[BACKEND]


@pytest.mark.parametrize("loss", ["bce", "lsgan", "hinge", "wgan-gp"])
def test_each_loss_trains_logs_and_counts_steps(loss: str) -> None:
    d_steps = 2 if loss == "wgan-gp" else 1
    keras.utils.set_random_seed(0)
    g, d = _tiny(d_activation="sigmoid" if loss in ("bce", "lsgan") else None)
    before = [w.copy() for w in g.get_weights()]
    gan = ganviz.GAN(g, d, latent_dim=8, loss=loss, d_steps=d_steps, seed=3)
    gan.compile()
    logs = {k: v[-1] for k, v in gan.fit(_real(), batch_size=8, epochs=1, verbose=0).history.items()}
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, g.get_weights()))
    assert _int(gan.g_optimizer.iterations) == 4
    assert _int(gan.d_optimizer.iterations) == 4 * d_steps
    assert _int(gan.noise_counter) == 4
    if gan.score_kind == "probability":
        assert 0.0 <= logs["d_real"] <= 1.0 and 0.0 <= logs["d_fake"] <= 1.0


def test_same_seed_same_run_other_seed_other_run() -> None:
    a, gan_a = _fit("bce", seed=7, sgd=True)
    b, gan_b = _fit("bce", seed=7, sgd=True)
    c, _ = _fit("bce", seed=8, sgd=True)
    np.testing.assert_allclose(a["g_loss"], b["g_loss"], rtol=1e-5)
    for wa, wb in zip(gan_a.generator.get_weights(), gan_b.generator.get_weights()):  # type: ignore[attr-defined]
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a["g_loss"], c["g_loss"])


def test_sigmoid_discriminator_gives_the_logits_models_losses() -> None:
    """A sigmoid discriminator and the same one without the sigmoid (from_logits) give the same losses."""
    keras.utils.set_random_seed(1)
    g, d = _tiny()
    d2 = _tiny(d_activation=None)[1]
    d2.set_weights(d.get_weights())
    g2 = keras.models.clone_model(g)
    g2.set_weights(g.get_weights())
    probs = ganviz.GAN(g, d, latent_dim=8, seed=5)
    logits = ganviz.GAN(g2, d2, latent_dim=8, seed=5)
    assert probs.from_logits is False and logits.from_logits is True
    for gan in (probs, logits):
        gan.compile(d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.01))
    x = _real(16)
    a = probs.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    b = logits.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_saturated_sigmoid_stays_finite() -> None:
    keras.utils.set_random_seed(2)
    g, d = _tiny()
    d.layers[-1].bias.assign([60.0])  # sigmoid(60) == 1.0 in float32: log(1 - p) would be -inf
    gan = ganviz.GAN(g, d, latent_dim=8, seed=0)
    gan.compile()
    hist = gan.fit(_real(16), batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in hist.values())
    assert hist["d_loss"][-1] > 30  # the real saturated loss, not a clipped one


def test_bad_options_and_missing_compile() -> None:
    g, d = _tiny()
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan'"):
        ganviz.GAN(g, d, latent_dim=8, loss="wgan")
    with pytest.raises(ValueError, match="d_steps must be >= 1"):
        ganviz.GAN(g, d, latent_dim=8, d_steps=0)


def _linear_critic() -> keras.Model:
    """D(x) = w . x + b: its input gradient is w at every image, so R1's value is known exactly."""
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)], name="discriminator"
    )


def _first_logs(**options: object) -> tuple[dict[str, float], object]:
    """The logs of one step with learning rate 0 (nothing moves), from the same weights and seed each time."""
    keras.utils.set_random_seed(4)
    g, d = _tiny()[0], _linear_critic()
    gan = ganviz.GAN(g, d, latent_dim=8, seed=9, from_logits=True, ema=None, **options)  # type: ignore[arg-type]
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    hist = gan.fit(_real(8), batch_size=8, epochs=1, verbose=0, shuffle=False).history
    return {k: float(v[-1]) for k, v in hist.items()}, gan


def _refused_here(**options: object) -> bool:
    """Whether this backend's step lacks one of ``options``; each it lacks is checked to be refused in one line.

    The PyTorch step has no recipe options yet: there the arithmetic tests below check the refusal instead.
    """
    missing = {k: v for k, v in options.items() if k not in gan_class().recipe_options}
    for option, value in missing.items():
        with pytest.raises(ValueError, match=rf"GAN\({option}=.* not available on the {gan_class().backend_name} "):
            ganviz.GAN(*_tiny(), latent_dim=8, **{"ema": None, option: value})  # type: ignore[arg-type]
    return bool(missing)


@pytest.mark.parametrize("updates", ["simultaneous", "alternating"])
def test_r1_adds_half_gamma_times_the_squared_input_gradient(updates: str) -> None:
    if _refused_here(r1_weight=2.0, updates=updates):
        return
    plain, _ = _first_logs(r1_weight=0.0, updates=updates)
    with_r1, gan = _first_logs(r1_weight=2.0, r1_shrink=4, updates=updates)
    w = ops.convert_to_numpy(gan.discriminator.layers[-1].kernel)  # type: ignore[attr-defined]
    expected = 0.5 * 2.0 * float(np.sum(np.square(w)))  # the same |w|^2 at each of the batch // 4 images
    assert with_r1["d_loss"] - plain["d_loss"] == pytest.approx(expected, rel=1e-4)
    assert with_r1["g_loss"] == pytest.approx(plain["g_loss"], rel=1e-6)


def test_label_smoothing_moves_real_targets_to_one_minus_it() -> None:
    if _refused_here(label_smoothing=0.2, updates="alternating"):
        return
    plain, gan = _first_logs(r1_weight=0.0, updates="alternating")
    smooth, _ = _first_logs(r1_weight=0.0, updates="alternating", label_smoothing=0.2)
    d = gan.discriminator  # type: ignore[attr-defined]
    logits = ops.convert_to_numpy(d(_real(8)))  # softplus(r) - softplus(-r) == r: the loss moves by 0.2 * mean(r)
    assert smooth["d_loss"] - plain["d_loss"] == pytest.approx(0.2 * float(np.mean(logits)), rel=1e-4, abs=1e-6)


def test_ema_generator_follows_the_warmed_up_average() -> None:
    if _refused_here(ema=0.999):
        return
    keras.utils.set_random_seed(5)
    g, d = _tiny()
    gan = ganviz.GAN(g, d, latent_dim=8, seed=2, ema=0.999, r1_weight=0.0)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.05), g_optimizer=keras.optimizers.SGD(0.05))
    before = [w.copy() for w in g.get_weights()]
    gan.fit(_real(8), batch_size=8, epochs=1, verbose=0, shuffle=False)  # one step: decay min(0.999, 1/10)
    after = g.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    for ema, b, a in zip(gan.ema_generator.get_weights(), before, after):  # type: ignore[attr-defined]
        np.testing.assert_allclose(ema, 0.1 * b + 0.9 * a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gan.sample(3, seed=1), ops.convert_to_numpy(gan.ema_generator(  # type: ignore[attr-defined]
        np.random.default_rng(1).standard_normal((3, 8)).astype("float32"))), rtol=1e-5, atol=1e-6)  # fmt: skip


def test_bce_defaults_are_the_measured_recipe_and_turn_off() -> None:
    g, d = _tiny()
    gan = ganviz.GAN(g, d, latent_dim=8)
    off = ganviz.GAN(*_tiny(), latent_dim=8, r1_weight=0, ema=None)
    hinge = ganviz.GAN(*_tiny(d_activation=None), latent_dim=8, loss="hinge")
    assert (gan.r1_weight, gan.ema, gan.simultaneous) == (1.0, 0.999, True)  # on every backend
    assert gan.ema_generator is not None and gan.sampler is gan.ema_generator
    assert (off.r1_weight, off.ema, off.ema_generator) == (0.0, None, None)
    assert (hinge.r1_weight, hinge.ema) == (0.0, None)
    assert gan.get_config()["r1_weight"] == gan.r1_weight


def test_runner_monitor_checkpoints_and_resume_without_lost_steps(tmp_path: Path) -> None:
    from ganviz.train.recipe.command import train

    run = tmp_path / "run"
    opts = dict(batch_size=16, latent_dim=8, sample_every=5, checkpoint_every=5, progress=False, report=False)
    first = train("digits", 10, run, **opts)  # type: ignore[arg-type]
    assert (first.steps, first.initial_step) == (10, 0)
    second = train("digits", 15, run, resume=True, **opts)  # type: ignore[arg-type]
    assert (second.steps, second.initial_step) == (15, 10)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    # TensorFlow and JAX run steps_per_execution steps a call (5 here, aligned with the intervals) and log
    # the last of each; PyTorch logs every step. Either way no step is lost or repeated.
    block = 5 if keras.backend.backend() in ("tensorflow", "jax") else 1
    assert steps == list(range(block, 16, block))
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"step_{s:06d}.png" for s in (5, 10, 15)]
    assert (run / "checkpoints" / "ckpt_00000015.npz").exists()
    assert (run / "progress.gif").stat().st_size > 0

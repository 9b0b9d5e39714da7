"""The recipe of ``ganviz.GAN`` on PyTorch: simultaneous and alternating updates, R1 in D's update, EMA, resume.

Keras picks its backend once per process. Under ``KERAS_BACKEND=torch`` these tests run here; in any other
run ``test_this_module_passes_under_torch`` runs this file again in a torch subprocess (and the others skip
one by one, saying so). Without torch the module is skipped with the documented reason (tests/test_backends.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("torch") is None:
    pytest.skip(
        "PyTorch is not installed: the registry's torch wheel is the CUDA build (~3 GB with its nvidia-* "
        "dependencies), so it is left out of the dev extra; `pip install torch` to run these",
        allow_module_level=True,
    )

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import ops  # noqa: E402

import ganviz  # noqa: E402

ON_TORCH = keras.backend.backend() == "torch"
torch_only = pytest.mark.skipif(
    not ON_TORCH, reason="runs in the torch subprocess of test_this_module_passes_under_torch"
)
ROOT = Path(__file__).resolve().parents[3]

LATENT, BATCH, LR, GAMMA, SHRINK = 4, 8, 0.1, 2.0, 4


@pytest.mark.slow
@pytest.mark.skipif(ON_TORCH, reason="this is the torch run")
def test_this_module_passes_under_torch() -> None:
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-x", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "-W", "ignore"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
    assert out.returncode == 0, tail
    counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", out.stdout))
    assert counts.get("passed", 0) >= 7 and counts.get("skipped") == 1, tail  # only this test skips there


def _generator() -> keras.Model:
    return keras.Sequential(
        [keras.Input((LATENT,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(16),
         keras.layers.Reshape((4, 4, 1))], name="generator")  # fmt: skip


def _linear_critic() -> keras.Model:
    """D(x) = w . x + b (logits): every gradient of the bce loss and of R1 is known in closed form."""
    return keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)], name="discriminator"
    )


def _real(n: int = BATCH, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 4, 4, 1)).astype("float32")


def _gan(**options: object) -> ganviz.GAN:
    keras.utils.set_random_seed(11)
    gan = ganviz.GAN(_generator(), _linear_critic(), latent_dim=LATENT, seed=6, from_logits=True, **options)
    gan.compile(d_optimizer=keras.optimizers.SGD(LR), g_optimizer=keras.optimizers.SGD(LR))
    return gan


def _np(x: object) -> np.ndarray:
    x = x.detach() if hasattr(x, "detach") else x
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _d_update(w: np.ndarray, b: float, real: np.ndarray, fake: np.ndarray, r1: bool) -> tuple[np.ndarray, float]:
    """One SGD step of D(x) = w . x + b on mean(softplus(-D(real)) + softplus(D(fake))) + R1, by hand.

    R1 = gamma / 2 * mean |grad_x D|^2 = gamma / 2 * |w|^2 (the same at every image): its gradient is gamma * w.
    """
    xr, xf = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    r, f = xr @ w + b, xf @ w + b
    coef_r, coef_f = -_sigmoid(-r) / len(r), _sigmoid(f) / len(f)
    grad_w = xr.T @ coef_r + xf.T @ coef_f + (GAMMA * w if r1 else 0.0)
    grad_b = float(np.sum(coef_r) + np.sum(coef_f))
    return w - LR * grad_w, b - LR * grad_b


def _g_update(gan: ganviz.GAN, z: object, w: np.ndarray, b: float) -> list[np.ndarray]:
    """G's weights after one SGD step on mean(softplus(-(w . G(z) + b))) with D's weights held at ``w, b``."""
    import torch

    g = keras.models.clone_model(gan.generator)
    g.set_weights(gan.generator.get_weights())
    fake = g(z, training=True).reshape(z.shape[0], -1)
    w_t = torch.tensor(w, dtype=torch.float32).reshape(-1)
    loss = torch.mean(torch.nn.functional.softplus(-(fake @ w_t + float(b))))
    grads = torch.autograd.grad(loss, [v.value for v in g.trainable_variables])
    return [_np(v.value) - LR * _np(gr) for v, gr in zip(g.trainable_variables, grads)]


def _one_step(gan: ganviz.GAN) -> dict[str, float]:
    hist = gan.fit(_real(), batch_size=BATCH, epochs=1, verbose=0, shuffle=False).history
    return {k: float(v[-1]) for k, v in hist.items()}


@torch_only
@pytest.mark.parametrize("r1", [True, False])
def test_simultaneous_step_updates_both_models_from_the_same_forward(r1: bool) -> None:
    gan = _gan(updates="simultaneous", r1_weight=GAMMA if r1 else 0.0, r1_shrink=SHRINK, ema=None)
    assert gan.simultaneous
    d = gan.discriminator.layers[-1]
    w0, b0 = _np(d.kernel.value), float(_np(d.bias.value)[0])
    z = gan._noise(BATCH, 0, 0, "cpu")  # the simultaneous step's one draw
    fake = _np(gan.generator(z, training=True))
    expected_g = _g_update(gan, z, w0, b0)  # through D's weights *before* its update
    expected_w, expected_b = _d_update(w0, b0, _real().astype("float64"), fake, r1)
    logs = _one_step(gan)
    np.testing.assert_allclose(_np(d.kernel.value), expected_w, rtol=1e-4, atol=1e-6)
    assert float(_np(d.bias.value)[0]) == pytest.approx(expected_b, rel=1e-4, abs=1e-6)
    for got, want in zip(gan.generator.trainable_variables, expected_g):
        np.testing.assert_allclose(_np(got.value), want, rtol=1e-4, atol=1e-6)
    r, f = _real().reshape(BATCH, -1) @ w0 + b0, fake.reshape(BATCH, -1) @ w0 + b0
    logged = np.mean(np.logaddexp(0, -r) + np.logaddexp(0, f)) + (0.5 * GAMMA * np.sum(w0**2) if r1 else 0.0)
    assert logs["d_loss"] == pytest.approx(logged, rel=1e-4)
    assert logs["g_loss"] == pytest.approx(float(np.mean(np.logaddexp(0, -f))), rel=1e-4)
    assert all(v.value.grad is None for v in gan.trainable_variables)  # autograd.grad leaves no .grad behind


@torch_only
def test_alternating_step_updates_the_generator_through_the_updated_discriminator() -> None:
    gan = _gan(updates="alternating", r1_weight=GAMMA, r1_shrink=SHRINK, ema=None)
    assert not gan.simultaneous
    d = gan.discriminator.layers[-1]
    w0, b0 = _np(d.kernel.value), float(_np(d.bias.value)[0])
    fake = _np(gan.generator(gan._noise(BATCH, 0, 0, "cpu"), training=True))
    w1, b1 = _d_update(w0, b0, _real().astype("float64"), fake, True)
    expected_g = _g_update(gan, gan._noise(BATCH, 0, 1, "cpu"), w1, b1)  # a fresh draw, D already moved
    _one_step(gan)
    np.testing.assert_allclose(_np(d.kernel.value), w1, rtol=1e-4, atol=1e-6)
    for got, want in zip(gan.generator.trainable_variables, expected_g):
        np.testing.assert_allclose(_np(got.value), want, rtol=1e-4, atol=1e-6)


@torch_only
def test_r1_uses_the_first_batch_over_shrink_real_images() -> None:
    """With a quadratic critic the input gradient differs per image, so which images R1 sees shows in the log."""
    keras.utils.set_random_seed(3)
    x_in = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(x_in)
    d = keras.Model(x_in, keras.layers.Dense(1)(keras.layers.Multiply()([flat, flat])), name="discriminator")
    g, logs = _generator(), {}
    for gamma in (0.0, GAMMA):  # the same models both times (learning rate 0: nothing moves)
        gan = ganviz.GAN(g, d, latent_dim=LATENT, seed=1, from_logits=True, ema=None, r1_weight=gamma,
                         r1_shrink=SHRINK, updates="alternating")  # fmt: skip
        gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        logs[gamma] = _one_step(gan)
    v = _np(d.layers[-1].kernel.value).reshape(-1)  # D(x) = v . x^2 + c: grad_x D = 2 v * x
    first = _real().reshape(BATCH, -1)[: BATCH // SHRINK].astype("float64")
    expected = 0.5 * GAMMA * float(np.mean(np.sum((2 * v * first) ** 2, axis=1)))
    assert logs[GAMMA]["d_loss"] - logs[0.0]["d_loss"] == pytest.approx(expected, rel=1e-4)


@torch_only
def test_ema_warms_up_step_by_step_and_is_what_sample_draws() -> None:
    gan = _gan(ema=0.9, r1_weight=0.0)
    snapshots = [gan.generator.get_weights()]
    for _ in range(3):  # one step per fit: the decay is min(0.9, (1 + t) / (10 + t)) at t = 0, 1, 2
        _one_step(gan)
        snapshots.append(gan.generator.get_weights())
    expected = [w.astype("float64") for w in snapshots[0]]
    for t, weights in enumerate(snapshots[1:]):
        decay = min(0.9, (1 + t) / (10 + t))
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights)]
    for got, want in zip(gan.ema_generator.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(gan.ema_generator.get_weights()[0], gan.generator.get_weights()[0])
    z = np.random.default_rng(2).standard_normal((3, LATENT)).astype("float32")
    np.testing.assert_allclose(gan.sample(3, seed=2), _np(gan.ema_generator(z)), rtol=1e-5, atol=1e-6)
    assert gan.sampler is gan.ema_generator and gan.ema_generator.trainable_variables == []


@torch_only
def test_ema_generator_is_saved_and_restored_with_the_checkpoint() -> None:
    from ganviz.train.run.checkpoint import collect_state, restore_state, state_objects

    gan = _gan()  # the bce defaults: R1, EMA 0.999, simultaneous
    assert (gan.r1_weight, gan.ema, gan.simultaneous) == (1.0, 0.999, True)
    for _ in range(2):
        _one_step(gan)
    state = collect_state(state_objects(gan))
    fresh = _gan()
    restore_state(state_objects(fresh), state)
    for a, b in zip(fresh.ema_generator.get_weights(), gan.ema_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fresh.sample(4, seed=0), gan.sample(4, seed=0))
    assert int(_np(fresh.noise_counter.value)) == 2
    after_a, after_b = _one_step(gan), _one_step(fresh)  # the resumed run continues the same run
    for key in after_a:
        assert after_b[key] == pytest.approx(after_a[key], rel=1e-5)
    for a, b in zip(fresh.ema_generator.get_weights(), gan.ema_generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@torch_only
def test_ganviz_train_on_torch_runs_the_measured_recipe(tmp_path: Path) -> None:
    from ganviz.train.recipe.command import train

    result = train("digits", 4, tmp_path / "run", batch_size=16, latent_dim=8, sample_every=2, checkpoint_every=4,
                   progress=False, report=False)  # fmt: skip
    assert result.steps == 4
    config = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert (config["r1_weight"], config["ema"]) == (1.0, 0.999)

"""One XLA program per execution (``fused_steps``): the same training as Keras's step-by-step loop."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from ganviz.train.gan import fused_steps  # noqa: E402
from ganviz.train.gan.tf_backend import GAN  # noqa: E402


def _models() -> tuple[keras.Model, keras.Model]:
    g = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(64, activation="tanh"),
         keras.layers.Reshape((8, 8, 1))], name="generator")  # fmt: skip
    d = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.LeakyReLU(),
         keras.layers.Dense(1, activation="sigmoid")], name="discriminator")  # fmt: skip
    return g, d


def _trained(fused: bool, monkeypatch: pytest.MonkeyPatch, **gan_kwargs) -> GAN:
    """A GAN trained on 19 batches at 8 steps per execution: two whole executions, then 3 batches of
    which the last is smaller (10 images instead of 16)."""
    keras.utils.set_random_seed(0)
    with monkeypatch.context() as m:
        if not fused:
            m.setattr(fused_steps, "can_fuse", lambda model: False)
        gan = GAN(*_models(), latent_dim=8, seed=1, **gan_kwargs)
        gan.compile(steps_per_execution=8)
        images = np.random.default_rng(0).uniform(-1, 1, (18 * 16 + 10, 8, 8, 1)).astype("float32")
        gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0, shuffle=False)
        is_fused = gan.train_function.__module__ == fused_steps.__name__
        assert is_fused == fused, "the compiled function is not the one asked for"
    return gan


def test_fused_executions_train_as_keras_loop(monkeypatch):
    # the seed's alternating order with R1 and an EMA generator: every variable a step writes
    options = {"updates": "alternating", "r1_weight": 1.0, "ema": 0.99}
    fused = _trained(True, monkeypatch, **options)
    keras_loop = _trained(False, monkeypatch, **options)
    assert fused.jit_compile is True and keras_loop.jit_compile is True
    for gan in (fused, keras_loop):
        assert int(gan.d_optimizer.iterations.numpy()) == 19
        assert int(gan.g_optimizer.iterations.numpy()) == 19
        assert int(gan.noise_counter.numpy()) == 19
    for name in ("generator", "discriminator", "ema_generator"):
        for a, b in zip(getattr(fused, name).get_weights(), getattr(keras_loop, name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_keras_loop_without_xla_and_single_batches(monkeypatch):
    keras.utils.set_random_seed(0)
    gan = GAN(*_models(), latent_dim=8, seed=1)
    gan.compile(jit_compile=False)
    assert not fused_steps.can_fuse(gan)
    gan = GAN(*_models(), latent_dim=8, seed=1)
    gan.compile()
    assert fused_steps.can_fuse(gan)
    logs = gan.train_on_batch(np.zeros((4, 8, 8, 1), "float32"), return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert int(gan.d_optimizer.iterations.numpy()) == 1


def test_batches_that_cannot_be_stacked_run_one_by_one():
    same = [tf.zeros((4, 2)), tf.ones((4, 2))]
    assert fused_steps._stackable(same)
    assert not fused_steps._stackable([tf.zeros((4, 2)), tf.zeros((3, 2))])
    assert not fused_steps._stackable([tf.zeros((4, 2)), tf.zeros((4, 2), tf.int32)])
    assert not fused_steps._stackable([(tf.zeros((4, 2)), tf.zeros(4)), tf.zeros((4, 2))])
    assert not fused_steps._stackable(same, max_bytes=63)  # 2 batches of 8 float32: 64 bytes
    assert fused_steps._stackable(same, max_bytes=64)
    assert fused_steps._stackable([np.zeros((4, 2), "float32")] * 3)  # a generator's NumPy batches
    assert not fused_steps._stackable([[1, 2], [3, 4]])  # not arrays

"""The fast, better-sampling defaults of ``GAN``: XLA for Keras-layer models, 8 steps per execution
aligned with the Monitor's intervals, R1 on a sub-batch, EMA sampling."""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("tensorflow")
if keras.backend.backend() != "tensorflow":
    pytest.skip("the TensorFlow trainer", allow_module_level=True)

import tensorflow as tf  # noqa: E402

from ganviz.train.gan.tf_backend import DEFAULT_STEPS_PER_EXECUTION, GAN, xla_by_default  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402


class Doubler(keras.layers.Layer):
    """A user's own layer: XLA may not compile what it holds, so the default leaves XLA to Keras."""

    def call(self, x):
        return 2.0 * x


def _x(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


def test_xla_is_on_by_default_only_for_models_of_keras_layers():
    g, d = seed_generator(8), seed_discriminator()
    assert xla_by_default(g, d)
    gan = GAN(g, d, latent_dim=8, seed=0)
    gan.compile()
    assert gan.jit_compile is True and gan.steps_per_execution == DEFAULT_STEPS_PER_EXECUTION == 8
    own = keras.Sequential([keras.Input((8,)), Doubler(), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
    assert not xla_by_default(own, d)
    gan = GAN(own, seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    assert gan.jit_compile is False  # Keras's own choice on a CPU-only machine
    gan.compile(jit_compile=False, steps_per_execution=1)
    assert gan.jit_compile is False and gan.steps_per_execution == 1


def test_default_execution_lands_on_the_monitors_intervals(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0)
    gan.compile()
    mon = Monitor(tmp_path, every_n_steps=6, checkpoint_every=12, progress=False, diagrams=False)
    gan.fit(_x(96), batch_size=4, epochs=1, verbose=0, callbacks=[mon])  # 24 steps
    assert gan.steps_per_execution == 6  # the largest divisor of 6, 12 and 24 up to 8
    assert int(gan.g_optimizer.iterations.numpy()) == 24 and mon.global_step == 24
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == [f"step_{s:06d}.png" for s in (6, 12, 18, 24)]
    rows = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == [6, 12, 18, 24]
    # a value given to compile() is the user's: only whole epochs are kept
    gan.compile(steps_per_execution=8)
    gan.fit(_x(96), batch_size=4, epochs=1, verbose=0)
    assert gan.steps_per_execution == 8


def test_r1_is_taken_on_a_sub_batch_and_counts_in_the_logged_loss():
    with pytest.raises(ValueError, match="r1_shrink must be >= 1"):
        GAN(seed_generator(8), seed_discriminator(), latent_dim=8, r1_shrink=0)
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0, r1_weight=1.0)
    real = tf.constant(_x(32))
    sizes = []
    call = type(gan.discriminator).__call__

    def spy(model, x, *args, **kwargs):
        sizes.append(int(x.shape[0]))
        return call(model, x, *args, **kwargs)

    norms = gan._r1_squared_norms(real)
    assert norms.shape == (4,) and bool(tf.reduce_all(norms >= 0))
    type(gan.discriminator).__call__ = spy
    try:
        gan._r1_squared_norms(real)
    finally:
        type(gan.discriminator).__call__ = call
    assert sizes == [4]  # 32 // 8 real images
    # against a direct computation on the first 4 images
    with tf.GradientTape() as tape:
        sub = real[:4]
        tape.watch(sub)
        out = gan.discriminator(sub, training=True)
        logits = tf.math.log(out) - tf.math.log1p(-out)
        total = tf.reduce_sum(logits)
    expected = tf.reduce_sum(tf.square(tape.gradient(total, sub)), axis=[1, 2, 3])
    np.testing.assert_allclose(norms.numpy(), expected.numpy(), rtol=2e-3, atol=1e-5)
    gan.compile(jit_compile=False)
    logs = gan.fit(_x(32), batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"][-1]) and gan.get_config()["r1_shrink"] == 8


def test_monitor_samples_the_ema_generator(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0, ema=0.9)
    gan.compile(jit_compile=False)
    mon = Monitor(tmp_path, every_n_steps=4, checkpoint_every=None, progress=False, diagrams=False)
    gan.fit(_x(32), batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    assert mon.sampler is not None and "EMA generator" in mon.sampler.description
    z = mon.fixed_noise
    from_ema = np.asarray(gan.ema_generator(z, training=False))
    from_raw = np.asarray(gan.generator(z, training=False))
    drawn = np.asarray(mon.sampler._run(mon.sampler.arrays))  # what the grids are made of
    np.testing.assert_allclose(drawn, from_ema, rtol=1e-5, atol=1e-6)
    assert not np.allclose(from_ema, from_raw)

"""User GAN files that fail in each way user code can: at import, in the factory, in ``train_step`` at step 3,
a ``train_step`` returning ``{}``, and a 5,000-layer model (Keras's ``RecursionError``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["write_user_gans", "STEP_LINE"]

_GAN = textwrap.dedent(
    """
    import keras
    import tensorflow as tf
    from keras import layers


    class MyGAN(keras.Model):
        def __init__(self, generator, discriminator, latent_dim, fail_at=None, empty=False):
            super().__init__()
            self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
            self.fail_at, self.empty = fail_at, empty

        def compile(self, g_opt, d_opt, **kwargs):
            super().compile(**kwargs)
            self.g_opt, self.d_opt = g_opt, d_opt
            self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

        def train_step(self, real):
            if self.fail_at is not None and tf.executing_eagerly():  # run_eagerly=True: a Python step count
                step = int(self.g_opt.iterations) + 1
                if step >= self.fail_at:
                    raise RuntimeError(f"boom at step {step}")  # STEP_LINE
            z = tf.random.normal((tf.shape(real)[0], self.latent_dim))
            with tf.GradientTape() as dt, tf.GradientTape() as gt:
                fake = self.generator(z, training=True)
                r, f = self.discriminator(real, training=True), self.discriminator(fake, training=True)
                d_loss = self.bce(tf.ones_like(r), r) + self.bce(tf.zeros_like(f), f)
                g_loss = self.bce(tf.ones_like(f), f)
            d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
            self.d_opt.apply_gradients(zip(dt.gradient(d_loss, d_vars), d_vars))
            self.g_opt.apply_gradients(zip(gt.gradient(g_loss, g_vars), g_vars))
            if self.empty:
                return {}
            return {"d_loss": d_loss, "g_loss": g_loss}


    def _models():
        g = keras.Sequential([keras.Input((8,)), layers.Dense(28 * 28, activation="tanh"), layers.Reshape((28, 28, 1))],
                             name="gen")
        d = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(1)], name="disc")
        return g, d


    def _gan(**kw):
        g, d = _models()
        gan = MyGAN(g, d, 8, **kw)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), run_eagerly=True)
        return gan


    def make_gan():
        return _gan()


    def make_step3():
        return _gan(fail_at=3)


    def make_empty():
        return _gan(empty=True)


    def make_nan():
        g, d = _models()
        gan = MyGAN(g, d, 8)
        gan.compile(keras.optimizers.SGD(float("inf")), keras.optimizers.SGD(float("inf")))
        return gan


    def make_wider():
        g = keras.Sequential([keras.Input((8,)), layers.Dense(32), layers.Dense(28 * 28, activation="tanh"),
                              layers.Reshape((28, 28, 1))], name="gen")
        _, d = _models()
        gan = MyGAN(g, d, 8)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        return gan


    def make_boom():
        return {"a": 1}["missing"]  # FACTORY_LINE


    def make_deep():
        g = keras.Sequential([keras.Input((8,))] + [layers.Activation("linear") for _ in range(5000)]
                             + [layers.Dense(28 * 28), layers.Reshape((28, 28, 1))], name="deep")
        _, d = _models()
        gan = MyGAN(g, d, 8)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        return gan
    """
)

STEP_LINE = next(i for i, line in enumerate(_GAN.splitlines(), 1) if "# STEP_LINE" in line)
FACTORY_LINE = next(i for i, line in enumerate(_GAN.splitlines(), 1) if "# FACTORY_LINE" in line)


def write_user_gans(folder: Path) -> dict[str, Path]:
    """``gan.py`` (the factories above) and ``import_boom.py`` (raises at import, line 2)."""
    (folder / "gan.py").write_text(_GAN, encoding="utf-8")
    (folder / "import_boom.py").write_text("x = 1\nraise ZeroDivisionError('at import')\n", encoding="utf-8")
    return {"gan": folder / "gan.py", "import_boom": folder / "import_boom.py"}

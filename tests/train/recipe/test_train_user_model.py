"""``ganviz train --model file.py:make_gan``: the user's own GAN, with grids, curves, checkpoints, resume, report."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("keras")

from ganviz.cli.main import main  # noqa: E402

_GAN_FILE = textwrap.dedent(
    '''
    import keras
    import tensorflow as tf
    from keras import layers


    class MyGAN(keras.Model):
        """The Keras examples' shape: its own compile (no optimizer= for Keras) and train_step."""

        def __init__(self, generator, discriminator, latent_dim):
            super().__init__()
            self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim

        def compile(self, generator_optimizer, discriminator_optimizer):
            super().compile()
            self.generator_optimizer = generator_optimizer
            self.discriminator_optimizer = discriminator_optimizer
            self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

        def train_step(self, real):
            z = tf.random.normal((tf.shape(real)[0], self.latent_dim))
            with tf.GradientTape() as dt, tf.GradientTape() as gt:
                fake = self.generator(z, training=True)
                r, f = self.discriminator(real, training=True), self.discriminator(fake, training=True)
                d_loss = self.bce(tf.ones_like(r), r) + self.bce(tf.zeros_like(f), f)
                g_loss = self.bce(tf.ones_like(f), f)
            d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
            self.discriminator_optimizer.apply_gradients(zip(dt.gradient(d_loss, d_vars), d_vars))
            self.generator_optimizer.apply_gradients(zip(gt.gradient(g_loss, g_vars), g_vars))
            return {"d_loss": d_loss, "g_loss": g_loss, "d_real": tf.reduce_mean(tf.sigmoid(r)),
                    "d_fake": tf.reduce_mean(tf.sigmoid(f))}


    def make_gan():
        g = keras.Sequential([keras.Input((16,)), layers.Dense(7 * 7 * 8, activation="relu"), layers.Reshape((7, 7, 8)),
                              layers.Conv2DTranspose(8, 4, strides=2, padding="same", activation="relu"),
                              layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")], name="gen")
        d = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 4, strides=2, padding="same"),
                              layers.LeakyReLU(), layers.Flatten(), layers.Dense(1)], name="disc")
        gan = MyGAN(g, d, 16)
        gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(1e-4, beta_1=0.5))
        return gan


    def uncompiled():
        gan = make_gan()
        return MyGAN(gan.generator, gan.discriminator, 16)
    '''
)


def test_train_model_option_runs_resumes_and_reports(tmp_path, capsys):
    src = tmp_path / "my_gan.py"
    src.write_text(_GAN_FILE)
    run = tmp_path / "run"
    args = ["train", "--model", f"{src}:make_gan", "--out", str(run), "--batch-size", "16", "--sample-every", "3"]
    assert main([*args, "--steps", "6", "--tensorboard", "--checkpoint-every", "3"]) == 0
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    assert (run / "curves.png").exists() and list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert main([*args, "--steps", "9", "--resume"]) == 0
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 10))
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "MyGAN" and config["sample_every"] == 3
    page = (run / "report.html").read_text()
    assert "generator_optimizer" in page and "discriminator_optimizer" in page and "RMSprop" not in page
    assert "0.0001" in page and "GAN system" in page and "could not be drawn" not in page
    assert "<tr class='warning'>" not in page and "<tr class='error'>" not in page


def test_train_model_option_rejects_an_uncompiled_gan(tmp_path, capsys):
    src = tmp_path / "my_gan.py"
    src.write_text(_GAN_FILE)
    assert main(["train", "--model", f"{src}:uncompiled", "--out", str(tmp_path / "run"), "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uncompiled: call gan.compile(...) in make_gan" in err[0]

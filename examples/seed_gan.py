"""The seed's GAN, drawn by ganviz: its Examples 1 and 2, the nested D(G(z)), and the whole GAN.

The reference text plots the generator and the discriminator separately and says the whole GAN
"cannot" be drawn. Here are the same two plots (Keras 3 style models, same layers), the nested
combined model expanded, and the seed's Example 3 training step traced into one system diagram.

Run: python examples/seed_gan.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import ganviz  # noqa: E402

LATENT_DIM = 100


def build_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
    """Example 1's generator: noise -> 128 -> 256 -> 784 (sigmoid) -> 28x28x1."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,), name="noise"),
            layers.Dense(128),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(256),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(784, activation="sigmoid"),
            layers.Reshape((28, 28, 1)),
        ],
        name="generator",
    )


def build_discriminator() -> keras.Model:
    """Example 2's discriminator: 28x28x1 -> 256 -> 128 -> 1 (sigmoid)."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            layers.Flatten(),
            layers.Dense(256),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(128),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="discriminator",
    )


def build_combined(generator: keras.Model, discriminator: keras.Model) -> keras.Model:
    """The classic combined model D(G(z)) with the discriminator frozen."""
    discriminator.trainable = False
    z = keras.Input(shape=(LATENT_DIM,), name="z")
    combined = keras.Model(z, discriminator(generator(z)), name="combined_gan")
    return combined


def make_train_step(generator: keras.Model, discriminator: keras.Model):
    """Example 3's loop body as a step function (trained on real images, not random noise)."""
    cross_entropy = keras.losses.BinaryCrossentropy()
    generator_optimizer = keras.optimizers.Adam(learning_rate=0.0002)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate=0.0002)

    def train_step(real_images):
        batch_size = tf.shape(real_images)[0]
        noise = tf.random.normal([batch_size, LATENT_DIM])
        real_labels = tf.ones((batch_size, 1))
        fake_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(real_images, training=True)
            fake_output = discriminator(generated_images, training=True)
            disc_loss = cross_entropy(real_labels, real_output) + cross_entropy(fake_labels, fake_output)
        grads = tape.gradient(disc_loss, discriminator.trainable_variables)
        discriminator_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            generated_output = discriminator(generator(noise, training=True), training=True)
            gen_loss = cross_entropy(real_labels, generated_output)
        grads = tape.gradient(gen_loss, generator.trainable_variables)
        generator_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
        return {"d_loss": disc_loss, "g_loss": gen_loss}

    return train_step


def main(out_dir: str = "seed_gan_out") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator, discriminator = build_generator(), build_discriminator()
    ganviz.plot_model(generator, to_file=out / "generator_plot.png", show_shapes=True, show_layer_names=True)
    ganviz.plot_model(discriminator, to_file=out / "discriminator_plot.png", show_shapes=True, show_layer_names=True)
    combined = build_combined(generator, discriminator)
    ganviz.plot_model(
        combined,
        to_file=out / "combined_gan_plot.png",
        show_shapes=True,
        show_layer_names=True,
        expand_nested=True,
        show_trainable=True,
    )
    discriminator.trainable = True
    step = make_train_step(generator, discriminator)
    trace = ganviz.trace_step(step, tf.TensorSpec((None, 28, 28, 1), tf.float32))
    ganviz.plot_gan(trace, to_file=out / "seed_gan_system.png")
    ganviz.plot_gan(trace, to_file=out / "seed_gan_system.html")
    print("who updates whom:", trace.updates_by_model())
    for p in sorted(out.iterdir()):
        print("wrote", p)


if __name__ == "__main__":
    main(*sys.argv[1:2])

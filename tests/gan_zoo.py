"""Tiny multi-model training systems (GANs, a VAE, the seed's step) for tracing tests and benchmarks.

Each builder returns a :class:`ZooEntry`: the object to trace (a ``keras.Model`` with its own
``train_step`` for ``trace_gan``, or a plain step function for ``trace_step``), an example batch,
and the models and optimizers it holds, so tests can snapshot their state. Models are deliberately
tiny (8x8 images, a handful of units) so that building and tracing stays fast on two cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

__all__ = [
    "ZooEntry",
    "IMAGE_SHAPE",
    "LATENT_DIM",
    "dcgan",
    "wgan_gp",
    "conditional_gan",
    "cyclegan",
    "vae",
    "seed_step",
    "seed_models",
    "ZOO",
]

IMAGE_SHAPE = (8, 8, 1)
LATENT_DIM = 4
BATCH = 4


@dataclass
class ZooEntry:
    """One system of the zoo.

    Attributes:
        name: short key (``"dcgan"``).
        system: the GAN-like ``keras.Model`` (``kind == "gan"``) or the step function (``kind == "step"``).
        data: an example batch: the argument of ``train_step`` for a GAN, the tuple of positional
            arguments for a step function.
        models: the Keras models the system trains, by role.
        optimizers: the optimizers it uses, by role.
        kind: ``"gan"`` (trace with ``trace_gan``) or ``"step"`` (trace with ``trace_step``).
    """

    name: str
    system: Any
    data: Any
    models: dict[str, keras.Model] = field(default_factory=dict)
    optimizers: dict[str, keras.optimizers.Optimizer] = field(default_factory=dict)
    kind: str = "gan"


def _images(batch: int = BATCH, shape: tuple[int, ...] = IMAGE_SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, *shape), dtype=np.float32)


def _conv_generator(name: str, latent_dim: int = LATENT_DIM, channels: int = 1) -> keras.Model:
    """latent vector -> 8x8 image through one transposed convolution."""
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(4 * 4 * 4),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((4, 4, 4)),
            layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(channels, 3, padding="same", activation="sigmoid"),
        ],
        name=name,
    )


def _conv_discriminator(name: str, channels: int = 1, activation: str | None = None) -> keras.Model:
    """8x8 image -> one logit (or score)."""
    return keras.Sequential(
        [
            keras.Input((8, 8, channels)),
            layers.Conv2D(4, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dense(1, activation=activation),
        ],
        name=name,
    )


# -- DCGAN (the Keras example's pattern) -------------------------------------------------------


class DCGAN(keras.Model):
    """The Keras DCGAN example's shape: one discriminator call on generated + real images."""

    def __init__(self, discriminator: keras.Model, generator: keras.Model, latent_dim: int) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer: Any, g_optimizer: Any, loss_fn: Any) -> None:  # type: ignore[override]
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self) -> list[Any]:
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images: Any) -> dict[str, Any]:
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))  # label noise, as in the example

        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def dcgan() -> ZooEntry:
    """The Keras DCGAN example, tiny: label noise, concatenated fake + real discriminator batch."""
    generator = _conv_generator("generator")
    discriminator = _conv_discriminator("discriminator", activation="sigmoid")
    gan = DCGAN(discriminator=discriminator, generator=generator, latent_dim=LATENT_DIM)
    d_opt = keras.optimizers.Adam(learning_rate=0.0001)
    g_opt = keras.optimizers.Adam(learning_rate=0.0002)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, loss_fn=keras.losses.BinaryCrossentropy())
    return ZooEntry(
        "dcgan",
        gan,
        _images(),
        {"generator": generator, "discriminator": discriminator},
        {"d_optimizer": d_opt, "g_optimizer": g_opt},
    )


# -- WGAN-GP -----------------------------------------------------------------------------------


class WGANGP(keras.Model):
    """WGAN with gradient penalty: ``discriminator_extra_steps`` critic updates per generator update."""

    def __init__(
        self,
        discriminator: keras.Model,
        generator: keras.Model,
        latent_dim: int,
        discriminator_extra_steps: int = 3,
        gp_weight: float = 10.0,
    ) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight

    def compile(self, d_optimizer: Any, g_optimizer: Any) -> None:  # type: ignore[override]
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @staticmethod
    def critic_loss(real_img: Any, fake_img: Any) -> Any:
        return tf.reduce_mean(fake_img) - tf.reduce_mean(real_img)

    @staticmethod
    def generator_loss(fake_img: Any) -> Any:
        return -tf.reduce_mean(fake_img)

    def gradient_penalty(self, batch_size: Any, real_images: Any, fake_images: Any) -> Any:
        """Penalty on the critic's gradient norm at points between real and fake images."""
        alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images: Any) -> dict[str, Any]:
        batch_size = tf.shape(real_images)[0]
        for _ in range(self.d_steps):
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_latent_vectors, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real_images, training=True)
                d_cost = self.critic_loss(real_img=real_logits, fake_img=fake_logits)
                gp = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            generated_images = self.generator(random_latent_vectors, training=True)
            gen_img_logits = self.discriminator(generated_images, training=True)
            g_loss = self.generator_loss(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


def wgan_gp(d_steps: int = 3) -> ZooEntry:
    """WGAN-GP: a Python loop of critic steps, a nested tape for the gradient penalty."""
    generator = _conv_generator("generator")
    critic = _conv_discriminator("critic")
    gan = WGANGP(critic, generator, LATENT_DIM, discriminator_extra_steps=d_steps)
    d_opt = keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)
    g_opt = keras.optimizers.Adam(learning_rate=0.0002, beta_1=0.5, beta_2=0.9)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt)
    return ZooEntry(
        "wgan_gp",
        gan,
        _images(),
        {"generator": generator, "critic": critic},
        {"d_optimizer": d_opt, "g_optimizer": g_opt},
    )


# -- conditional GAN ---------------------------------------------------------------------------

NUM_CLASSES = 3


class ConditionalGAN(keras.Model):
    """Class labels go to both models: appended to the noise and tiled as image channels."""

    def __init__(self, discriminator: keras.Model, generator: keras.Model, latent_dim: int) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim

    def compile(self, d_optimizer: Any, g_optimizer: Any, loss_fn: Any) -> None:  # type: ignore[override]
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, data: Any) -> dict[str, Any]:
        real_images, one_hot_labels = data
        image_one_hot_labels = one_hot_labels[:, None, None, :]
        image_one_hot_labels = tf.tile(image_one_hot_labels, [1, IMAGE_SHAPE[0], IMAGE_SHAPE[1], 1])

        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        random_vector_labels = tf.concat([random_latent_vectors, one_hot_labels], axis=1)
        generated_images = self.generator(random_vector_labels)

        fake_image_and_labels = tf.concat([generated_images, image_one_hot_labels], -1)
        real_image_and_labels = tf.concat([real_images, image_one_hot_labels], -1)
        combined_images = tf.concat([fake_image_and_labels, real_image_and_labels], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)

        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        random_vector_labels = tf.concat([random_latent_vectors, one_hot_labels], axis=1)
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            fake_images = self.generator(random_vector_labels)
            fake_image_and_labels = tf.concat([fake_images, image_one_hot_labels], -1)
            predictions = self.discriminator(fake_image_and_labels)
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def conditional_gan() -> ZooEntry:
    """Conditional GAN on (images, one-hot labels)."""
    generator = _conv_generator("generator", latent_dim=LATENT_DIM + NUM_CLASSES)
    discriminator = _conv_discriminator("discriminator", channels=1 + NUM_CLASSES)
    gan = ConditionalGAN(discriminator, generator, LATENT_DIM)
    d_opt = keras.optimizers.Adam(learning_rate=0.0003)
    g_opt = keras.optimizers.Adam(learning_rate=0.0003)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    labels = np.eye(NUM_CLASSES, dtype=np.float32)[np.arange(BATCH) % NUM_CLASSES]
    return ZooEntry(
        "conditional_gan",
        gan,
        (_images(), labels),
        {"generator": generator, "discriminator": discriminator},
        {"d_optimizer": d_opt, "g_optimizer": g_opt},
    )


# -- CycleGAN ----------------------------------------------------------------------------------


def _translator(name: str) -> keras.Model:
    """8x8 image -> 8x8 image."""
    inp = keras.Input(IMAGE_SHAPE, name=f"{name}_img")
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    out = layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    return keras.Model(inp, out, name=name)


class CycleGan(keras.Model):
    """Two generators (X->Y, Y->X), two discriminators, one persistent tape, four optimizers."""

    def __init__(
        self,
        generator_G: keras.Model,
        generator_F: keras.Model,
        discriminator_X: keras.Model,
        discriminator_Y: keras.Model,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
    ) -> None:
        super().__init__()
        self.gen_G = generator_G
        self.gen_F = generator_F
        self.disc_X = discriminator_X
        self.disc_Y = discriminator_Y
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity

    def compile(  # type: ignore[override]
        self,
        gen_G_optimizer: Any,
        gen_F_optimizer: Any,
        disc_X_optimizer: Any,
        disc_Y_optimizer: Any,
    ) -> None:
        super().compile()
        self.gen_G_optimizer = gen_G_optimizer
        self.gen_F_optimizer = gen_F_optimizer
        self.disc_X_optimizer = disc_X_optimizer
        self.disc_Y_optimizer = disc_Y_optimizer
        self.adv_loss = keras.losses.MeanSquaredError()
        self.cycle_loss_fn = keras.losses.MeanAbsoluteError()
        self.identity_loss_fn = keras.losses.MeanAbsoluteError()

    def generator_loss_fn(self, fake: Any) -> Any:
        return self.adv_loss(tf.ones_like(fake), fake)

    def discriminator_loss_fn(self, real: Any, fake: Any) -> Any:
        return (self.adv_loss(tf.ones_like(real), real) + self.adv_loss(tf.zeros_like(fake), fake)) * 0.5

    def train_step(self, batch_data: Any) -> dict[str, Any]:
        real_x, real_y = batch_data
        with tf.GradientTape(persistent=True) as tape:
            fake_y = self.gen_G(real_x, training=True)
            fake_x = self.gen_F(real_y, training=True)
            cycled_x = self.gen_F(fake_y, training=True)
            cycled_y = self.gen_G(fake_x, training=True)
            same_x = self.gen_F(real_x, training=True)
            same_y = self.gen_G(real_y, training=True)

            disc_real_x = self.disc_X(real_x, training=True)
            disc_fake_x = self.disc_X(fake_x, training=True)
            disc_real_y = self.disc_Y(real_y, training=True)
            disc_fake_y = self.disc_Y(fake_y, training=True)

            gen_G_loss = self.generator_loss_fn(disc_fake_y)
            gen_F_loss = self.generator_loss_fn(disc_fake_x)
            cycle_loss_G = self.cycle_loss_fn(real_y, cycled_y) * self.lambda_cycle
            cycle_loss_F = self.cycle_loss_fn(real_x, cycled_x) * self.lambda_cycle
            id_loss_G = self.identity_loss_fn(real_y, same_y) * self.lambda_cycle * self.lambda_identity
            id_loss_F = self.identity_loss_fn(real_x, same_x) * self.lambda_cycle * self.lambda_identity
            total_loss_G = gen_G_loss + cycle_loss_G + id_loss_G
            total_loss_F = gen_F_loss + cycle_loss_F + id_loss_F
            disc_X_loss = self.discriminator_loss_fn(disc_real_x, disc_fake_x)
            disc_Y_loss = self.discriminator_loss_fn(disc_real_y, disc_fake_y)

        grads_G = tape.gradient(total_loss_G, self.gen_G.trainable_variables)
        grads_F = tape.gradient(total_loss_F, self.gen_F.trainable_variables)
        disc_X_grads = tape.gradient(disc_X_loss, self.disc_X.trainable_variables)
        disc_Y_grads = tape.gradient(disc_Y_loss, self.disc_Y.trainable_variables)
        self.gen_G_optimizer.apply_gradients(zip(grads_G, self.gen_G.trainable_variables))
        self.gen_F_optimizer.apply_gradients(zip(grads_F, self.gen_F.trainable_variables))
        self.disc_X_optimizer.apply_gradients(zip(disc_X_grads, self.disc_X.trainable_variables))
        self.disc_Y_optimizer.apply_gradients(zip(disc_Y_grads, self.disc_Y.trainable_variables))
        return {"G_loss": total_loss_G, "F_loss": total_loss_F, "D_X_loss": disc_X_loss, "D_Y_loss": disc_Y_loss}


def cyclegan() -> ZooEntry:
    """CycleGAN: G: X->Y, F: Y->X, D_X, D_Y, cycle and identity losses."""
    gen_g = _translator("generator_G")
    gen_f = _translator("generator_F")
    disc_x = _conv_discriminator("discriminator_X")
    disc_y = _conv_discriminator("discriminator_Y")
    gan = CycleGan(gen_g, gen_f, disc_x, disc_y)
    opts = {name: keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5) for name in ("G", "F", "X", "Y")}
    gan.compile(
        gen_G_optimizer=opts["G"], gen_F_optimizer=opts["F"], disc_X_optimizer=opts["X"], disc_Y_optimizer=opts["Y"]
    )
    return ZooEntry(
        "cyclegan",
        gan,
        (_images(seed=1), _images(seed=2)),
        {"generator_G": gen_g, "generator_F": gen_f, "discriminator_X": disc_x, "discriminator_Y": disc_y},
        {
            "gen_G_optimizer": opts["G"],
            "gen_F_optimizer": opts["F"],
            "disc_X_optimizer": opts["X"],
            "disc_Y_optimizer": opts["Y"],
        },
    )


# -- VAE ---------------------------------------------------------------------------------------


class VAE(keras.Model):
    """Encoder -> reparameterised sample -> decoder; one optimizer updates both models."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def train_step(self, data: Any) -> dict[str, Any]:
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            epsilon = tf.random.normal(tf.shape(z_mean))
            z = z_mean + tf.exp(0.5 * z_log_var) * epsilon
            reconstruction = self.decoder(z)
            reconstruction_loss = tf.reduce_mean(tf.reduce_sum(tf.square(data - reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return {"loss": total_loss, "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}


def vae() -> ZooEntry:
    """A VAE-style encoder/decoder pair trained by one optimizer (not a GAN)."""
    inp = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Dense(8, activation="relu")(layers.Flatten()(inp))
    encoder = keras.Model(
        inp, [layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)], name="encoder"
    )
    decoder = keras.Sequential(
        [keras.Input((2,)), layers.Dense(64, activation="sigmoid"), layers.Reshape(IMAGE_SHAPE)], name="decoder"
    )
    model = VAE(encoder, decoder)
    opt = keras.optimizers.Adam(learning_rate=0.001)
    model.compile(optimizer=opt)
    return ZooEntry("vae", model, _images(), {"encoder": encoder, "decoder": decoder}, {"optimizer": opt})


# -- the seed's Example 3, as a step function --------------------------------------------------


def seed_models(latent_dim: int = LATENT_DIM) -> tuple[keras.Model, keras.Model]:
    """The seed's dense generator and discriminator (Examples 1 and 2), tiny."""
    generator = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(16),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(64, activation="sigmoid"),
            layers.Reshape(IMAGE_SHAPE),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Flatten(),
            layers.Dense(16),
            layers.LeakyReLU(negative_slope=0.01),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="discriminator",
    )
    return generator, discriminator


def seed_step(latent_dim: int = LATENT_DIM, batch_size: int = BATCH) -> ZooEntry:
    """The body of the seed's Example 3 loop as ``train_step(real_images)`` closing over its models."""
    generator, discriminator = seed_models(latent_dim)
    cross_entropy = keras.losses.BinaryCrossentropy()
    generator_optimizer = keras.optimizers.Adam(learning_rate=0.0002)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate=0.0002)

    def train_step(real_images: Any) -> dict[str, Any]:
        noise = tf.random.normal([batch_size, latent_dim])
        generated_images = generator(noise)
        real_labels = tf.ones((batch_size, 1))
        fake_labels = tf.zeros((batch_size, 1))

        with tf.GradientTape() as tape:
            real_output = discriminator(real_images)
            fake_output = discriminator(generated_images)
            real_loss = cross_entropy(real_labels, real_output)
            fake_loss = cross_entropy(fake_labels, fake_output)
            disc_loss = real_loss + fake_loss
        gradients_of_discriminator = tape.gradient(disc_loss, discriminator.trainable_variables)
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))

        with tf.GradientTape() as tape:
            generated_output = discriminator(generator(noise))
            gen_loss = cross_entropy(real_labels, generated_output)
        gradients_of_generator = tape.gradient(gen_loss, generator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        return {"disc_loss": disc_loss, "gen_loss": gen_loss}

    return ZooEntry(
        "seed_step",
        train_step,
        (_images(batch_size),),
        {"generator": generator, "discriminator": discriminator},
        {"generator_optimizer": generator_optimizer, "discriminator_optimizer": discriminator_optimizer},
        kind="step",
    )


ZOO: dict[str, Callable[[], ZooEntry]] = {
    "dcgan": dcgan,
    "wgan_gp": wgan_gp,
    "conditional_gan": conditional_gan,
    "cyclegan": cyclegan,
    "vae": vae,
    "seed_step": seed_step,
}

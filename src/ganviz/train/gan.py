"""``ganviz.GAN`` on the TensorFlow backend: a ``keras.Model`` whose compiled ``train_step`` trains a generator against a discriminator."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .gan_base import LOSSES, ends_with_sigmoid, normalize_loss

__all__ = ["GAN", "LOSSES", "normalize_loss", "ends_with_sigmoid"]

_EPS = 1e-7


def _to_logits(out: tf.Tensor, from_logits: bool) -> tf.Tensor:
    """Recover logits from a discriminator output, stably where the sigmoid's input is reachable."""
    if from_logits:
        return out
    logits = getattr(out, "_keras_logits", None)
    if logits is not None:
        return tf.cast(logits, tf.float32)
    if not tf.executing_eagerly() and getattr(getattr(out, "op", None), "type", None) == "Sigmoid":
        return tf.cast(out.op.inputs[0], tf.float32)
    p = tf.clip_by_value(out, _EPS, 1.0 - _EPS)
    return tf.math.log(p) - tf.math.log1p(-p)


def _per_example(x: tf.Tensor) -> tf.Tensor:
    """Average a discriminator output over all but the batch axis: shape (batch,)."""
    x = tf.cast(x, tf.float32)
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


class GAN(keras.Model):
    """A generator and a discriminator trained adversarially by ``fit()``.

    Args:
        generator: Model mapping noise of shape ``(latent_dim,)`` to samples.
        discriminator: Model mapping samples to one score (a probability if it ends with a sigmoid,
            otherwise logits / a critic score).
        latent_dim: Length of the noise vector.
        loss: ``"bce"`` (non-saturating, default), ``"lsgan"`` (least squares), ``"hinge"`` or
            ``"wgan-gp"``.
        d_steps: Discriminator updates per generator update.
        gp_weight: Gradient-penalty weight (WGAN-GP only).
        from_logits: Whether the discriminator outputs logits; ``None`` detects it from the last
            layer's activation.
        seed: Base seed of the noise drawn in ``train_step`` (stateless, so a restored
            checkpoint continues the same noise stream).
        name: Model name.
        **kwargs: Passed to ``keras.Model``.

    Each step logs ``d_loss``, ``g_loss`` and the mean ``d_real`` / ``d_fake``: D(x) and D(G(z)) as
    probabilities for ``bce`` (and ``lsgan`` with a sigmoid discriminator), raw scores otherwise.
    Under a ``tf.distribute`` strategy per-replica losses are divided by the global batch size.
    """

    def __init__(
        self,
        generator: Any,
        discriminator: Any,
        *,
        latent_dim: int,
        loss: str = "bce",
        d_steps: int = 1,
        gp_weight: float = 10.0,
        from_logits: bool | None = None,
        seed: int | None = None,
        name: str = "gan",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.loss_name = normalize_loss(loss)
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.from_logits = (not ends_with_sigmoid(discriminator)) if from_logits is None else bool(from_logits)
        self.seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
        self.score_kind = (
            "probability"
            if self.loss_name == "bce" or (self.loss_name == "lsgan" and not self.from_logits)
            else "score"
        )
        self.noise_counter = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            name="noise_counter",
            aggregation="only_first_replica",
        )
        self.d_optimizer: Any = None
        self.g_optimizer: Any = None
        self.built = True

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Generate samples from noise ``inputs``."""
        return self.generator(inputs, training=training)

    def compile(self, d_optimizer: Any = None, g_optimizer: Any = None, **kwargs: Any) -> None:
        """Configure the two optimizers (default: Adam, learning rate 2e-4, beta_1 0.5).

        Args:
            d_optimizer: Discriminator optimizer.
            g_optimizer: Generator optimizer.
            **kwargs: Passed to ``keras.Model.compile`` (``jit_compile``, ``run_eagerly``,
                ``steps_per_execution``...).
        """
        super().compile(**kwargs)
        with self.distribute_strategy.scope():
            self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.build_optimizers()

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now (XLA cannot create them inside a step)."""
        for opt, model in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if opt is not None and not opt.built and model.built:
                opt.build(model.trainable_variables)

    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """Generate ``n`` samples from seeded normal noise, as a NumPy array."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        return np.asarray(self.generator(z, training=False))

    def _noise(self, batch: tf.Tensor, step: tf.Tensor, k: int) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        replica = tf.cast(ctx.replica_id_in_sync_group if ctx is not None else 0, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64) + replica * 7919, step * (self.d_steps + 2) + k])
        return tf.random.stateless_normal(tf.stack([batch, self.latent_dim]), seed=seed, alg="philox")

    def _d_losses(self, real_out: tf.Tensor, fake_out: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-example discriminator loss and the D(x), D(G(z)) values to log."""
        if self.loss_name == "lsgan":
            r, f = _per_example(real_out), _per_example(fake_out)
            return 0.5 * (tf.square(r - 1.0) + tf.square(f)), r, f
        r = _per_example(_to_logits(real_out, self.from_logits))
        f = _per_example(_to_logits(fake_out, self.from_logits))
        if self.loss_name == "bce":
            return tf.nn.softplus(-r) + tf.nn.softplus(f), tf.sigmoid(r), tf.sigmoid(f)
        if self.loss_name == "hinge":
            return tf.nn.relu(1.0 - r) + tf.nn.relu(1.0 + f), r, f
        return f - r, r, f

    def _g_loss(self, fake_out: tf.Tensor) -> tf.Tensor:
        if self.loss_name == "lsgan":
            return 0.5 * tf.square(_per_example(fake_out) - 1.0)
        f = _per_example(_to_logits(fake_out, self.from_logits))
        if self.loss_name == "bce":
            return tf.nn.softplus(-f)
        return -f

    def _gradient_penalty(self, real: tf.Tensor, fake: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(real)[0]
        shape = tf.concat([[batch], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
        alpha = tf.random.stateless_uniform(
            shape, seed=tf.stack([tf.constant(self.seed + 1, tf.int64), step]), alg="philox"
        )
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            score = _per_example(_to_logits(self.discriminator(mixed, training=True), self.from_logits))
        grads = tf.reshape(tape.gradient(score, mixed), [batch, -1])
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
        return tf.square(norm - 1.0)

    def _regularization(self, model: Any) -> tf.Tensor:
        losses = list(getattr(model, "losses", []))
        return tf.nn.scale_regularization_loss(tf.add_n(losses)) if losses else tf.constant(0.0)

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """One discriminator phase (``d_steps`` updates) and one generator update."""
        if self.d_optimizer is None or self.g_optimizer is None:
            raise RuntimeError("call GAN.compile(d_optimizer=..., g_optimizer=...) before fit()")
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = tf.cast(real, tf.float32)
        batch = tf.shape(real)[0]
        step = self.noise_counter.value
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        for k in range(self.d_steps):
            z = self._noise(batch, step, k)
            with tf.GradientTape() as tape:
                fake = tf.cast(self.generator(z, training=True), tf.float32)
                real_out = self.discriminator(real, training=True)
                fake_out = self.discriminator(fake, training=True)
                per_example, d_real, d_fake = self._d_losses(real_out, fake_out)
                if self.loss_name == "wgan-gp":
                    per_example = per_example + self.gp_weight * self._gradient_penalty(
                        real, fake, step * self.d_steps + k
                    )
                d_loss = tf.nn.compute_average_loss(per_example) + self._regularization(self.discriminator)
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        z = self._noise(batch, step, self.d_steps)
        with tf.GradientTape() as tape:
            fake_out = self.discriminator(self.generator(z, training=True), training=True)
            g_per_example = self._g_loss(fake_out)
            g_loss = tf.nn.compute_average_loss(g_per_example) + self._regularization(self.generator)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        self.noise_counter.assign_add(1)
        return {
            "d_loss": tf.reduce_mean(per_example),
            "g_loss": tf.reduce_mean(g_per_example),
            "d_real": tf.reduce_mean(d_real),
            "d_fake": tf.reduce_mean(d_fake),
        }

    def get_config(self) -> dict[str, Any]:
        """Return the constructor options that are plain data (the sub-models are not serialized)."""
        return {
            "name": self.name,
            "latent_dim": self.latent_dim,
            "loss": self.loss_name,
            "d_steps": self.d_steps,
            "gp_weight": self.gp_weight,
            "from_logits": self.from_logits,
            "seed": self.seed,
        }

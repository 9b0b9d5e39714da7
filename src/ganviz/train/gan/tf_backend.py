"""``ganviz.GAN`` on the TensorFlow backend: a ``keras.Model`` whose compiled ``train_step`` trains a generator against a discriminator."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from ...errors import NotReadyError, TrainOptionError
from ..keras_internals import all_layers, keras_logits, strategy_set_at_build
from .base import DEFAULT_STEPS_PER_EXECUTION, LOSSES, RECIPE_DEFAULTS, GANBase, ends_with_sigmoid, normalize_loss

__all__ = [
    "GAN",
    "LOSSES",
    "DEFAULT_STEPS_PER_EXECUTION",
    "normalize_loss",
    "ends_with_sigmoid",
    "scores_each_example_alone",
    "xla_by_default",
]

_EPS = 1e-7


def _to_logits(out: tf.Tensor, from_logits: bool) -> tf.Tensor:
    """Recover logits from a discriminator output, stably where the sigmoid's input is reachable."""
    if from_logits:
        return out
    logits = keras_logits(out)
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


_BATCH_LAYERS = ("BatchNormalization", "SyncBatchNormalization")


def _own_layers(model: Any) -> list[Any] | None:
    """The layers of ``model`` when every one is Keras's own, else ``None`` (also for a non-Keras model)."""
    layers = all_layers(model)
    if layers is None:
        return None
    return layers if all(type(layer).__module__.startswith("keras.") for layer in layers) else None


def scores_each_example_alone(model: Any) -> bool:
    """Whether ``model`` is built only from Keras's own layers and none mixes examples of a batch.

    Then scoring real and fake images in one call gives the same outputs as two calls.
    """
    layers = _own_layers(model)
    return layers is not None and not any(type(layer).__name__ in _BATCH_LAYERS for layer in layers)


def xla_by_default(*models: Any) -> bool:
    """Whether ``jit_compile="auto"`` turns XLA on: when every model is made of Keras's own layers.

    Keras's own choice leaves XLA off on CPU-only machines; on the seed's GAN and on a small DCGAN the
    XLA step ran 1.2-1.6x faster on this project's 2-core CPU (BENCHMARKS.md). A user's own layer may
    hold operations XLA cannot compile, so then Keras's choice stands.
    """
    return all(_own_layers(m) is not None for m in models)


def _ema_update(targets: list[Any], sources: list[Any], decay: float, step: tf.Tensor) -> None:
    """``target = d * target + (1 - d) * source`` for each pair, on every replica.

    ``d`` warms up as ``min(decay, (1 + step) / (10 + step))`` so early weights fade fast.
    """
    step = tf.cast(step, tf.float32)
    decay = tf.minimum(decay, (1.0 + step) / (10.0 + step))

    def merge(strategy: Any, values: list[Any]) -> None:
        for target, value in zip(targets, values):
            var = getattr(target, "value", target)
            strategy.extended.update(
                var, lambda v, w: v.assign(decay * v + (1.0 - decay) * tf.cast(w, v.dtype)), args=(value,)
            )

    tf.distribute.get_replica_context().merge_call(merge, args=([tf.identity(s.value) for s in sources],))


class GAN(GANBase):
    """A generator and a discriminator trained adversarially by ``fit()`` (TensorFlow backend).

    Args:
        generator, discriminator, latent_dim, loss, d_steps, gp_weight, from_logits, seed, name,
            **kwargs: as :class:`~ganviz.train.gan.base.GANBase`.
        ema: Decay of an exponential moving average of the generator's weights (such as 0.999),
            kept in ``ema_generator``; ``sample()`` and :attr:`sampler` use it. ``None``: none.
            Default: 0.999 with ``loss="bce"`` (the measured recipe, BENCHMARKS.md), else none.
        r1_weight: Weight ``gamma`` of the R1 penalty ``gamma / 2 * |grad D(x)|^2`` on real images
            (0: off). Default: 1.0 with ``loss="bce"`` (the measured recipe), else 0.
        r1_shrink: The R1 penalty is estimated each step on ``batch // r1_shrink`` real images (at
            least one; 1: the whole batch), with a discriminator call of its own: its double
            backward pass costs that much less (the mean over a sub-batch is an unbiased estimate of
            the batch mean; StyleGAN2 shrinks its path-length regulariser's batch the same way).
        label_smoothing: One-sided label smoothing of the ``bce`` loss: real images aim at
            ``1 - label_smoothing`` (0: off).
        updates: ``"simultaneous"``: both models' gradients come from the same calls (the
            generator once, the discriminator on the real and on the fake images), then both
            optimizers apply them (as TensorFlow's DCGAN tutorial trains); ``"alternating"``: the
            discriminator is updated first and the generator's gradient comes from another
            discriminator call, after that update (as the seed and Keras's examples train).
            ``"auto"`` (default): simultaneous when ``d_steps == 1`` and the R1 penalty is on,
            alternating otherwise. Simultaneous steps save a discriminator forward pass on the
            fakes (1.1x the step's speed here) and, with R1, train as well as alternating ones;
            without a penalty they trained far worse on the seed's GAN (raw FID 31-57 against 14-26
            over three seeds, BENCHMARKS.md), as Mescheder et al. (2018) found for unregularized
            simultaneous gradient steps.

    Each step logs ``d_loss``, ``g_loss`` and the mean ``d_real`` / ``d_fake``: D(x) and D(G(z)) as
    probabilities for ``bce`` (and ``lsgan`` with a sigmoid discriminator), raw scores otherwise.
    Under a ``tf.distribute`` strategy per-replica losses are divided by the global batch size.
    """

    backend_name = "TensorFlow"
    recipe_options = frozenset(RECIPE_DEFAULTS)

    def __init__(self, generator: Any, discriminator: Any, **options: Any) -> None:
        super().__init__(generator, discriminator, **options)
        self.joint_discriminator = scores_each_example_alone(discriminator)

    def counter_options(self) -> dict[str, Any]:  # noqa: D102
        return {"dtype": "int64", "aggregation": "only_first_replica"}

    def optimizer_scope(self) -> Any:  # noqa: D102
        return self.distribute_strategy.scope()

    def compile(
        self,
        d_optimizer: Any = None,
        g_optimizer: Any = None,
        *,
        jit_compile: bool | str = "auto",
        steps_per_execution: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Configure the two optimizers (default: Adam, learning rate 2e-4, beta_1 0.5).

        Args:
            d_optimizer: Discriminator optimizer.
            g_optimizer: Generator optimizer.
            jit_compile: XLA. ``"auto"`` (default): on when both models are made of Keras's own
                layers (:func:`xla_by_default`; faster on CPUs and GPUs alike), otherwise Keras's
                choice (on GPUs only); off under a ``tf.distribute`` strategy (Keras's XLA step cannot
                place mirrored variables).
            steps_per_execution: Training steps per call of the compiled function; callbacks see
                a batch end every this many steps. ``None``: ``DEFAULT_STEPS_PER_EXECUTION``, or 1
                under a ``tf.distribute`` strategy (Keras's multi-step loop fails there). With XLA
                on one device the steps of a call run as one XLA program (:meth:`make_train_function`).
            **kwargs: Passed to ``keras.Model.compile`` (``run_eagerly``...).
        """
        distributed = strategy_set_at_build(self) is not None or tf.distribute.has_strategy()
        if jit_compile == "auto" and distributed:
            jit_compile = False
        elif (
            jit_compile == "auto"
            and not kwargs.get("run_eagerly")
            and xla_by_default(self.generator, self.discriminator)
        ):
            jit_compile = True
        self._default_execution = steps_per_execution is None
        if steps_per_execution is None:
            steps_per_execution = 1 if distributed else DEFAULT_STEPS_PER_EXECUTION
        super().compile(d_optimizer, g_optimizer, jit_compile=jit_compile, steps_per_execution=int(steps_per_execution),
                        **kwargs)  # fmt: skip
        self._wanted_steps_per_execution = int(steps_per_execution)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, **kwargs: Any) -> Any:
        """``keras.Model.fit``, with two differences that keep training fast and working.

        An in-memory array becomes a repeated, shuffled ``tf.data`` pipeline with
        ``steps_per_epoch = ceil(len(x) / batch_size)`` (Keras would rebuild its iterator every
        epoch, which on small data costs more than the training). Under a multi-worker strategy
        (``MultiWorkerMirroredStrategy``, where Keras 3 ``fit`` fails) the GAN trains through
        :func:`ganviz.train.gan.distributed.fit_distributed`; callbacks then run on the chief only.
        """
        from .distributed import fit_distributed, is_multi_worker

        plain = not any(kwargs.get(k) for k in ("validation_data", "validation_split", "sample_weight", "class_weight"))
        if isinstance(x, np.ndarray) and y is None and plain:
            from ..data import to_dataset

            batch = min(int(batch_size or 32), len(x))
            kwargs["steps_per_epoch"] = kwargs.get("steps_per_epoch") or math.ceil(len(x) / batch)
            shuffle = kwargs.pop("shuffle", True)
            x = to_dataset(x, batch, shuffle=bool(shuffle), seed=self.seed + int(self.noise_counter.numpy()))
            batch_size = None
            kwargs["shuffle"] = False  # the pipeline shuffles (Keras would warn that it cannot)
        if not is_multi_worker(self.distribute_strategy):
            self._fit_execution_to_epoch(kwargs.get("steps_per_epoch"), kwargs.get("callbacks"))
            return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)
        steps = kwargs.get("steps_per_epoch")
        if steps is None:
            cardinality = int(x.cardinality()) if hasattr(x, "cardinality") else -1
            if cardinality <= 0:
                raise TrainOptionError(
                    "under a multi-worker strategy give fit() a steps_per_epoch (the dataset has no known size)"
                )
            steps, x = cardinality, x.repeat()
        return fit_distributed(
            self,
            x,
            epochs=int(epochs),
            steps_per_epoch=int(steps),
            steps_per_execution=int(self.steps_per_execution or 1),
            callbacks=kwargs.get("callbacks") or [],
        )

    def make_train_function(self, force: bool = False) -> Any:
        """Keras's, except with XLA on one device: then every step of an execution runs in one compiled
        program (:mod:`ganviz.train.gan.fused_steps`; 1.18x Keras's loop on the seed's GAN, BENCHMARKS.md)."""
        from .fused_steps import can_fuse, fused_train_function

        if self.train_function is not None and not force:
            return self.train_function
        if not can_fuse(self):
            return super().make_train_function(force=force)
        self.train_function = fused_train_function(self)
        return self.train_function

    def _noise(self, batch: tf.Tensor, step: tf.Tensor, k: int) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        replica = tf.cast(ctx.replica_id_in_sync_group if ctx is not None else 0, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64) + replica * 7919, step * (self.d_steps + 2) + k])
        return tf.random.stateless_normal(tf.stack([batch, self.latent_dim]), seed=seed, alg="philox")

    def _d_losses(
        self, real_out: tf.Tensor, fake_out: tf.Tensor, *, logits: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-example discriminator loss and the D(x), D(G(z)) values to log (``logits``: already logits)."""
        if self.loss_name == "lsgan":
            r, f = _per_example(real_out), _per_example(fake_out)
            return 0.5 * (tf.square(r - 1.0) + tf.square(f)), r, f
        r = _per_example(_to_logits(real_out, self.from_logits or logits))
        f = _per_example(_to_logits(fake_out, self.from_logits or logits))
        if self.loss_name == "bce":
            real_term = tf.nn.softplus(-r)
            if self.label_smoothing:  # one-sided: real images aim at 1 - label_smoothing
                real_term = (1.0 - self.label_smoothing) * real_term + self.label_smoothing * tf.nn.softplus(r)
            return real_term + tf.nn.softplus(f), tf.sigmoid(r), tf.sigmoid(f)
        if self.loss_name == "hinge":
            return tf.nn.relu(1.0 - r) + tf.nn.relu(1.0 + f), r, f
        return f - r, r, f

    def _g_loss(self, fake_out: tf.Tensor, *, logits: bool = False) -> tf.Tensor:
        """Per-example generator loss of the discriminator's output on fakes (``logits``: already logits)."""
        if self.loss_name == "lsgan":
            return 0.5 * tf.square(_per_example(fake_out) - 1.0)
        f = _per_example(_to_logits(fake_out, self.from_logits or logits))
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
        """One training step: simultaneous updates (``updates``), or one discriminator phase (``d_steps``
        updates) then one generator update.

        Simultaneous: one generator call, the discriminator on the real and on the fake images, both
        gradients, both updates. Alternating, as in the seed, the generator update reuses the last
        discriminator update's noise, so the generator runs forward once per step, and a
        discriminator without batch-dependent layers scores real and fake images in one call.
        """
        if self.d_optimizer is None or self.g_optimizer is None:
            raise NotReadyError("call GAN.compile(d_optimizer=..., g_optimizer=...) before fit()")
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = tf.cast(real, tf.float32)
        if self.simultaneous:
            return self._simultaneous_step(real)
        batch = tf.shape(real)[0]
        step = self.noise_counter.value
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        g_tape = tf.GradientTape(watch_accessed_variables=False)
        for k in range(self.d_steps):
            z = self._noise(batch, step, k)
            if k == self.d_steps - 1:
                with g_tape:
                    g_tape.watch([getattr(v, "value", v) for v in g_vars])
                    fake_g = tf.cast(self.generator(z, training=True), tf.float32)
                fake = tf.stop_gradient(fake_g)
            else:
                fake = tf.cast(self.generator(z, training=True), tf.float32)
            with tf.GradientTape() as tape:
                real_out, fake_out = self._score_pair(real, fake)
                d_loss, logged_d_loss, d_real, d_fake = self._discriminator_loss(
                    real, fake, real_out, fake_out, step * self.d_steps + k
                )
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        with g_tape:
            fake_out = self.discriminator(fake_g, training=True)
            g_per_example = self._g_loss(fake_out)
            g_loss = tf.nn.compute_average_loss(g_per_example) + self._regularization(self.generator)
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        return self._end_step(step, logged_d_loss, g_per_example, d_real, d_fake)

    def _simultaneous_step(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
        """One step in which both losses come from the same generator and discriminator calls."""
        batch = tf.shape(real)[0]
        step = self.noise_counter.value
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        z = self._noise(batch, step, 0)
        with tf.GradientTape() as d_tape, tf.GradientTape(watch_accessed_variables=False) as g_tape:
            g_tape.watch([getattr(v, "value", v) for v in g_vars])
            fake = tf.cast(self.generator(z, training=True), tf.float32)
            # Two discriminator calls, not one on real + fake: the generator's gradient then goes back
            # through the fake half only (faster than the joint call here, BENCHMARKS.md).
            real_out, fake_out = self._score_pair(real, fake, joint=False)  # logits (lsgan: raw scores)
            d_loss, logged_d_loss, d_real, d_fake = self._discriminator_loss(
                real, tf.stop_gradient(fake), real_out, fake_out, step
            )
            g_per_example = self._g_loss(fake_out, logits=True)
            g_loss = tf.nn.compute_average_loss(g_per_example) + self._regularization(self.generator)
        d_grads = d_tape.gradient(d_loss, d_vars)
        g_grads = g_tape.gradient(g_loss, g_vars)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return self._end_step(step, logged_d_loss, g_per_example, d_real, d_fake)

    def _discriminator_loss(
        self, real: tf.Tensor, fake: tf.Tensor, real_out: tf.Tensor, fake_out: tf.Tensor, gp_step: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """The discriminator's loss (with WGAN-GP's or R1's penalty), the value to log, D(x) and D(G(z))."""
        per_example, d_real, d_fake = self._d_losses(real_out, fake_out, logits=self.loss_name != "lsgan")
        if self.loss_name == "wgan-gp":
            per_example = per_example + self.gp_weight * self._gradient_penalty(real, fake, gp_step)
        d_loss = tf.nn.compute_average_loss(per_example) + self._regularization(self.discriminator)
        logged_d_loss = tf.reduce_mean(per_example)
        if self.r1_weight:
            r1 = self._r1_squared_norms(real)
            d_loss = d_loss + 0.5 * self.r1_weight * tf.nn.compute_average_loss(r1)
            logged_d_loss = logged_d_loss + 0.5 * self.r1_weight * tf.reduce_mean(r1)
        return d_loss, logged_d_loss, d_real, d_fake

    def _end_step(
        self,
        step: tf.Tensor,
        logged_d_loss: tf.Tensor,
        g_per_example: tf.Tensor,
        d_real: tf.Tensor,
        d_fake: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        """The EMA update, the step counter and the logs, after both updates."""
        if self.ema_generator is not None:
            _ema_update(self.ema_generator.weights, self.generator.weights, self.ema, step)
        self.noise_counter.assign_add(1)
        return {
            "d_loss": logged_d_loss,
            "g_loss": tf.reduce_mean(g_per_example),
            "d_real": tf.reduce_mean(d_real),
            "d_fake": tf.reduce_mean(d_fake),
        }

    def _score_pair(
        self, real: tf.Tensor, fake: tf.Tensor, *, joint: bool | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """D(real) and D(fake), as logits except for ``lsgan``: in one call when ``joint`` (default: when the
        discriminator scores each example alone), else in two."""
        as_logits = self.loss_name != "lsgan"
        if self.joint_discriminator if joint is None else joint:
            real_and_fake_scores = self.discriminator(tf.concat([real, fake], axis=0), training=True)  # a traced name
            both = _to_logits(real_and_fake_scores, self.from_logits) if as_logits else real_and_fake_scores
            real_out, fake_out = tf.split(both, 2, axis=0)
            return real_out, fake_out
        real_scores = self.discriminator(real, training=True)  # the names the traced diagram shows
        fake_scores = self.discriminator(fake, training=True)
        if as_logits:
            return _to_logits(real_scores, self.from_logits), _to_logits(fake_scores, self.from_logits)
        return real_scores, fake_scores

    def _r1_squared_norms(self, real: tf.Tensor) -> tf.Tensor:
        """R1: the squared norm of D's input gradient at each of the first ``batch // r1_shrink`` real images."""
        count = tf.maximum(tf.shape(real)[0] // self.r1_shrink, 1)
        subset = real[:count]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(subset)
            r1_scores = self.discriminator(subset, training=True)  # the name the traced diagram shows
            logits = _to_logits(r1_scores, self.from_logits) if self.loss_name != "lsgan" else r1_scores
            score = tf.reduce_sum(_per_example(logits))
        grads = tape.gradient(score, subset)
        return tf.reduce_sum(tf.reshape(tf.square(grads), [count, -1]), axis=1)

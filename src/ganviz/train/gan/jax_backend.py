"""``ganviz.GAN`` on the JAX backend: a stateless ``train_step`` with ``stateless_call`` and ``jax.value_and_grad``."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from keras import ops

from .base import (
    DEFAULT_STEPS_PER_EXECUTION,
    LOSSES,
    RECIPE_DEFAULTS,
    GANBase,
    d_losses,
    ends_with_sigmoid,
    g_losses,
    logits_of,
    normalize_loss,
    per_example,
    to_logits,
)

__all__ = ["GAN", "LOSSES", "normalize_loss", "ends_with_sigmoid"]


class _BothOptimizers:
    """The two GAN optimizers seen as one ``model.optimizer`` by Keras's JAX trainer.

    That trainer carries ``model.optimizer.variables`` through each jitted step as explicit state
    and writes it back afterwards; listing both optimizers' variables there keeps both in the state.
    """

    def __init__(self, gan: GAN) -> None:
        self.gan = gan

    @property
    def variables(self) -> list[Any]:
        return [*self.gan.d_optimizer.variables, *self.gan.g_optimizer.variables]

    @property
    def built(self) -> bool:
        return bool(self.gan.d_optimizer.built and self.gan.g_optimizer.built)

    def build(self, _variables: Any = None) -> None:
        self.gan.build_optimizers()

    @property
    def iterations(self) -> Any:
        return self.gan.g_optimizer.iterations


def _positions(every: list[Any], some: list[Any]) -> list[int]:
    where = {id(v): i for i, v in enumerate(every)}
    return [where[id(v)] for v in some]


def _take(values: list[Any], at: list[int]) -> list[Any]:
    return [values[i] for i in at]


def _kinds(every: list[Any], trainable: list[Any], frozen: list[Any]) -> list[tuple[str, int]]:
    """Each of ``every`` as ``("t", i)``: the ``i``-th of ``trainable``, or ``("nt", i)``: of ``frozen``."""
    t = {id(v): i for i, v in enumerate(trainable)}
    nt = {id(v): i for i, v in enumerate(frozen)}
    return [("t", t[id(v)]) if id(v) in t else ("nt", nt[id(v)]) for v in every]


def _put(values: list[Any], at: list[int], new: list[Any]) -> list[Any]:
    out = list(values)
    for i, v in zip(at, new):
        out[i] = v
    return out


class GAN(GANBase):
    """A generator and a discriminator trained adversarially by ``fit()`` on the JAX backend.

    Same arguments, losses, ``d_steps``, seeding and logs as the TensorFlow version, the recipe options
    too (``ema``, ``r1_weight``, ``r1_shrink``, ``label_smoothing``, ``updates``); the step is a pure
    function of the variables (Keras's "customizing fit() with JAX" pattern); jitted on one device, the steps
    of one execution run as one compiled ``jax.lax.scan`` (:mod:`ganviz.train.gan.jax_fused`).
    Noise comes from ``jax.random`` keyed on ``seed`` and the step counter, so a resumed run
    continues the same stream.
    """

    backend_name = "JAX"
    recipe_options = frozenset(RECIPE_DEFAULTS)

    def compile(
        self, d_optimizer: Any = None, g_optimizer: Any = None, *, steps_per_execution: int | None = None, **kwargs: Any
    ) -> None:
        """Configure the two optimizers (default: Adam, learning rate 2e-4, beta_1 0.5).

        ``steps_per_execution``: training steps per call of the compiled function; callbacks see a batch
        end every this many steps. ``None``: ``DEFAULT_STEPS_PER_EXECUTION`` (8), shortened in ``fit`` so
        that executions end on the epoch's end and on the Monitor's intervals. Jitted on one device, the
        steps of a call run in one compiled ``jax.lax.scan`` (:meth:`make_train_function`). Other
        arguments as on TensorFlow (``jit_compile``, ``run_eagerly``...: passed to ``keras.Model.compile``).
        """
        self._default_execution = steps_per_execution is None
        spe = DEFAULT_STEPS_PER_EXECUTION if steps_per_execution is None else int(steps_per_execution)
        super().compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, steps_per_execution=spe, **kwargs)
        self._wanted_steps_per_execution = spe
        self.optimizer = _BothOptimizers(self)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, **kwargs: Any) -> Any:
        """``keras.Model.fit``; with the default ``steps_per_execution`` the executions end on each epoch's
        end (``steps_per_epoch``, or the batches of an array) and on the Monitor's intervals."""
        per_epoch = kwargs.get("steps_per_epoch")
        if per_epoch is None and getattr(self, "_default_execution", False) and hasattr(x, "shape") and x.shape:
            per_epoch = math.ceil(int(x.shape[0]) / int(batch_size or 32))
        self._fit_execution_to_epoch(per_epoch, kwargs.get("callbacks"))
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def make_train_function(self, force: bool = False) -> Any:
        """Keras's, except jitted on one device: then every step of an execution runs in one compiled
        ``jax.lax.scan`` (:mod:`ganviz.train.gan.jax_fused`), not a Python loop of jitted steps."""
        from .jax_fused import can_fuse, fused_train_function

        if self.train_function is not None and not force:
            return self.train_function
        if not can_fuse(self):
            super().make_train_function(force=force)
            return self.train_function
        self.train_function = fused_train_function(self)
        return self.train_function

    def _layout(self) -> dict[str, Any]:
        """Where each sub-model's variables sit in the GAN's flat state lists (fixed once built)."""
        tv, ntv = self.trainable_variables, self.non_trainable_variables
        g, d = self.generator, self.discriminator
        return {
            "g_t": _positions(tv, g.trainable_variables),
            "g_nt": _positions(ntv, g.non_trainable_variables),
            "d_t": _positions(tv, d.trainable_variables),
            "d_nt": _positions(ntv, d.non_trainable_variables),
            "step": _positions(ntv, [self.noise_counter])[0],
            "d_opt": len(self.d_optimizer.variables),
            "ema": _positions(ntv, self.ema_generator.weights) if self.ema_generator is not None else [],
            # each generator weight (the EMA copy's order) as ("t", i) in g_tv or ("nt", i) in g_ntv
            "g_all": _kinds(g.weights, g.trainable_variables, g.non_trainable_variables),
        }

    def _noise(self, batch: int, step: Any, k: int) -> Any:
        key = jax.random.fold_in(jax.random.key(self.seed), self.noise_index(step, k))
        return jax.random.normal(key, (batch, self.latent_dim), dtype="float32")

    def _discriminate(self, d_tv: list[Any], d_ntv: list[Any], x: Any, as_logits: bool) -> tuple[Any, list[Any], Any]:
        with logits_of(self.discriminator, as_logits and not self.from_logits) as logits:
            out, d_ntv, losses = self.discriminator.stateless_call(d_tv, d_ntv, x, training=True, return_losses=True)
        return out, d_ntv, (sum(losses) if losses else 0.0, logits or self.from_logits)

    def _gradient_penalty(self, d_tv: list[Any], d_ntv: list[Any], real: Any, fake: Any, step: Any) -> Any:
        key = jax.random.fold_in(jax.random.key(self.seed + 1), step)
        alpha = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype="float32")
        mixed = real + alpha * (fake - real)

        def score(x: Any) -> Any:
            out, _, (_, logits) = self._discriminate(d_tv, d_ntv, x, True)
            return jnp.sum(to_logits(out, logits))

        grads = jax.grad(score)(mixed).reshape(real.shape[0], -1)
        return jnp.square(jnp.sqrt(jnp.sum(jnp.square(grads), axis=1) + 1e-12) - 1.0)

    def _r1_squared_norms(self, d_tv: list[Any], d_ntv: list[Any], real: Any) -> Any:
        """R1: the squared norm of D's input gradient at each of the first ``batch // r1_shrink`` real images."""
        count = max(real.shape[0] // self.r1_shrink, 1)
        subset = real[:count]
        as_logits = self.loss_name != "lsgan"

        def score(x: Any) -> Any:
            out, _, (_, logits) = self._discriminate(d_tv, d_ntv, x, as_logits)
            return jnp.sum(to_logits(out, logits) if as_logits else per_example(out))

        grads = jax.grad(score)(subset).reshape(count, -1)
        return jnp.sum(jnp.square(grads), axis=1)

    def _d_loss(self, d_tv: list[Any], d_ntv: list[Any], real: Any, fake: Any, gp_step: Any) -> tuple[Any, Any]:
        """The discriminator's loss (with WGAN-GP's or R1's penalty) and ``(d_ntv, logged loss, D(x), D(G(z)))``."""
        wants_logits = self.loss_name != "lsgan"
        real_out, d_ntv, (reg, logits) = self._discriminate(d_tv, d_ntv, real, wants_logits)
        fake_out, d_ntv, _ = self._discriminate(d_tv, d_ntv, fake, wants_logits)
        per, d_real, d_fake = d_losses(
            self.loss_name, real_out, fake_out, from_logits=logits, label_smoothing=self.label_smoothing
        )
        if self.loss_name == "wgan-gp":
            per = per + self.gp_weight * self._gradient_penalty(d_tv, d_ntv, real, fake, gp_step)
        loss = logged = jnp.mean(per)
        if self.r1_weight:
            r1 = 0.5 * self.r1_weight * jnp.mean(self._r1_squared_norms(d_tv, d_ntv, real))
            loss, logged = loss + r1, logged + r1
        return loss + reg, (d_ntv, logged, d_real, d_fake)

    def _g_loss(self, d_tv: list[Any], d_ntv: list[Any], fake: Any, g_reg: Any) -> tuple[Any, Any]:
        fake_out, d_ntv, (_, logits) = self._discriminate(d_tv, d_ntv, fake, self.loss_name != "lsgan")
        g_per = g_losses(self.loss_name, fake_out, from_logits=logits)
        return jnp.mean(g_per) + (sum(g_reg) if g_reg else 0.0), (d_ntv, g_per)

    def _ema(self, ema: list[Any], g_tv: list[Any], g_ntv: list[Any], step: Any, at: dict[str, Any]) -> list[Any]:
        """``ema = d * ema + (1 - d) * weight`` with ``d = min(decay, (1 + step) / (10 + step))``, as on TensorFlow."""
        t = jnp.asarray(step, "float32")
        decay = jnp.minimum(self.ema, (1.0 + t) / (10.0 + t))
        sources = [g_tv[i] if kind == "t" else g_ntv[i] for kind, i in at["g_all"]]
        return [
            decay * e + (1.0 - decay) * src.astype(e.dtype) if jnp.issubdtype(e.dtype, jnp.floating) else src
            for e, src in zip(ema, sources)
        ]

    def train_step(self, state: Any, data: Any) -> tuple[dict[str, Any], Any]:
        """One step as a pure function: simultaneous updates (``updates``), or one discriminator phase
        (``d_steps`` updates) then one generator update."""
        self.check_compiled()
        tv, ntv, ov, mv = state
        at = self._layout()
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.cast(real, "float32")
        batch = real.shape[0]
        step = ntv[at["step"]]
        d_tv, d_ntv, g_tv, g_ntv = (_take(tv, at["d_t"]), _take(ntv, at["d_nt"]), _take(tv, at["g_t"]),
                                    _take(ntv, at["g_nt"]))  # fmt: skip
        d_ov, g_ov = ov[: at["d_opt"]], ov[at["d_opt"] :]

        if self.simultaneous:
            # Both losses from the same generator call: D's gradient sees the fakes as constants, G's sees
            # D's weights as constants, so one gradient of their sum gives each model its own.
            def both_fn(d_tv: list[Any], g_tv: list[Any], d_ntv: list[Any], g_ntv: list[Any]) -> tuple[Any, Any]:
                z = self._noise(batch, step, 0)
                fake, g_ntv, g_reg = self.generator.stateless_call(g_tv, g_ntv, z, training=True, return_losses=True)
                fake = ops.cast(fake, "float32")
                d_loss, (d_ntv, logged, d_real, d_fake) = self._d_loss(
                    d_tv, d_ntv, real, jax.lax.stop_gradient(fake), step
                )
                frozen = [jax.lax.stop_gradient(v) for v in d_tv]
                g_loss, (_, g_per) = self._g_loss(frozen, d_ntv, fake, g_reg)
                return d_loss + g_loss, (d_ntv, g_ntv, logged, d_real, d_fake, g_per)

            grad_fn = jax.grad(both_fn, argnums=(0, 1), has_aux=True)
            (d_grads, g_grads), (d_ntv, g_ntv, logged, d_real, d_fake, g_per) = grad_fn(d_tv, g_tv, d_ntv, g_ntv)
            d_tv, d_ov = self.d_optimizer.stateless_apply(d_ov, d_grads, d_tv)
            g_tv, g_ov = self.g_optimizer.stateless_apply(g_ov, g_grads, g_tv)
        else:
            for k in range(self.d_steps):
                fake, g_ntv = self.generator.stateless_call(g_tv, g_ntv, self._noise(batch, step, k), training=True)
                grad_fn = jax.value_and_grad(self._d_loss, has_aux=True)
                (_, (d_ntv, logged, d_real, d_fake)), grads = grad_fn(
                    d_tv, d_ntv, real, ops.cast(fake, "float32"), step * self.d_steps + k
                )
                d_tv, d_ov = self.d_optimizer.stateless_apply(d_ov, grads, d_tv)

            def g_loss_fn(g_tv: list[Any], g_ntv: list[Any], d_ntv: list[Any]) -> tuple[Any, Any]:
                z = self._noise(batch, step, self.d_steps)
                fake, g_ntv, g_reg = self.generator.stateless_call(g_tv, g_ntv, z, training=True, return_losses=True)
                g_loss, (d_ntv, g_per) = self._g_loss(d_tv, d_ntv, ops.cast(fake, "float32"), g_reg)
                return g_loss, (g_ntv, d_ntv, g_per)

            (_, (g_ntv, d_ntv, g_per)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_tv, g_ntv, d_ntv)
            g_tv, g_ov = self.g_optimizer.stateless_apply(g_ov, grads, g_tv)

        tv = _put(_put(tv, at["d_t"], d_tv), at["g_t"], g_tv)
        ntv = _put(_put(ntv, at["d_nt"], d_ntv), at["g_nt"], g_ntv)
        if at["ema"]:
            ntv = _put(ntv, at["ema"], self._ema(_take(ntv, at["ema"]), g_tv, g_ntv, step, at))
        ntv = _put(ntv, [at["step"]], [step + 1])
        logs = {
            "d_loss": logged,
            "g_loss": jnp.mean(g_per),
            "d_real": jnp.mean(d_real),
            "d_fake": jnp.mean(d_fake),
        }
        return logs, (tv, ntv, [*d_ov, *g_ov], mv)

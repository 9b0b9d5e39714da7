"""``ganviz.GAN`` on the JAX backend: a stateless ``train_step`` with ``stateless_call`` and ``jax.value_and_grad``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from keras import ops

from .base import LOSSES, GANBase, d_losses, ends_with_sigmoid, g_losses, logits_of, normalize_loss, to_logits

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


def _put(values: list[Any], at: list[int], new: list[Any]) -> list[Any]:
    out = list(values)
    for i, v in zip(at, new):
        out[i] = v
    return out


class GAN(GANBase):
    """A generator and a discriminator trained adversarially by ``fit()`` on the JAX backend.

    Same arguments, losses, ``d_steps``, seeding and logs as the TensorFlow version (its recipe options
    ``ema``, ``r1_weight``, ``r1_shrink``, ``label_smoothing`` and ``updates`` are refused in one line: this
    step has none yet); the step is a
    pure function of the variables (Keras's "customizing fit() with JAX" pattern), jitted by Keras.
    Noise comes from ``jax.random`` keyed on ``seed`` and the step counter, so a resumed run
    continues the same stream.
    """

    backend_name = "JAX"

    def compile(self, d_optimizer: Any = None, g_optimizer: Any = None, **kwargs: Any) -> None:  # noqa: D102
        super().compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, **kwargs)
        self.optimizer = _BothOptimizers(self)

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

    def train_step(self, state: Any, data: Any) -> tuple[dict[str, Any], Any]:
        """One discriminator phase (``d_steps`` updates) and one generator update, as a pure function."""
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
        wants_logits = self.loss_name != "lsgan"

        def d_loss_fn(d_tv: list[Any], d_ntv: list[Any], fake: Any, k: int) -> tuple[Any, Any]:
            real_out, d_ntv, (reg, logits) = self._discriminate(d_tv, d_ntv, real, wants_logits)
            fake_out, d_ntv, _ = self._discriminate(d_tv, d_ntv, fake, wants_logits)
            per, d_real, d_fake = d_losses(self.loss_name, real_out, fake_out, from_logits=logits)
            if self.loss_name == "wgan-gp":
                per = per + self.gp_weight * self._gradient_penalty(d_tv, d_ntv, real, fake, step * self.d_steps + k)
            return jnp.mean(per) + reg, (d_ntv, per, d_real, d_fake)

        for k in range(self.d_steps):
            fake, g_ntv = self.generator.stateless_call(g_tv, g_ntv, self._noise(batch, step, k), training=True)
            grad_fn = jax.value_and_grad(d_loss_fn, has_aux=True)
            (_, (d_ntv, per, d_real, d_fake)), grads = grad_fn(d_tv, d_ntv, ops.cast(fake, "float32"), k)
            d_tv, d_ov = self.d_optimizer.stateless_apply(d_ov, grads, d_tv)

        def g_loss_fn(g_tv: list[Any], g_ntv: list[Any], d_ntv: list[Any]) -> tuple[Any, Any]:
            z = self._noise(batch, step, self.d_steps)
            fake, g_ntv, g_reg = self.generator.stateless_call(g_tv, g_ntv, z, training=True, return_losses=True)
            fake_out, d_ntv, (_, logits) = self._discriminate(d_tv, d_ntv, fake, wants_logits)
            g_per = g_losses(self.loss_name, fake_out, from_logits=logits)
            return jnp.mean(g_per) + (sum(g_reg) if g_reg else 0.0), (g_ntv, d_ntv, g_per)

        (_, (g_ntv, d_ntv, g_per)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_tv, g_ntv, d_ntv)
        g_tv, g_ov = self.g_optimizer.stateless_apply(g_ov, grads, g_tv)

        tv = _put(_put(tv, at["d_t"], d_tv), at["g_t"], g_tv)
        ntv = _put(_put(ntv, at["d_nt"], d_ntv), at["g_nt"], g_ntv)
        ntv = _put(ntv, [at["step"]], [step + 1])
        logs = {
            "d_loss": jnp.mean(per),
            "g_loss": jnp.mean(g_per),
            "d_real": jnp.mean(d_real),
            "d_fake": jnp.mean(d_fake),
        }
        return logs, (tv, ntv, [*d_ov, *g_ov], mv)

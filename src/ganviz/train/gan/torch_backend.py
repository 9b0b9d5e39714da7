"""``ganviz.GAN`` on the PyTorch backend: an eager ``train_step`` with ``torch`` autograd and ``optimizer.apply``."""

from __future__ import annotations

from typing import Any

import torch
from keras import ops

from . import base
from .base import LOSSES, GANBase, ends_with_sigmoid, normalize_loss

__all__ = ["GAN", "LOSSES", "normalize_loss", "ends_with_sigmoid"]


def _zero_grads(variables: list[Any]) -> None:
    for v in variables:
        v.value.grad = None


def _regularization(model: Any) -> Any:
    losses = list(getattr(model, "losses", []))
    return sum(losses) if losses else 0.0


def _apply(optimizer: Any, grads: Any, variables: list[Any]) -> None:
    with torch.no_grad():
        optimizer.apply(list(grads), variables)


class GAN(GANBase):
    """A generator and a discriminator trained adversarially by ``fit()`` on the PyTorch backend.

    Same arguments, losses, ``d_steps``, seeding and logs as the TensorFlow version, the recipe options
    too (``ema``, ``r1_weight``, ``r1_shrink``, ``label_smoothing``, ``updates``; by default with
    ``loss="bce"`` the measured recipe: R1 and an EMA generator, trained with simultaneous updates),
    written as Keras's "customizing fit() with PyTorch" guide shows: gradients from ``torch``
    autograd (``torch.autograd.grad`` with ``create_graph=True`` for the R1 penalty's input
    gradient), applied by each optimizer under ``torch.no_grad()``; the EMA copy is updated in place
    under ``torch.no_grad()`` after the generator's update. Noise comes from a ``torch.Generator``
    seeded with ``seed`` and the step counter, so a resumed run continues the same stream.
    """

    backend_name = "PyTorch"
    recipe_options = frozenset(base.RECIPE_DEFAULTS)

    def _noise(self, batch: int, step: int, k: int, device: Any) -> Any:
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed * 1_000_003 + int(self.noise_index(step, k)))
        return torch.randn((batch, self.latent_dim), generator=gen, device=device, dtype=torch.float32)

    def _discriminate(self, x: Any, as_logits: bool) -> tuple[Any, bool]:
        with base.logits_of(self.discriminator, as_logits and not self.from_logits) as logits:
            out = self.discriminator(x, training=True)
        return out, logits or self.from_logits

    def _gradient_penalty(self, real: Any, fake: Any, step: int) -> Any:
        gen = torch.Generator(device=real.device)
        gen.manual_seed((self.seed + 1) * 1_000_003 + step)
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, generator=gen, device=real.device, dtype=torch.float32)
        mixed = (real + alpha * (fake - real)).detach().requires_grad_(True)
        out, logits = self._discriminate(mixed, True)
        (grads,) = torch.autograd.grad(torch.sum(base.to_logits(out, logits)), mixed, create_graph=True)
        norm = torch.sqrt(torch.sum(torch.square(grads.reshape(real.shape[0], -1)), dim=1) + 1e-12)
        return torch.square(norm - 1.0)

    def _r1_squared_norms(self, real: Any) -> Any:
        """R1: the squared norm of D's input gradient at each of the first ``batch // r1_shrink`` real images."""
        count = max(real.shape[0] // self.r1_shrink, 1)
        subset = real[:count].detach().requires_grad_(True)
        as_logits = self.loss_name != "lsgan"
        out, logits = self._discriminate(subset, as_logits)
        score = torch.sum(base.to_logits(out, logits) if as_logits else base.per_example(out))
        (grads,) = torch.autograd.grad(score, subset, create_graph=True)  # differentiable: D's weights learn from it
        return torch.sum(torch.square(grads.reshape(count, -1)), dim=1)

    def _d_loss(
        self, real: Any, fake: Any, real_out: Any, fake_out: Any, logits: bool, gp_step: int
    ) -> tuple[Any, ...]:
        """The discriminator's loss (with WGAN-GP's or R1's penalty), the value to log, D(x) and D(G(z))."""
        per, d_real, d_fake = base.d_losses(
            self.loss_name, real_out, fake_out, from_logits=logits, label_smoothing=self.label_smoothing
        )
        if self.loss_name == "wgan-gp":
            per = per + self.gp_weight * self._gradient_penalty(real, fake, gp_step)
        loss = logged = torch.mean(per)
        if self.r1_weight:
            r1 = 0.5 * self.r1_weight * torch.mean(self._r1_squared_norms(real))
            loss, logged = loss + r1, logged + r1
        return loss + _regularization(self.discriminator), logged.detach(), d_real.detach(), d_fake.detach()

    def _update_ema(self, step: int) -> None:
        """``ema = d * ema + (1 - d) * weight`` with ``d = min(decay, (1 + step) / (10 + step))``, as on TensorFlow.

        Written as one ``assign`` per variable with the warm-up bound computed from the step counter's
        own value (a Python ``step`` would make it a constant, and the tracer would draw the first
        step's 0.1 as the decay), so the PyTorch tracer reads the decay (``ema``, the bound of the
        ``minimum``) and draws the assignment as the other backends' steps do. ``step`` is that counter.
        """
        t = self.noise_counter.value.to(torch.float32)
        decay = torch.minimum((1.0 + t) / (10.0 + t), torch.tensor(float(self.ema or 0.0)))
        with torch.no_grad():
            for ema, source in zip(self.ema_generator.weights, self.generator.weights):
                value = source.value
                if ema.value.is_floating_point():
                    d = decay.to(device=ema.value.device, dtype=ema.value.dtype)
                    ema.assign(d * ema.value + (1.0 - d) * value.to(ema.value.dtype))
                else:
                    ema.assign(value)

    def train_step(self, data: Any) -> dict[str, Any]:
        """One step: simultaneous updates (``updates``), or one discriminator phase (``d_steps`` updates) then
        one generator update; then the EMA copy (``ema``) and the step counter."""
        self.check_compiled()
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.cast(ops.convert_to_tensor(real), "float32")
        step = int(ops.convert_to_numpy(self.noise_counter.value))
        if self.simultaneous:
            logged, g_per, d_real, d_fake = self._simultaneous_step(real, step)
        else:
            logged, g_per, d_real, d_fake = self._alternating_step(real, step)
        if self.ema_generator is not None:
            self._update_ema(step)
        self.noise_counter.assign_add(1)
        return {"d_loss": logged, "g_loss": torch.mean(g_per), "d_real": torch.mean(d_real),
                "d_fake": torch.mean(d_fake)}  # fmt: skip

    def _simultaneous_step(self, real: Any, step: int) -> tuple[Any, ...]:
        """Both models' gradients from one generator call and the discriminator on the real and the fake
        images, computed before either optimizer moves a weight, then both updates."""
        batch, device = real.shape[0], real.device
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        wants_logits = self.loss_name != "lsgan"
        fake = ops.cast(self.generator(self._noise(batch, step, 0, device), training=True), "float32")
        real_out, logits = self._discriminate(real, wants_logits)
        fake_out, _ = self._discriminate(fake, wants_logits)  # one call: D's loss and G's loss both read it
        d_loss, logged, d_real, d_fake = self._d_loss(real, fake.detach(), real_out, fake_out, logits, step)
        g_per = base.g_losses(self.loss_name, fake_out, from_logits=logits)
        g_loss = torch.mean(g_per) + _regularization(self.generator)
        # Each loss differentiated for its own model only: D's gradient sees the fakes as constants (its
        # graph never reaches G's weights), G's sees D's weights as constants.
        d_grads = torch.autograd.grad(d_loss, [v.value for v in d_vars], retain_graph=True, allow_unused=True)
        g_grads = torch.autograd.grad(g_loss, [v.value for v in g_vars], allow_unused=True)
        _apply(self.d_optimizer, d_grads, d_vars)
        _apply(self.g_optimizer, g_grads, g_vars)
        return logged, g_per.detach(), d_real, d_fake

    def _alternating_step(self, real: Any, step: int) -> tuple[Any, ...]:
        """The seed's order: ``d_steps`` discriminator updates on fresh fakes, then the generator's update
        through the updated discriminator."""
        batch, device = real.shape[0], real.device
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        wants_logits = self.loss_name != "lsgan"
        for k in range(self.d_steps):
            with torch.no_grad():
                fake = ops.cast(self.generator(self._noise(batch, step, k, device), training=True), "float32")
            _zero_grads(d_vars)
            real_out, logits = self._discriminate(real, wants_logits)
            fake_out, _ = self._discriminate(fake, wants_logits)
            d_loss, logged, d_real, d_fake = self._d_loss(
                real, fake, real_out, fake_out, logits, step * self.d_steps + k
            )
            d_loss.backward()
            _apply(self.d_optimizer, [v.value.grad for v in d_vars], d_vars)
        _zero_grads(g_vars)
        fake_out, logits = self._discriminate(
            self.generator(self._noise(batch, step, self.d_steps, device), training=True), wants_logits
        )
        g_per = base.g_losses(self.loss_name, fake_out, from_logits=logits)
        g_loss = torch.mean(g_per) + _regularization(self.generator)
        g_loss.backward()
        _apply(self.g_optimizer, [v.value.grad for v in g_vars], g_vars)
        _zero_grads(d_vars)  # the generator's loss flowed through D too: leave no stale gradients behind
        return logged, g_per.detach(), d_real, d_fake

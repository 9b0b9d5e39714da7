"""``ganviz.GAN`` on the PyTorch backend: an eager ``train_step`` with ``torch`` autograd and ``optimizer.apply``."""

from __future__ import annotations

from typing import Any

import torch
from keras import ops

from .base import LOSSES, GANBase, d_losses, ends_with_sigmoid, g_losses, logits_of, normalize_loss, to_logits

__all__ = ["GAN", "LOSSES", "normalize_loss", "ends_with_sigmoid"]


def _zero_grads(variables: list[Any]) -> None:
    for v in variables:
        v.value.grad = None


def _regularization(model: Any) -> Any:
    losses = list(getattr(model, "losses", []))
    return sum(losses) if losses else 0.0


class GAN(GANBase):
    """A generator and a discriminator trained adversarially by ``fit()`` on the PyTorch backend.

    Same arguments, losses, ``d_steps``, seeding and logs as the TensorFlow version (its recipe options
    ``ema``, ``r1_weight``, ``r1_shrink``, ``label_smoothing`` and ``updates`` are refused in one line: this
    step has none yet), written as
    Keras's "customizing fit() with PyTorch" guide shows: ``loss.backward()``, then each variable's
    ``.value.grad`` applied by the optimizer under ``torch.no_grad()``. Noise comes from a
    ``torch.Generator`` seeded with ``seed`` and the step counter, so a resumed run continues the
    same stream.
    """

    backend_name = "PyTorch"

    def _noise(self, batch: int, step: int, k: int, device: Any) -> Any:
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed * 1_000_003 + int(self.noise_index(step, k)))
        return torch.randn((batch, self.latent_dim), generator=gen, device=device, dtype=torch.float32)

    def _discriminate(self, x: Any, as_logits: bool) -> tuple[Any, bool]:
        with logits_of(self.discriminator, as_logits and not self.from_logits) as logits:
            out = self.discriminator(x, training=True)
        return out, logits or self.from_logits

    def _gradient_penalty(self, real: Any, fake: Any, step: int) -> Any:
        gen = torch.Generator(device=real.device)
        gen.manual_seed((self.seed + 1) * 1_000_003 + step)
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, generator=gen, device=real.device, dtype=torch.float32)
        mixed = (real + alpha * (fake - real)).detach().requires_grad_(True)
        out, logits = self._discriminate(mixed, True)
        (grads,) = torch.autograd.grad(torch.sum(to_logits(out, logits)), mixed, create_graph=True)
        norm = torch.sqrt(torch.sum(torch.square(grads.reshape(real.shape[0], -1)), dim=1) + 1e-12)
        return torch.square(norm - 1.0)

    def train_step(self, data: Any) -> dict[str, Any]:
        """One discriminator phase (``d_steps`` updates) and one generator update."""
        self.check_compiled()
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.cast(ops.convert_to_tensor(real), "float32")
        batch, device = real.shape[0], real.device
        step = int(ops.convert_to_numpy(self.noise_counter.value))
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        wants_logits = self.loss_name != "lsgan"
        for k in range(self.d_steps):
            with torch.no_grad():
                fake = ops.cast(self.generator(self._noise(batch, step, k, device), training=True), "float32")
            _zero_grads(d_vars)
            real_out, logits = self._discriminate(real, wants_logits)
            fake_out, _ = self._discriminate(fake, wants_logits)
            per, d_real, d_fake = d_losses(self.loss_name, real_out, fake_out, from_logits=logits)
            if self.loss_name == "wgan-gp":
                per = per + self.gp_weight * self._gradient_penalty(real, fake, step * self.d_steps + k)
            d_loss = torch.mean(per) + _regularization(self.discriminator)
            d_loss.backward()
            with torch.no_grad():
                self.d_optimizer.apply([v.value.grad for v in d_vars], d_vars)
        _zero_grads(g_vars)
        fake_out, logits = self._discriminate(
            self.generator(self._noise(batch, step, self.d_steps, device), training=True), wants_logits
        )
        g_per = g_losses(self.loss_name, fake_out, from_logits=logits)
        g_loss = torch.mean(g_per) + _regularization(self.generator)
        g_loss.backward()
        with torch.no_grad():
            self.g_optimizer.apply([v.value.grad for v in g_vars], g_vars)
        _zero_grads(d_vars)  # the generator's loss flowed through D too: leave no stale gradients behind
        self.noise_counter.assign_add(1)
        return {
            "d_loss": torch.mean(per.detach()),
            "g_loss": torch.mean(g_per.detach()),
            "d_real": torch.mean(d_real.detach()),
            "d_fake": torch.mean(d_fake.detach()),
        }

"""What every backend's ``ganviz.GAN`` shares: loss names, options, optimizers, sampling and the loss maths in ``keras.ops``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = [
    "LOSSES",
    "GANBase",
    "normalize_loss",
    "ends_with_sigmoid",
    "sigmoid_layer",
    "d_losses",
    "g_losses",
    "per_example",
    "to_logits",
    "logits_of",
]

LOSSES: tuple[str, ...] = ("bce", "lsgan", "hinge", "wgan-gp")
_ALIASES = {
    "bce": "bce",
    "nsgan": "bce",
    "non-saturating": "bce",
    "lsgan": "lsgan",
    "ls": "lsgan",
    "least-squares": "lsgan",
    "least_squares": "lsgan",
    "mse": "lsgan",
    "hinge": "hinge",
    "wgan-gp": "wgan-gp",
    "wgan_gp": "wgan-gp",
    "wgangp": "wgan-gp",
}
_EPS = 1e-7


def normalize_loss(loss: str) -> str:
    """Return the canonical name of a GAN loss.

    >>> normalize_loss("least_squares")
    'lsgan'
    >>> normalize_loss("WGAN_GP")
    'wgan-gp'
    """
    key = str(loss).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown GAN loss {loss!r} (must be one of {list(LOSSES)})")
    return _ALIASES[key]


def _activation_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", fn) or "").lower()


def sigmoid_layer(model: Any) -> Any:
    """The last layer of ``model`` when it applies a sigmoid (its output is a probability), else None."""
    layers = [layer for layer in getattr(model, "layers", []) if not isinstance(layer, keras.layers.InputLayer)]
    while layers:
        last = layers[-1]
        if isinstance(last, keras.Model):
            return sigmoid_layer(last)
        if isinstance(last, (keras.layers.Reshape, keras.layers.Flatten, keras.layers.Dropout)):
            layers = layers[:-1]
            continue
        return last if "sigmoid" in _activation_name(getattr(last, "activation", None)) else None
    return None


def ends_with_sigmoid(model: Any) -> bool:
    """Whether ``model``'s last layer applies a sigmoid (so its output is a probability)."""
    return sigmoid_layer(model) is not None


@contextlib.contextmanager
def logits_of(model: Any, wanted: bool) -> Iterator[bool]:
    """While open, ``model`` outputs the logits its final sigmoid would squash (exact, never clipped).

    Yields whether the outputs are logits now. Only the Python attribute is swapped, so a jitted
    function traced inside keeps the logits path; it is put back on exit.
    """
    layer = sigmoid_layer(model) if wanted else None
    if layer is None:
        yield False
        return
    original = layer.activation
    layer.activation = keras.activations.linear
    try:
        yield True
    finally:
        layer.activation = original


def per_example(x: Any) -> Any:
    """Average a discriminator output over all but the batch axis: shape ``(batch,)``."""
    x = ops.cast(x, "float32")
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def to_logits(out: Any, from_logits: bool) -> Any:
    """Per-example logits of a discriminator output (logits already, or probabilities)."""
    if from_logits:
        return per_example(out)
    p = ops.clip(per_example(out), _EPS, 1.0 - _EPS)  # only for probabilities with no reachable sigmoid
    return ops.log(p) - ops.log1p(-p)


def d_losses(loss: str, real_out: Any, fake_out: Any, *, from_logits: bool) -> tuple[Any, Any, Any]:
    """Per-example discriminator loss and the D(x), D(G(z)) values to log (probabilities for bce)."""
    if loss == "lsgan":
        r, f = per_example(real_out), per_example(fake_out)
        return 0.5 * (ops.square(r - 1.0) + ops.square(f)), r, f
    r, f = to_logits(real_out, from_logits), to_logits(fake_out, from_logits)
    if loss == "bce":
        return ops.softplus(-r) + ops.softplus(f), ops.sigmoid(r), ops.sigmoid(f)
    if loss == "hinge":
        return ops.relu(1.0 - r) + ops.relu(1.0 + f), r, f
    return f - r, r, f


def g_losses(loss: str, fake_out: Any, *, from_logits: bool) -> Any:
    """Per-example generator loss."""
    if loss == "lsgan":
        return 0.5 * ops.square(per_example(fake_out) - 1.0)
    f = to_logits(fake_out, from_logits)
    return ops.softplus(-f) if loss == "bce" else -f


class GANBase(keras.Model):
    """Options, optimizers, sampling and config of ``ganviz.GAN``; each backend's module adds ``train_step``.

    See :class:`ganviz.train.gan.tf_backend.GAN` for the arguments; the JAX and PyTorch versions take the same.
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
        probability = self.loss_name == "bce" or (self.loss_name == "lsgan" and not self.from_logits)
        self.score_kind = "probability" if probability else "score"
        self.noise_counter = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="noise_counter"
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
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.build_optimizers()

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now (a compiled step cannot create them)."""
        for opt, model in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if opt is not None and not opt.built and model.built:
                opt.build(model.trainable_variables)

    def check_compiled(self) -> None:
        if self.d_optimizer is None or self.g_optimizer is None:
            raise RuntimeError("call GAN.compile(d_optimizer=..., g_optimizer=...) before fit()")

    def noise_index(self, step: Any, k: int) -> Any:
        """The counter the ``k``-th noise draw of training step ``step`` is seeded with (resumes exactly)."""
        return step * (self.d_steps + 2) + k

    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """Generate ``n`` samples from seeded normal noise, as a NumPy array."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        return np.asarray(ops.convert_to_numpy(self.generator(z, training=False)))

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

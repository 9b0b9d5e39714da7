"""What every backend's ``ganviz.GAN`` shares: loss names, options, optimizers, sampling and the loss maths in ``keras.ops``."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from keras import ops

from ...errors import GanvizError, NotReadyError, TrainOptionError

__all__ = [
    "LOSSES",
    "GANBase",
    "GANOptionError",
    "BCE_RECIPE",
    "RECIPE",
    "check_options",
    "step_intervals",
    "DEFAULT_STEPS_PER_EXECUTION",
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
        raise TrainOptionError(f"unknown GAN loss {loss!r} (must be one of {list(LOSSES)})")
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


def d_losses(
    loss: str, real_out: Any, fake_out: Any, *, from_logits: bool, label_smoothing: float = 0.0
) -> tuple[Any, Any, Any]:
    """Per-example discriminator loss and the D(x), D(G(z)) values to log (probabilities for bce).

    ``label_smoothing`` (bce only) is one-sided: real images aim at ``1 - label_smoothing``.
    """
    if loss == "lsgan":
        r, f = per_example(real_out), per_example(fake_out)
        return 0.5 * (ops.square(r - 1.0) + ops.square(f)), r, f
    r, f = to_logits(real_out, from_logits), to_logits(fake_out, from_logits)
    if loss == "bce":
        real_term = ops.softplus(-r)
        if label_smoothing:
            real_term = (1.0 - label_smoothing) * real_term + label_smoothing * ops.softplus(r)
        return real_term + ops.softplus(f), ops.sigmoid(r), ops.sigmoid(f)
    if loss == "hinge":
        return ops.relu(1.0 - r) + ops.relu(1.0 + f), r, f
    return f - r, r, f


def g_losses(loss: str, fake_out: Any, *, from_logits: bool) -> Any:
    """Per-example generator loss."""
    if loss == "lsgan":
        return 0.5 * ops.square(per_example(fake_out) - 1.0)
    f = to_logits(fake_out, from_logits)
    return ops.softplus(-f) if loss == "bce" else -f


UPDATES = ("auto", "simultaneous", "alternating")
RECIPE_DEFAULTS: dict[str, Any] = {  # the recipe options turned off
    "ema": None,
    "r1_weight": 0.0,
    "r1_shrink": 8,
    "label_smoothing": 0.0,
    "updates": "auto",
}
# The best recipe measured (BENCHMARKS.md, bench_quality.py over 3 seeds): with ``loss="bce"`` an R1 penalty
# and an EMA generator are on by default where the backend's step has them; ``r1_weight=0`` / ``ema=None``
# turn them off. Digits yardstick, 60 s with the seed's models: FD 7.8 (6/10 classes) without, 1.0 (10/10) with.
BCE_RECIPE: dict[str, Any] = {"r1_weight": 1.0, "ema": 0.999}


class _Recipe:
    """The default of ``r1_weight`` and ``ema``: the measured recipe for ``bce``, off for the other losses."""

    def __repr__(self) -> str:
        return "RECIPE"


RECIPE: Any = _Recipe()


class GANOptionError(GanvizError, ValueError):
    """An option of ``ganviz.GAN`` out of range, or one the running backend's training step does not have."""


def check_options(latent_dim: Any, d_steps: Any, ema: Any, r1_weight: Any, r1_shrink: Any, label_smoothing: Any,
                  updates: Any) -> None:  # fmt: skip
    """Refuse an option out of range in one line that names it and a value that works."""
    if int(latent_dim) < 1:
        raise GANOptionError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    if int(d_steps) < 1:
        raise GANOptionError(f"d_steps must be >= 1, got {d_steps!r}")
    if ema is not None and not 0.0 < float(ema) < 1.0:
        raise GANOptionError(f"ema must be a decay between 0 and 1 (such as 0.999) or None, got {ema!r}")
    if not 0.0 <= float(label_smoothing) < 0.5:
        raise GANOptionError(f"label_smoothing must be in [0, 0.5) (such as 0.1), got {label_smoothing!r}")
    if float(r1_weight) < 0.0:
        raise GANOptionError(f"r1_weight must be >= 0 (such as 1.0), got {r1_weight!r}")
    if int(r1_shrink) < 1:
        raise GANOptionError(f"r1_shrink must be >= 1 (such as 8), got {r1_shrink!r}")
    if updates not in UPDATES:
        raise GANOptionError(f"updates must be one of {list(UPDATES)}, got {updates!r}")
    if updates == "simultaneous" and int(d_steps) != 1:
        raise GANOptionError(f"updates='simultaneous' needs d_steps=1 (got {d_steps}); use updates='alternating'")


# Steps per call of the compiled function when compile() is given none (the TensorFlow and JAX GANs): Keras's
# per-call work (iterator, callbacks, logs) is paid once per 8 steps. The Monitor counts from the optimizer,
# so its counts stay exact (BENCHMARKS.md, training).
DEFAULT_STEPS_PER_EXECUTION = 8


def step_intervals(callbacks: Any) -> list[int]:
    """The step intervals callbacks declare through ``step_intervals()`` (the Monitor: grids, checkpoints, the
    step budget), which a GAN's executions should end on."""
    found: list[int] = []
    for cb in callbacks or []:
        declare = getattr(cb, "step_intervals", None)
        if callable(declare):
            found.extend(int(v) for v in declare() if isinstance(v, int) and not isinstance(v, bool) and v > 0)
    return found


class GANBase(keras.Model):
    """``ganviz.GAN`` on every backend: options, checks, optimizers, sampling and config; each backend adds
    ``train_step`` (``tf_backend.py``, ``jax_backend.py``, ``torch_backend.py``).

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
        ema, r1_weight, r1_shrink, label_smoothing, updates: the recipe options; see the TensorFlow
            GAN (:class:`ganviz.train.gan.tf_backend.GAN`). By default, with ``loss="bce"``, the
            measured recipe is on (``r1_weight=1.0``, ``ema=0.999``: ``BCE_RECIPE``) wherever the
            backend's step has it; ``r1_weight=0`` and ``ema=None`` turn it off; the other losses
            default to off. A backend whose step lacks an option (``recipe_options``) refuses a
            value other than off in one line naming the backend.
        name: Model name.
        **kwargs: Passed to ``keras.Model``.
    """

    backend_name = "?"
    recipe_options: frozenset[str] = frozenset()  # the recipe options this backend's train_step implements

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
        ema: float | None = RECIPE,
        r1_weight: float = RECIPE,
        r1_shrink: int = 8,
        label_smoothing: float = 0.0,
        updates: str = "auto",
        name: str = "gan",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        bce = normalize_loss(loss) == "bce"
        if ema is RECIPE:
            ema = BCE_RECIPE["ema"] if bce and "ema" in self.recipe_options else RECIPE_DEFAULTS["ema"]
        if r1_weight is RECIPE:
            r1_weight = BCE_RECIPE["r1_weight"] if bce and "r1_weight" in self.recipe_options else 0.0
        check_options(latent_dim, d_steps, ema, r1_weight, r1_shrink, label_smoothing, updates)
        given = {"ema": ema, "r1_weight": r1_weight, "r1_shrink": r1_shrink, "label_smoothing": label_smoothing,
                 "updates": updates}  # fmt: skip
        for option, value in given.items():
            if option not in self.recipe_options and value != RECIPE_DEFAULTS[option]:
                raise GANOptionError(
                    f"GAN({option}={value!r}) is not available on the {self.backend_name} backend yet (its training "
                    f"step has none); leave {option} out, or train with KERAS_BACKEND=tensorflow"
                )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.loss_name = normalize_loss(loss)
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.from_logits = (not ends_with_sigmoid(discriminator)) if from_logits is None else bool(from_logits)
        self.seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
        self.r1_weight = float(r1_weight)
        self.r1_shrink = int(r1_shrink)
        self.label_smoothing = float(label_smoothing)
        self.updates = updates
        self.simultaneous = updates == "simultaneous" or (
            updates == "auto" and self.d_steps == 1 and self.r1_weight > 0 and "updates" in self.recipe_options
        )
        self.ema = float(ema) if ema is not None else None
        self.ema_generator: Any = self.ema_copy(generator) if ema is not None else None
        probability = self.loss_name == "bce" or (self.loss_name == "lsgan" and not self.from_logits)
        self.score_kind = "probability" if probability else "score"
        self.noise_counter = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="noise_counter", **self.counter_options()
        )
        self.d_optimizer: Any = None
        self.g_optimizer: Any = None
        self.built = True

    def counter_options(self) -> dict[str, Any]:
        """``add_weight`` options of the step counter (the backend's dtype, its distributed aggregation)."""
        return {"dtype": "int32"}

    def ema_copy(self, generator: Any) -> Any:
        """A frozen copy of ``generator`` whose weights hold its exponential moving average."""
        from ...extract.keras_model.facts import tensorflow_left_alone

        with tensorflow_left_alone(keras):  # cloning serialises the config, which imports TensorFlow off it
            copy = keras.models.clone_model(generator)
        copy.set_weights(generator.get_weights())
        copy.trainable = False
        copy.name = f"{generator.name}_ema"
        return copy

    def _fit_execution_to_epoch(self, steps_per_epoch: int | None, callbacks: Any = None) -> None:
        """Run whole executions per epoch: Keras runs ``steps_per_execution`` steps per call even past
        ``steps_per_epoch``, so use its largest divisor not above the compiled value. With the default
        (not a value given to ``compile``) the executions also end on the intervals of callbacks such as
        the Monitor (what their ``step_intervals()`` declare), so grids and checkpoints
        land on their steps."""
        wanted = getattr(self, "_wanted_steps_per_execution", None) or int(self.steps_per_execution or 1)
        self._wanted_steps_per_execution = wanted
        marks = [int(steps_per_epoch)] if steps_per_epoch else []
        if getattr(self, "_default_execution", False):
            marks.extend(step_intervals(callbacks))
        common = math.gcd(*marks) if marks else 0
        spe = max(d for d in range(1, wanted + 1) if common % d == 0) if common else wanted
        if spe != self.steps_per_execution:
            self.steps_per_execution = spe
            self.train_function = None

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Generate samples from noise ``inputs``."""
        return self.generator(inputs, training=training)

    def optimizer_scope(self) -> Any:
        """Where the optimizers' variables are created (a ``tf.distribute`` strategy's scope on TensorFlow)."""
        return contextlib.nullcontext()

    def compile(self, d_optimizer: Any = None, g_optimizer: Any = None, **kwargs: Any) -> None:
        """Configure the two optimizers (default: Adam, learning rate 2e-4, beta_1 0.5).

        Args:
            d_optimizer: Discriminator optimizer.
            g_optimizer: Generator optimizer.
            **kwargs: Passed to ``keras.Model.compile`` (``jit_compile``, ``run_eagerly``,
                ``steps_per_execution``...).
        """
        super().compile(**kwargs)
        with self.optimizer_scope():
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
            raise NotReadyError("call GAN.compile(d_optimizer=..., g_optimizer=...) before fit()")

    def noise_index(self, step: Any, k: int) -> Any:
        """The counter the ``k``-th noise draw of training step ``step`` is seeded with (resumes exactly)."""
        return step * (self.d_steps + 2) + k

    @property
    def sampler(self) -> Any:
        """The generator to sample from: the EMA copy when ``ema`` is set, else the trained one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """Generate ``n`` samples from seeded normal noise (with the EMA generator if any), as a NumPy array."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        out = self.sampler(z, training=False)
        out = out.detach() if hasattr(out, "detach") else out  # a torch tensor that requires grad
        return np.asarray(ops.convert_to_numpy(out))

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
            "ema": self.ema,
            "r1_weight": self.r1_weight,
            "r1_shrink": self.r1_shrink,
            "label_smoothing": self.label_smoothing,
            "updates": self.updates,
        }

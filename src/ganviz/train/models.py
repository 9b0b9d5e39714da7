"""The seed's generator and discriminator, written the Keras 3 way (the defaults of ``ganviz train``)."""

from __future__ import annotations

from typing import Any

from ..errors import TrainOptionError

__all__ = ["seed_generator", "seed_discriminator", "IMAGE_SHAPE"]

IMAGE_SHAPE: tuple[int, int, int] = (28, 28, 1)

_OUTPUT_ACTIVATIONS = ("tanh", "sigmoid")


def seed_generator(latent_dim: int = 100, *, output_activation: str = "tanh", name: str = "generator") -> Any:
    """Build the seed's MLP generator: noise -> 128 -> 256 -> 784 -> 28x28x1 image.

    Args:
        latent_dim: Length of the noise vector.
        output_activation: ``"tanh"`` (images in [-1, 1], the better choice for training) or
            ``"sigmoid"`` (images in [0, 1], as in the seed). Scale the data to match.
        name: Model name.

    Returns:
        A built ``keras.Sequential`` model.

    Raises:
        ValueError: ``output_activation`` is not ``"tanh"`` or ``"sigmoid"``.
    """
    import keras
    from keras import layers

    if output_activation not in _OUTPUT_ACTIVATIONS:
        raise TrainOptionError(
            f"unknown output_activation {output_activation!r} (must be one of {list(_OUTPUT_ACTIVATIONS)})"
        )
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,), name="noise"),
            layers.Dense(128, name="dense"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu"),
            layers.Dense(256, name="dense_1"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu_1"),
            layers.Dense(784, activation=output_activation, name="dense_2"),
            layers.Reshape(IMAGE_SHAPE, name="reshape"),
        ],
        name=name,
    )


def seed_discriminator(*, activation: str | None = "sigmoid", name: str = "discriminator") -> Any:
    """Build the seed's MLP discriminator: 28x28x1 image -> 256 -> 128 -> 1.

    Args:
        activation: Activation of the last unit: ``"sigmoid"`` (a probability, as in the seed; the
            GAN recovers the logits for a stable loss) or ``None`` (a raw score: logits or a critic
            for hinge / WGAN-GP losses).
        name: Model name.

    Returns:
        A built ``keras.Sequential`` model.
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(256, name="dense"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu"),
            layers.Dense(128, name="dense_1"),
            layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu_1"),
            layers.Dense(1, activation=activation, name="score"),
        ],
        name=name,
    )

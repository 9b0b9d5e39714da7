"""``ganviz.GAN`` for the running Keras backend: TensorFlow (``gan.py``), JAX (``gan_jax.py``) or PyTorch (``gan_torch.py``)."""

from __future__ import annotations

import importlib
from typing import Any

from .gan_base import LOSSES, ends_with_sigmoid, normalize_loss

__all__ = ["GAN", "LOSSES", "gan_class", "normalize_loss", "ends_with_sigmoid"]  # noqa: F822 - GAN resolves lazily

_MODULES = {"tensorflow": "ganviz.train.gan", "jax": "ganviz.train.gan_jax", "torch": "ganviz.train.gan_torch"}


def gan_class() -> type:
    """The ``GAN`` class written for ``keras.backend.backend()``; only that backend's module is imported.

    Raises:
        ImportError: a backend ganviz has no GAN for (one line naming the ones it has).
    """
    import keras

    backend = keras.backend.backend()
    module = _MODULES.get(backend)
    if module is None:
        raise ImportError(
            f"ganviz.GAN has no training step for the Keras backend {backend!r}; "
            f"set KERAS_BACKEND to one of {sorted(_MODULES)}"
        )
    return importlib.import_module(module).GAN  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name == "GAN":
        return gan_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

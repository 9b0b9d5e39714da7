"""``ganviz.GAN`` for the running Keras backend: ``tf_backend.py``, ``jax_backend.py`` or ``torch_backend.py``, all over ``base.GANBase``."""

from __future__ import annotations

import importlib
from typing import Any

from .base import LOSSES, ends_with_sigmoid, normalize_loss

__all__ = ["GAN", "LOSSES", "gan_class", "normalize_loss", "ends_with_sigmoid"]  # noqa: F822 - GAN resolves lazily

_MODULES = {
    "tensorflow": "ganviz.train.gan.tf_backend",
    "jax": "ganviz.train.gan.jax_backend",
    "torch": "ganviz.train.gan.torch_backend",
}


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

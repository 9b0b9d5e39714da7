"""``ganviz.GAN`` for the running Keras backend: ``tf_backend.py``, ``jax_backend.py`` or ``torch_backend.py``, all over ``base.GANBase``."""

from __future__ import annotations

import importlib
from typing import Any

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
    """``GAN`` (the running backend's), and the loss helpers of ``base``, resolved on first use: importing
    this package (``gan.distributed``, say) imports no Keras."""
    if name == "GAN":
        return gan_class()
    if name in ("LOSSES", "normalize_loss", "ends_with_sigmoid"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

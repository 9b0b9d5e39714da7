"""Which Keras backend the command line runs on when ``KERAS_BACKEND`` is unset, and what to install when one is missing.

Keras falls back to TensorFlow when ``KERAS_BACKEND`` is unset; in a JAX- or PyTorch-only
environment that fails deep inside the first import. ``ganviz`` picks an installed backend
instead and says so in one line; with none installed, commands that need Keras say what to install.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, MutableMapping

__all__ = ["choose_backend", "missing_extra"]

BACKENDS = ("tensorflow", "jax", "torch")
# Optional dependencies -> the extra that brings them (README: pip install "ganviz[train,tf]").
_EXTRAS = {
    "keras": "train",
    "sklearn": "train",
    "matplotlib": "train",
    "tensorflow": "tf",
    "jax": "jax",
    "torch": "torch",
    "tensorboard": "tensorboard",
}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken package
        return False


def choose_backend(
    environ: MutableMapping[str, str] | None = None, installed: Callable[[str], bool] = _installed
) -> str | None:
    """Set ``KERAS_BACKEND`` when it is unset and TensorFlow is missing; return the line that says so, if any.

    >>> env = {}
    >>> choose_backend(env, lambda name: name == "jax")
    'KERAS_BACKEND is not set and TensorFlow is not installed: using the jax backend (set KERAS_BACKEND to choose)'
    >>> env
    {'KERAS_BACKEND': 'jax'}
    >>> choose_backend({"KERAS_BACKEND": "torch"}, lambda name: False) is None
    True
    """
    env = os.environ if environ is None else environ
    if env.get("KERAS_BACKEND") or installed("tensorflow"):
        return None
    for name in BACKENDS[1:]:
        if installed(name):
            env["KERAS_BACKEND"] = name
            return (
                f"KERAS_BACKEND is not set and TensorFlow is not installed: using the {name} backend "
                "(set KERAS_BACKEND to choose)"
            )
    return None


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """One line naming what to install for a missing optional dependency, or None for any other module.

    >>> missing_extra(ModuleNotFoundError("No module named 'sklearn'", name="sklearn"))
    "this needs scikit-learn, which is not installed: pip install 'ganviz[train]'"
    """
    top = (exc.name or "").split(".")[0]
    extra = _EXTRAS.get(top)
    if extra is None:
        return None
    what = {"sklearn": "scikit-learn", "tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(top, top)
    if extra == "train":
        install = "'ganviz[train]'" if top != "keras" else "'ganviz[train,tf]' (or [train,jax], [train,torch])"
    elif top == "tensorflow" and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        install = "'ganviz[tf]' (tracing a train_step needs TensorFlow)"
    else:
        install = f"'ganviz[{extra}]'"
    return f"this needs {what}, which is not installed: pip install {install}"

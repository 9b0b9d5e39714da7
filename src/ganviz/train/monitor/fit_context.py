"""What a callback cannot see through Keras's API: ``fit``'s first batch and its progress bar.

Keras passes callbacks no data and no handle on the other callbacks. The Monitor needs a fixed
batch of input images for image-to-image generators and must keep a single progress display, so
it looks at the local variables of the ``fit`` call that is running it (read only; the data is
re-read from its start, never consumed: Python generators are left alone).
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["fit_locals", "first_batch", "silence_keras_progbar"]


def fit_locals(model: Any) -> dict[str, Any] | None:
    """The local variables of the ``model.fit`` call on the stack, or ``None``."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
                return dict(frame.f_locals)
            frame = frame.f_back
    finally:
        del frame
    return None


def first_batch(local: dict[str, Any] | None, *, limit: int = 64) -> Any:
    """The first batch of ``fit``'s data: a tuple of arrays, or ``None`` when it cannot be read safely.

    Arrays give their first ``batch_size`` rows (and ``y``'s); a ``tf.data.Dataset`` its first
    element (a fresh iterator); a ``keras.utils.PyDataset`` item 0.
    """
    if not local:
        return None
    x, y = local.get("x"), local.get("y")
    if x is None:
        return None
    import numpy as np

    try:
        import tensorflow as tf

        if isinstance(x, tf.data.Dataset):
            for element in x.take(1):
                return tf.nest.map_structure(lambda t: np.asarray(t), element)
            return None
    except ImportError:  # pragma: no cover - the Monitor runs under TensorFlow
        pass
    if hasattr(x, "__getitem__") and hasattr(x, "num_batches"):  # keras.utils.PyDataset
        return x[0]
    if hasattr(x, "shape") or isinstance(x, (list, tuple, dict)):
        n = int(local.get("batch_size") or 32)
        n = min(n, limit)

        def head(a: Any) -> Any:
            if isinstance(a, dict):
                return {k: head(v) for k, v in a.items()}
            if isinstance(a, (list, tuple)):
                return tuple(head(v) for v in a)
            return np.asarray(a[:n]) if hasattr(a, "shape") else a

        return (head(x), head(y)) if y is not None else head(x)
    return None


def silence_keras_progbar(local: dict[str, Any] | None) -> bool:
    """Turn off Keras's own progress bar in this ``fit`` (the Monitor draws one); True if one was on."""
    callbacks = (local or {}).get("callbacks")
    import keras

    silenced = False
    for cb in getattr(callbacks, "callbacks", []) or []:
        if isinstance(cb, keras.callbacks.ProgbarLogger) and cb.verbose:
            cb.verbose = 0
            silenced = True
    return silenced

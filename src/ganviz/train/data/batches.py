"""Seeded, shuffled, endless NumPy batches for ``fit()`` on any Keras backend (no ``tf.data``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ...errors import DataError

__all__ = ["numpy_batches"]


def numpy_batches(x: np.ndarray, batch_size: int, *, seed: int = 0) -> Iterator[tuple[np.ndarray]]:
    """Yield full batches of ``x`` forever (as 1-tuples, which Keras asks of generators), reshuffled each pass.

    The same seed gives the same batches, so a resumed run that passes ``seed + done`` (as the
    TensorFlow pipeline does) is reproducible. Batches are float32 and always full (static shapes
    for the jitted step).

    >>> batches = numpy_batches(np.arange(10.0).reshape(5, 2), 2, seed=1)
    >>> [b[0].shape for b in (next(batches), next(batches), next(batches))]
    [(2, 2), (2, 2), (2, 2)]

    Raises:
        DataError: fewer images than one batch.
    """
    if len(x) < batch_size:
        raise DataError(f"dataset has {len(x)} images, fewer than one batch of {batch_size} (lower --batch-size)")
    data = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(data))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield (data[order[start : start + batch_size]],)

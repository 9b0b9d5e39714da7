"""All the steps of one execution in one compiled JAX call: ``GAN.make_train_function`` on the JAX backend.

Keras's JAX trainer runs ``steps_per_execution`` steps as a Python loop that launches the jitted
step once per step (each launch passes every model and optimizer array in and out). Here the
execution's batches are fetched first, stacked, and one ``jax.jit`` function runs every step with
``jax.lax.scan``, the state (trainable, non-trainable, optimizer and metric arrays) carried from step
to step and donated as Keras donates it. The logs returned are the last step's, as with Keras's loop.
An execution that cannot be stacked (fewer batches left, a smaller last batch, batches of other
shapes, too many bytes) runs step by step through the same jitted step, so every batch is trained
exactly once. Keras's own loop stays without ``jit_compile``, with ``run_eagerly``, under a
``keras.distribution`` distribution and with Flax NNX. The TensorFlow counterpart is ``fused_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["can_fuse", "fused_train_function", "MAX_STACKED_BYTES"]

# Stacking copies the execution's batches; above this many bytes (large images) the steps run one by one.
MAX_STACKED_BYTES = 256 * 2**20


def can_fuse(model: Any) -> bool:
    """Whether ``model`` trains jitted, not eagerly, on one device with no ``keras.distribution`` set."""
    from keras.src.backend.config import is_nnx_enabled
    from keras.src.distribution import distribution_lib

    return (
        model.jit_compile is True
        and not model.run_eagerly
        and distribution_lib.distribution() is None
        and not is_nnx_enabled()
    )


def _stackable(batches: list[Any], max_bytes: int = MAX_STACKED_BYTES) -> bool:
    """Whether every batch has the first one's structure, dtypes and shapes (all arrays), and all of them
    together hold at most ``max_bytes``."""
    first, structure = jax.tree.flatten(batches[0])
    if not first or not all(hasattr(leaf, "shape") and hasattr(leaf, "dtype") for leaf in first):
        return False
    try:
        size = sum(math.prod(tuple(leaf.shape)) * np.dtype(leaf.dtype).itemsize for leaf in first)
    except (TypeError, ValueError):
        return False
    if size * len(batches) > max_bytes:
        return False
    for batch in batches[1:]:
        leaves, other = jax.tree.flatten(batch)
        if other != structure:
            return False
        for a, b in zip(first, leaves):
            if not hasattr(b, "shape") or a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
                return False
    return True


def fused_train_function(model: Any) -> Callable[[Any, Any], Any]:
    """The function Keras's JAX ``fit`` calls once per execution with ``(state, iterator)``: it runs
    ``model.steps_per_execution`` steps (fewer at the end of the data) and returns the last step's logs
    and the new state."""
    step = model.train_step

    def many(state: Any, batches: tuple[Any, ...]) -> Any:
        stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *batches)

        def body(carry: Any, batch: Any) -> tuple[Any, Any]:
            logs, new = step(carry, batch)
            # the carry keeps its dtypes (a step may hand back, say, a weakly typed counter)
            new = jax.tree.map(lambda n, o: jnp.asarray(n, dtype=o.dtype), new, carry)
            return new, logs

        state, every_logs = jax.lax.scan(body, state, stacked)
        return jax.tree.map(lambda leaf: leaf[-1], every_logs), state

    one_step = jax.jit(step, donate_argnums=0)
    many_steps = jax.jit(many, donate_argnums=0)

    def function(state: Any, iterator: Any) -> Any:
        count = max(1, int(model.steps_per_execution or 1))
        batches: list[Any] = []
        while len(batches) < count:
            try:
                batches.append(next(iterator))
            except StopIteration:
                break
        if not batches:
            raise StopIteration
        if len(batches) > 1 and len(batches) == count and _stackable(batches):
            return many_steps(state, tuple(batches))
        for batch in batches:
            logs, state = one_step(state, batch)
        return logs, state

    function.one_step = one_step  # type: ignore[attr-defined]
    function.many_steps = many_steps  # type: ignore[attr-defined]
    return function

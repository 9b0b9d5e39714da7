"""All the steps of one execution in one XLA program: ``GAN.make_train_function`` with XLA on one device.

Keras runs ``steps_per_execution`` steps as a TensorFlow ``while`` loop that launches the compiled step
once per step; on a small GAN each launch (arguments, every model and optimizer variable, the data
iterator) cost up to a third of the step (BENCHMARKS.md, training speed). Here the execution's
batches are fetched first and one compiled program runs every step in an XLA ``while`` loop. An
execution that cannot be stacked (fewer batches left, a smaller last batch) runs step by step through
the same compiled step, so every batch is trained on exactly once, as with Keras's loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..keras_internals import strategy_set_at_build

__all__ = ["can_fuse", "fused_train_function"]


def can_fuse(model: Any) -> bool:
    """Whether ``model`` trains with XLA, compiled, on the default strategy (the cases this module serves)."""
    return (
        model.jit_compile is True
        and not model.run_eagerly
        and strategy_set_at_build(model) is None
        and not tf.distribute.has_strategy()
    )


# Stacking copies the execution's batches; above this many bytes (large images) the steps run one by one.
MAX_STACKED_BYTES = 256 * 2**20


def _stackable(batches: list[Any], max_bytes: int = MAX_STACKED_BYTES) -> bool:
    """Whether every batch has the first one's structure, dtypes and fully known, equal shapes, and all
    of them together hold at most ``max_bytes``."""
    first = tf.nest.flatten(batches[0])
    try:
        size = sum(math.prod(tuple(leaf.shape)) * tf.as_dtype(leaf.dtype).size for leaf in first)
    except (AttributeError, TypeError, ValueError):  # not an array, or a shape not fully known
        return False
    if size * len(batches) > max_bytes:
        return False
    for batch in batches[1:]:
        try:
            tf.nest.assert_same_structure(batches[0], batch)
        except (TypeError, ValueError):
            return False
        for a, b in zip(first, tf.nest.flatten(batch)):
            if not hasattr(b, "shape") or a.dtype != b.dtype or a.shape != b.shape:
                return False
    return True


def fused_train_function(model: Any) -> Callable[[Any], Any]:
    """The function Keras's ``fit`` calls once per execution: it takes the iterator, runs
    ``model.steps_per_execution`` steps (fewer at the end of the data) and returns the last step's logs."""
    step = model.train_step

    def many(batches: tuple[Any, ...]) -> Any:
        logs = step(batches[0])
        rest = tf.nest.map_structure(lambda *leaves: tf.stack(leaves), *batches[1:])

        def body(i: tf.Tensor, _: Any) -> tuple[tf.Tensor, Any]:
            return i + 1, step(tf.nest.map_structure(lambda leaf: leaf[i], rest))

        _, logs = tf.while_loop(lambda i, _: i < len(batches) - 1, body, (tf.constant(0), logs))
        return logs

    one_step = tf.function(step, jit_compile=True, reduce_retracing=True, autograph=False)
    many_steps = tf.function(many, jit_compile=True, reduce_retracing=True, autograph=False)

    def function(iterator: Any) -> Any:
        count = max(1, int(model.steps_per_execution or 1))
        batches: list[Any] = []
        while len(batches) < count:
            try:
                batches.append(next(iterator))
            except (StopIteration, tf.errors.OutOfRangeError):
                break
        if not batches:
            raise StopIteration
        if len(batches) > 1 and len(batches) == count and _stackable(batches):
            return many_steps(tuple(batches))
        for batch in batches:
            logs = one_step(batch)
        return logs

    return function

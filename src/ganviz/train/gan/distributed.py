"""Multi-worker GAN training on ``tf.distribute`` without Keras 3 ``fit`` (which fails there)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import TrainOptionError

__all__ = ["cluster_workers", "is_chief", "multi_worker_strategy", "is_multi_worker", "fit_distributed"]


def _tf_config() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrainOptionError(
            f"TF_CONFIG is not valid JSON ({exc.msg}): set it to a cluster spec or unset it"
        ) from None
    if not isinstance(config, dict):
        raise TrainOptionError("TF_CONFIG must be a JSON object with 'cluster' and 'task' (or unset it)")
    return config


def cluster_workers() -> int:
    """How many chief and worker tasks ``TF_CONFIG`` names (0 when it is unset)."""
    cluster = _tf_config().get("cluster") or {}
    return sum(len(cluster.get(kind) or []) for kind in ("chief", "worker"))


def is_chief() -> bool:
    """Whether this process writes the run's files: the ``chief`` task, else worker 0, else the only process.

    >>> os.environ.pop("TF_CONFIG", None) is None or True
    True
    >>> is_chief()
    True
    """
    config = _tf_config()
    task = config.get("task") or {}
    kind, index = task.get("type"), int(task.get("index", 0) or 0)
    if not config or kind is None:
        return True
    if kind == "chief":
        return True
    has_chief = bool((config.get("cluster") or {}).get("chief"))
    return kind == "worker" and index == 0 and not has_chief


def multi_worker_strategy() -> Any:
    """A ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names two or more workers, else ``None``.

    Create it before any other TensorFlow work in the process (TensorFlow's rule for collectives).
    """
    if cluster_workers() < 2:
        return None
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def is_multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` spans several processes (where Keras 3 ``fit`` does not work)."""
    from ..keras_internals import multi_worker

    return multi_worker(strategy)


def _broadcast_from_chief(strategy: Any, variables: Sequence[Any], chief: bool) -> None:
    """Give every worker the chief's values (after the chief resumed from a checkpoint)."""
    import tensorflow as tf

    if not variables:
        return
    raw = [getattr(v, "value", v) for v in variables]
    weight = tf.constant(1.0 if chief else 0.0, tf.float64)

    @tf.function
    def gather() -> Any:
        def replica_fn() -> list[Any]:
            ctx = tf.distribute.get_replica_context()
            first = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), tf.float64)
            parts = [tf.cast(tf.convert_to_tensor(v), tf.float64) * weight * first for v in raw]
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, parts)

        return strategy.run(replica_fn)

    values = gather()
    for var, value in zip(variables, values):
        local = strategy.experimental_local_results(value)[0]
        var.assign(tf.cast(local, var.dtype))


def _stop_vote(strategy: Any) -> Callable[[bool], bool]:
    """A function that tells whether any worker wants to stop (all workers must stop together)."""
    import tensorflow as tf

    @tf.function
    def vote(flag: tf.Tensor) -> tf.Tensor:
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(flag,)), axis=None)

    return lambda stop: float(vote(tf.constant(1.0 if stop else 0.0))) > 0.0


def fit_distributed(
    gan: Any,
    dataset: Any | Callable[[int], Any],
    *,
    epochs: int = 1,
    steps_per_epoch: int,
    until: int | None = None,
    steps_per_execution: int = 1,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train ``gan`` (built and compiled under its strategy's scope) with ``strategy.run`` of its step.

    Only the chief runs ``callbacks`` (so only it writes samples, metrics and checkpoints); after
    the callbacks' ``on_train_begin`` (where a Monitor resumes) the chief's weights and optimizer
    state go to every worker, and all workers stop together when the chief's callbacks stop.

    Args:
        gan: A compiled ``ganviz.GAN`` created under a ``tf.distribute`` strategy's scope.
        dataset: A repeated ``tf.data.Dataset`` batched with the *global* batch size, or a
            function of the number of steps already done that returns one.
        epochs: Epochs of ``steps_per_epoch`` steps.
        steps_per_epoch: Steps per epoch.
        until: Stop once the GAN's step counter reaches this global step (after a resume).
        steps_per_execution: Steps between two calls of the callbacks.
        callbacks: Keras callbacks (run on the chief only).

    Returns:
        The ``keras.callbacks.History`` of the run (every worker logs the same cross-worker means).
    """
    import keras
    import tensorflow as tf

    strategy = gan.distribute_strategy
    chief = is_chief()
    cbs = keras.callbacks.CallbackList(
        list(callbacks) if chief else [],
        model=gan,
        epochs=epochs,
        steps=steps_per_epoch,
        verbose=0,
        add_history=True,
        add_progbar=False,
    )
    gan.stop_training = False
    cbs.on_train_begin()
    with strategy.scope():
        _broadcast_from_chief(strategy, gan.variables + gan.d_optimizer.variables + gan.g_optimizer.variables, chief)
    done = int(gan.noise_counter.numpy())
    source = dataset(done) if callable(dataset) else dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(source.with_options(options)))
    spe = max(1, int(steps_per_execution))

    vote = _stop_vote(strategy)

    @tf.function
    def train_function(it: Any) -> dict[str, tf.Tensor]:
        logs = strategy.run(gan.train_step, args=(next(it),))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

    logs: dict[str, float] = {}
    stop = until is not None and done >= until
    for epoch in range(epochs):
        if stop:
            break
        cbs.on_epoch_begin(epoch)
        batch = 0
        while batch < steps_per_epoch and not stop:
            n = min(spe, steps_per_epoch - batch)
            if until is not None:
                n = min(n, until - done)
            for _ in range(n):
                values = train_function(iterator)
            logs = {k: float(v) for k, v in values.items()}
            batch, done = batch + n, done + n
            cbs.on_train_batch_end(batch - 1, logs)
            stop = vote(bool(gan.stop_training)) or (until is not None and done >= until)
        cbs.on_epoch_end(epoch, logs)
    cbs.on_train_end(logs)
    return gan.history

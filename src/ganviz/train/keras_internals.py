"""The one module of ``train/`` that reads Keras internals (private attributes, ``fit``'s frame); each use is named here.

- ``all_layers``: a model's layers at every depth (``_flatten_layers``), for "made of Keras's own
  layers" (the XLA default) and finding a label embedding.
- ``strategy_set_at_build``: the ``tf.distribute`` strategy a model was built under (``_distribute_strategy``).
- ``keras_logits``: the logits Keras keeps on a sigmoid's output (``_keras_logits``), for exact losses.
- ``multi_worker``: whether a strategy spans processes (``extended._in_multi_worker_mode``).
- ``held_attributes``: the attributes an object holds, wherever the backend keeps them (on
  PyTorch a Keras layer is a ``torch.nn.Module``, whose sub-modules live in ``_modules``, not ``vars()``).
- ``inputs_feeding``: which inputs of a functional model reach a sub-model's calls inside it,
  walking its graph back from its outputs (``KerasTensor._keras_history``, ``Operation._inbound_nodes``):
  which batch element a compiled ``combined`` feeds the generator.
- ``fixed_global_seed``: Keras's global seed generator (``keras.src.random.seed_generator``) set
  for one call and put back, so a model's own unseeded sampling method draws the same noise each
  grid without changing the training's randomness.
- ``fit_locals``, ``first_batch``, ``silence_keras_progbar``: what a callback cannot see through
  Keras's API (below).

Keras passes callbacks no data and no handle on the other callbacks. The Monitor needs a fixed
batch of input images for image-to-image generators and must keep a single progress display, so
it looks at the local variables of the ``fit`` call that is running it (read only; the data is
re-read from its start, never consumed: Python generators are left alone).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "all_layers",
    "strategy_set_at_build",
    "keras_logits",
    "multi_worker",
    "held_attributes",
    "inputs_feeding",
    "fixed_global_seed",
    "fit_locals",
    "first_batch",
    "silence_keras_progbar",
]


def all_layers(model: Any) -> list[Any] | None:
    """Every layer inside ``model`` (nested ones too), or ``None`` for an object that is no Keras model."""
    flatten = getattr(model, "_flatten_layers", None)
    return None if flatten is None else list(flatten(include_self=False))


def strategy_set_at_build(model: Any) -> Any:
    """The ``tf.distribute`` strategy ``model`` was created under, or ``None``."""
    return getattr(model, "_distribute_strategy", None)


def keras_logits(out: Any) -> Any:
    """The logits Keras keeps on the output of a sigmoid/softmax activation, or ``None``."""
    return getattr(out, "_keras_logits", None)


def multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` spans several processes."""
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def held_attributes(obj: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of the attributes ``obj`` holds, in assignment order, however the backend stores them.

    ``vars(obj)`` first, then the sub-modules PyTorch's ``nn.Module.__setattr__`` keeps in
    ``_modules`` (a Keras model on the torch backend), each name once.
    """
    if obj is None:
        return []
    try:
        own = dict(vars(obj))
    except TypeError:
        return []
    items = [(k, v) for k, v in own.items() if k != "_modules"]
    seen = {k for k, _ in items}
    modules = own.get("_modules")
    if isinstance(modules, dict):
        items += [(k, v) for k, v in modules.items() if k not in seen]
    return items


def inputs_feeding(model: Any, sub: Any) -> set[int] | None:
    """The positions in ``model.inputs`` whose values reach ``sub``'s calls inside the functional ``model``
    (``None``: ``model`` has no graph to read, or never calls ``sub``)."""
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if not inputs or not outputs:
        return None
    position = {id(t): i for i, t in enumerate(inputs)}

    def parents(tensor: Any) -> tuple[Any, list[Any]]:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None, []
        op, node_index = history[0], history[1]
        nodes = getattr(op, "_inbound_nodes", None) or []
        node = nodes[node_index] if node_index < len(nodes) else None
        return op, list(getattr(node, "input_tensors", None) or []) if node is not None else []

    feeding: list[Any] = []
    called = False
    stack, seen = list(outputs), set()
    while stack and len(seen) < 100_000:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        op, ins = parents(tensor)
        called = called or op is sub
        (feeding if op is sub else stack).extend(ins)
    if not called:
        return None
    found: set[int] = set()
    stack, seen = feeding, set()
    while stack and len(seen) < 100_000:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if id(tensor) in position:
            found.add(position[id(tensor)])
        stack.extend(parents(tensor)[1])
    return found


@contextlib.contextmanager
def fixed_global_seed(seed: int) -> Iterator[None]:
    """While open, unseeded ``keras.random`` calls (and NumPy's global RNG) start from ``seed``; both are put back."""
    import numpy as np

    np_state = np.random.get_state()
    gen = saved = None
    try:
        from keras.src.random.seed_generator import global_seed_generator

        gen = global_seed_generator()
        saved = np.asarray(gen.state.numpy() if hasattr(gen.state, "numpy") else gen.state.value)
        gen.state.assign(np.asarray([seed, 0], dtype=saved.dtype))
    except Exception:  # noqa: BLE001 - a Keras without this generator: NumPy's seed alone
        gen = None
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        if gen is not None and saved is not None:
            gen.state.assign(saved)


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

    tf = sys.modules.get("tensorflow")  # a tf.data.Dataset means TensorFlow is loaded; never import it here
    if tf is not None and isinstance(x, tf.data.Dataset):
        for element in x.take(1):
            return tf.nest.map_structure(lambda t: np.asarray(t), element)
        return None
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

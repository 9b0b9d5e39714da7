"""Leave no trace: undo every Keras cache and random state a traced step built or used.

Tracing runs the user's step once, symbolically, with stand-in gradients and optimizer updates.
Whatever Keras caches on the way (a model's ``train_function`` built under the stand-in
``apply_gradients`` would never update anything afterwards; compiled loss and metric state; an
optimizer built inside the traced graph) and whatever global random state the step's Python code
draws from (``np.random.normal`` in a classic loop) would change what training does after the
trace. :func:`no_trace_left` snapshots all of that before the trace and puts it back afterwards,
whether the trace succeeds or raises.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from unittest import mock

from ...errors import TraceError

__all__ = ["MODEL_CACHES", "keras_loops_refused", "no_trace_left", "reachable_variables", "variable_values_kept"]

# Attributes Keras sets lazily on a model (TensorFlow trainer): functions traced on first use,
# compiled-loss/metric objects and their trackers, state read when a train function is built.
MODEL_CACHES = (
    "train_function",
    "test_function",
    "predict_function",
    "_eval_epoch_iterator",
    "_compiled_trainable_state",
    "_jit_compile",
    "_loss_tracker",
    "_compile_loss",
    "_compile_metrics",
    "_distribute_strategy",
    "stop_training",
    "stop_evaluating",
    "stop_predicting",
    "_metrics",
)
_MISSING = object()


def _copy(value: Any) -> Any:
    """A shallow copy of a container's contents (builtin or Keras-tracked), else None."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    return None


def _put_back(value: Any, contents: Any) -> None:
    """Restore a container's contents in place, bypassing Keras's tracking wrappers."""
    if isinstance(value, list) and list(value) != contents:
        list.__setitem__(value, slice(None), contents)
    elif isinstance(value, dict) and dict(value) != contents:
        dict.clear(value)
        dict.update(value, contents)
    elif isinstance(value, set) and set(value) != contents:
        set.clear(value)
        set.update(value, contents)


class _State:
    """The attribute bindings (and container contents) of one object, to put back later."""

    def __init__(self, obj: Any, keys: Iterable[str] | None, depth: int = 0) -> None:
        self.obj = obj
        d = getattr(obj, "__dict__", {})
        self.keys = list(d) if keys is None else list(keys)
        self.generic = keys is None
        self.items = {k: d.get(k, _MISSING) for k in self.keys}
        self.contents = {k: _copy(v) for k, v in self.items.items()}
        self.inner: list[_State] = []
        if depth < 1:  # a tracker or compiled-loss object held by this one: its own state too
            for v in self.items.values():
                if _is_state_object(v):
                    self.inner.append(_State(v, None, depth + 1))

    def restore(self) -> None:
        d = getattr(self.obj, "__dict__", None)
        if d is None:
            return
        if self.generic:
            for k in [k for k in d if k not in self.items]:
                del d[k]  # set while tracing (Keras's __setattr__ tracking is bypassed on purpose)
        for k, v in self.items.items():
            if v is _MISSING:
                d.pop(k, None)
                continue
            d[k] = v
            if self.contents[k] is not None:
                _put_back(v, self.contents[k])
        for s in self.inner:
            s.restore()


def _is_state_object(value: Any) -> bool:
    name = type(value).__name__
    return name in ("Tracker", "CompileLoss", "CompileMetrics")


def _models_below(obj: Any) -> list[Any]:
    import keras

    out = [obj]
    with contextlib.suppress(Exception):
        out += [m for m in obj._flatten_layers(include_self=False) if isinstance(m, keras.Model)]  # noqa: SLF001
    return out


def _optimizers_of(obj: Any) -> list[Any]:
    import keras

    out = []
    opt = obj if isinstance(obj, keras.optimizers.Optimizer) else getattr(obj, "optimizer", None)
    while isinstance(opt, keras.optimizers.Optimizer) and opt not in out:
        out.append(opt)
        opt = getattr(opt, "inner_optimizer", None)  # a LossScaleOptimizer's own optimizer
    return out


class Guard:
    """The state to put back: objects are watched up front and as the trace reaches them."""

    def __init__(self) -> None:
        self.states: list[_State] = []
        self.watched: list[Any] = []  # kept alive, compared by identity

    def _new(self, obj: Any) -> bool:
        if any(obj is x for x in self.watched):
            return False
        self.watched.append(obj)
        return True

    def watch(self, obj: Any) -> None:
        """Snapshot ``obj`` (a model: with its sub-models and their optimizers; an optimizer) unless
        already watched."""
        import keras

        models = _models_below(obj) if isinstance(obj, keras.Model) else []
        optimizers = _optimizers_of(obj)
        for m in models:
            optimizers += _optimizers_of(m)
            if self._new(m):
                self.states.append(_State(m, MODEL_CACHES))
                tracker = getattr(m, "__dict__", {}).get("_loss_tracker")
                if tracker is not None:
                    self.states.append(_State(tracker, None))
        for o in optimizers:
            if self._new(o):
                self.states.append(_State(o, None))

    def restore(self) -> None:
        for s in reversed(self.states):
            s.restore()


@contextlib.contextmanager
def no_trace_left(objects: Iterable[Any]) -> Iterator[Guard]:
    """Put back, on exit, every Keras cache of ``objects`` (models, their sub-models, optimizers,
    the GAN object) and of what the trace reaches later (``Guard.watch``), the global random state
    of ``random`` and ``numpy``, and Keras's global seed generator."""
    import numpy as np

    guard = Guard()
    for obj in objects:
        guard.watch(obj)
    py_random = random.getstate()
    np_random = np.random.get_state()
    seeds = _keras_seed_generator()
    try:
        yield guard
    finally:
        guard.restore()
        random.setstate(py_random)
        np.random.set_state(np_random)
        if seeds is not None:  # the global SeedGenerator of unseeded keras.random ops, made lazily
            seeds[0].set_global_attribute(seeds[1], seeds[2])


def _keras_seed_generator() -> tuple[Any, str, Any] | None:
    """``(global_state, key, value)`` of Keras's global ``SeedGenerator``: a trace that is the first to
    draw an unseeded ``keras.random`` number would otherwise create it inside the traced graph."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:
        return None
    key = seed_generator.GLOBAL_SEED_GENERATOR
    return global_state, key, global_state.get_global_attribute(key)


_KERAS_LOOPS = ("train_on_batch", "test_on_batch", "predict_on_batch", "predict", "fit", "evaluate")


@contextlib.contextmanager
def keras_loops_refused(backend: str) -> Iterator[None]:
    """Keras's own compiled loops cannot run inside the JAX and PyTorch tracers: refuse them in one line."""
    import keras

    def refuse(name: str) -> Callable[..., Any]:
        def refused(model: Any, *args: Any, **kwargs: Any) -> Any:
            raise TraceError(
                f"{getattr(model, 'name', type(model).__name__)}.{name}() inside the step: on {backend} a classic "
                f"train_on_batch/predict loop is not traced; draw its compiled models with "
                f"plot_gan(compiled=[discriminator, combined]) (CLI: ganviz gan --compiled f.py:d --compiled "
                f"f.py:combined), or trace the loop with KERAS_BACKEND=tensorflow"
            )

        return refused

    with contextlib.ExitStack() as stack:
        for name in _KERAS_LOOPS:
            stack.enter_context(mock.patch.object(keras.Model, name, refuse(name)))
        yield


def reachable_variables(objs: list[Any]) -> list[Any]:
    """Every Keras variable the objects reach: their own, their sub-layers', metrics' and optimizers'."""
    out: dict[int, Any] = {}
    for obj in objs:
        groups = [getattr(obj, "variables", None), getattr(obj, "metrics_variables", None)]
        opt = getattr(obj, "optimizer", None)
        if opt is not None and opt is not obj:
            groups.append(getattr(opt, "variables", None))
        for group in groups:
            try:
                for v in list(group or []):
                    out.setdefault(id(v), v)
            except Exception:  # a property that needs a built model: nothing of it to keep
                continue
    return list(out.values())


@contextlib.contextmanager
def variable_values_kept(objs: list[Any]) -> Iterator[None]:
    """Put back the value of every variable the objects reach, whatever the trace did.

    For the JAX tracer: JAX arrays are immutable, so keeping each variable's array object is enough.
    Keras code run under ``jax.make_jaxpr`` (``predict``, a stateful ``__call__``) may assign tracers
    to variables; left there, they break every later step.
    """
    variables = reachable_variables(objs)
    saved = [(v, v._value) for v in variables if hasattr(v, "_value")]
    try:
        yield
    finally:
        for v, value in saved:
            v._value = value

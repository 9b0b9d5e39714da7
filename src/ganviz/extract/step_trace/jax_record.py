"""Record a JAX training step while ``jax.make_jaxpr`` traces it: model calls, losses, gradients, ``stateless_apply``.

Nothing computes and nothing is applied: ``jax.value_and_grad``/``jax.grad`` are replaced, while
recording, by stand-ins that call the loss function once and return zeros derived from its value
(so the jaxpr stays one flat forward graph), and ``optimizer.stateless_apply`` by one that returns
the variables it was given. Every recorded value is a tracer of the outer trace, kept in
:attr:`JaxRecorder.kept` so that the traced function can return it and the jaxpr names it.
TensorFlow is never imported.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .. import tf_graph as tfg
from .terms import LOSS_FUNCTION_CLASSES, keras_loss_class

__all__ = ["JaxRecorder", "jax_patched", "NOISE_FUNCTIONS"]

# Functions of ``jax.random`` and ``keras.random`` whose result is noise a step draws.
NOISE_FUNCTIONS = ("normal", "uniform", "truncated_normal", "bernoulli", "randint", "categorical", "beta", "gamma")
NOISE_FUNCTIONS += ("laplace", "logistic", "exponential", "gumbel", "cauchy", "binomial", "poisson")


def _jax_dirs() -> tuple[str, ...]:
    dirs = []
    for name in ("jax", "jaxlib", "optax", "flax", "ml_dtypes", "opt_einsum"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__file__", None):
            dirs.append(os.path.dirname(os.path.abspath(mod.__file__)) + os.sep)
    return tuple(dirs)


class JaxRecorder:
    """What one traced JAX step did, by index into :attr:`kept` (the tracers the jaxpr returns)."""

    def __init__(self, model_names: dict[int, str]) -> None:
        self.model_names = model_names
        self.containers: set[int] = set()
        self.recording = False
        self.depth = 0  # inside a recorded model call
        self.loss_depth = 0  # inside a recorded Keras loss
        self.grad_depth = 0  # inside a stand-in gradient's function
        self.noise_depth = 0
        self.outer: Any = None  # the outer DynamicJaxprTrace
        self.stop_code: types.CodeType | None = None
        self.kept: list[Any] = []
        self._index: dict[int, int] = {}
        self.names: dict[int, str] = {}  # kept index -> first local name
        self.frames: dict[int, types.FrameType] = {}
        self.calls: list[dict[str, Any]] = []
        self.loss_calls: list[tuple[str, int]] = []
        self.noise: list[tuple[str, int]] = []
        self.grads: list[dict[str, Any]] = []
        self.applies: list[tuple[Any, list[int | None], list[int | None]]] = []
        self.stopped: set[int] = set()  # results of the step's own ``jax.lax.stop_gradient``
        self.events: list[tuple[str, int]] = []
        self._lib_dirs = _jax_dirs()

    # -- kept tracers -----------------------------------------------------------------------------

    def is_mine(self, value: Any) -> bool:
        """Whether ``value`` is a tracer of the outer trace (one the traced function may return)."""
        import jax

        return isinstance(value, jax.core.Tracer) and getattr(value, "_trace", None) is self.outer

    def keep(self, value: Any) -> int | None:
        if not self.is_mine(value):
            return None
        i = self._index.get(id(value))
        if i is None:
            i = self._index[id(value)] = len(self.kept)
            self.kept.append(value)
        return i

    def keep_leaves(self, tree: Any) -> list[int | None]:
        import jax

        return [self.keep(x) for x in jax.tree_util.tree_leaves(tree)]

    # -- names from the user's frames ---------------------------------------------------------------

    def user_code(self, filename: str) -> bool:
        return not tfg.is_library_file(filename) and not os.path.abspath(filename).startswith(self._lib_dirs)

    def user_frames(self, frame: types.FrameType | None) -> list[types.FrameType]:
        out = []
        while frame is not None and frame.f_code is not self.stop_code:
            if self.user_code(frame.f_code.co_filename):
                out.append(frame)
            frame = frame.f_back
        return out

    def capture(self, frame: types.FrameType | None) -> list[types.FrameType]:
        frames = self.user_frames(frame)
        for f in frames:
            self.frames.setdefault(id(f), f)
            self._names_in(f)
        return frames

    def _names_in(self, frame: types.FrameType) -> None:
        for name, value in list(frame.f_locals.items()):
            if name.startswith("_") or name == "self":
                continue
            i = self.keep(value)
            if i is not None:
                self.names.setdefault(i, name)

    def capture_final(self) -> None:
        """The locals of every user frame seen, as they were when it returned."""
        for f in list(self.frames.values()):
            self._names_in(f)

    def called_from_user(self, depth: int = 2) -> bool:
        return self.user_code(sys._getframe(depth).f_code.co_filename)

    # -- events -----------------------------------------------------------------------------------

    def on_call(self, name: str, inputs: tuple[Any, ...], out: Any) -> None:
        frames = self.capture(sys._getframe(2))
        first = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (list, tuple, dict)) else inputs
        parts = list(first.values()) if isinstance(first, dict) else list(first)
        self.events.append(("call", len(self.calls)))
        self.calls.append(
            {
                "model": name,
                "args": [[i for i in self.keep_leaves(p) if i is not None] for p in parts],
                "outs": [i for i in self.keep_leaves(out) if i is not None],
                "in_tape": self.grad_depth > 0,
                "frame": frames[0] if frames else None,
            }
        )

    def on_loss(self, cls_name: str, out: Any) -> None:
        self.capture(sys._getframe(2))
        i = self.keep(out)
        if i is not None:
            self.loss_calls.append((cls_name, i))

    def on_noise(self, fname: str, out: Any) -> None:
        self.capture(sys._getframe(2))
        i = self.keep(out)
        if i is not None:
            self.noise.append((fname, i))

    def standin_gradient(
        self, fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], argnums: Any, has_aux: bool
    ) -> tuple[Any, Any, Any]:
        """``(value, aux, grads)`` for ``fun`` at ``args``: ``fun`` runs once, the gradients are zeros
        derived from the value (so the gradient's origin stays in the graph)."""
        import jax
        import jax.numpy as jnp

        self.grad_depth += 1
        try:
            out = fun(*args, **kwargs)
        finally:
            self.grad_depth -= 1
        value, aux = (out[0], out[1]) if has_aux else (out, None)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        leaves = jax.tree_util.tree_leaves(value)
        anchor = jnp.sum(jnp.asarray(leaves[0])) if leaves else jnp.zeros(())

        def zero(p: Any) -> Any:
            dtype = jnp.result_type(p)
            if not jnp.issubdtype(dtype, jnp.inexact):
                return jnp.zeros(jnp.shape(p), dtype)
            return jnp.zeros(jnp.shape(p), dtype) + (anchor * 0).astype(dtype)

        groups = [jax.tree_util.tree_map(zero, args[n]) for n in nums]
        grads = groups[0] if isinstance(argnums, int) else tuple(groups)
        frames = self.capture(sys._getframe(3))
        targets = [i for i in self.keep_leaves(value) if i is not None]
        local = None
        if frames and leaves:
            local = next((k for k, v in frames[0].f_locals.items() if v is leaves[0] and not k.startswith("_")), None)
        self.events.append(("grad", len(self.grads)))
        self.grads.append(
            {
                "targets": targets,
                "local": local,
                "results": [[i for i in self.keep_leaves(g) if i is not None] for g in groups],
                "sources": [[i for i in self.keep_leaves(args[n]) if i is not None] for n in nums],
                "fun": getattr(fun, "__name__", "loss"),
                "trainable": {},
            }
        )
        return value, aux, grads

    def on_apply(self, optimizer: Any, grads: Any, variables: Any) -> None:
        self.capture(sys._getframe(2))
        self.events.append(("apply", len(self.applies)))
        self.applies.append((optimizer, self.keep_leaves(grads), self.keep_leaves(variables)))


def _owner(cls: type, attr: str) -> type:
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass
    return cls


@contextlib.contextmanager
def jax_patched(rec: JaxRecorder, models: list[Any], optimizers: list[Any]) -> Iterator[None]:
    """Wrap, while ``rec.recording``: model ``__call__``/``stateless_call``, Keras losses, ``jax.grad``,
    ``jax.value_and_grad``, ``stateless_apply``, ``jax.lax.stop_gradient`` and the random functions."""
    import jax
    import keras

    saved: list[tuple[Any, str, bool, Any]] = []

    def patch(obj: Any, attr: str, make: Callable[[Any], Any]) -> None:
        if any(o is obj and a == attr for o, a, _, _ in saved):
            return
        had = attr in getattr(obj, "__dict__", {})
        saved.append((obj, attr, had, obj.__dict__.get(attr) if had else None))
        setattr(obj, attr, make(getattr(obj, attr)))

    def recordable(model: Any) -> str | None:
        name = rec.model_names.get(id(model))
        if name is None or not rec.recording or rec.depth or rec.loss_depth or id(model) in rec.containers:
            return None
        return name

    def wrap_call(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            name = recordable(self)
            if name is None:
                return orig(self, *args, **kwargs)
            rec.depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                rec.depth -= 1
            rec.on_call(name, args, out)
            return out

        return __call__

    def wrap_stateless_call(orig: Any) -> Any:
        def stateless_call(self: Any, trainable: Any, non_trainable: Any, *args: Any, **kwargs: Any) -> Any:
            name = recordable(self)
            if name is None:
                return orig(self, trainable, non_trainable, *args, **kwargs)
            rec.depth += 1
            try:
                out = orig(self, trainable, non_trainable, *args, **kwargs)
            finally:
                rec.depth -= 1
            rec.on_call(name, args, out[0] if isinstance(out, tuple) else out)
            return out

        return stateless_call

    def wrap_loss(orig: Any) -> Any:
        def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not rec.recording or rec.depth or rec.loss_depth:
                return orig(self, *args, **kwargs)
            rec.loss_depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                rec.loss_depth -= 1
            rec.on_loss(keras_loss_class(self), out)
            return out

        return __call__

    def wrap_loss_function(orig: Any, cls_name: str) -> Any:
        @functools.wraps(orig)
        def loss_function(*args: Any, **kwargs: Any) -> Any:
            if not rec.recording or rec.depth or rec.loss_depth or not rec.called_from_user():
                return orig(*args, **kwargs)
            rec.loss_depth += 1
            try:
                out = orig(*args, **kwargs)
            finally:
                rec.loss_depth -= 1
            rec.on_loss(cls_name, out)
            return out

        return loss_function

    def wrap_value_and_grad(orig: Any, with_value: bool) -> Any:
        @functools.wraps(orig)
        def transform(fun: Any, argnums: Any = 0, has_aux: bool = False, **options: Any) -> Any:
            real = orig(fun, argnums=argnums, has_aux=has_aux, **options)

            @functools.wraps(fun)
            def stepped(*args: Any, **kwargs: Any) -> Any:
                if not rec.recording or rec.depth or any(_foreign(rec, x) for x in _array_leaves(args)):
                    return real(*args, **kwargs)  # outside the step, or under another transformation
                value, aux, grads = rec.standin_gradient(fun, args, kwargs, argnums, has_aux)
                rec.grads[-1]["trainable"] = {rec.model_names[id(m)]: bool(m.trainable) for m in models}
                if with_value:
                    return ((value, aux), grads) if has_aux else (value, grads)
                return (grads, aux) if has_aux else grads

            return stepped

        return transform

    def wrap_stateless_apply(orig: Any) -> Any:
        def stateless_apply(self: Any, optimizer_variables: Any, grads: Any, trainable_variables: Any) -> Any:
            if not rec.recording or rec.depth:
                return orig(self, optimizer_variables, grads, trainable_variables)
            rec.on_apply(self, grads, trainable_variables)
            return trainable_variables, optimizer_variables  # never applied while tracing

        return stateless_apply

    def wrap_stop_gradient(orig: Any) -> Any:
        @functools.wraps(orig)
        def stop_gradient(x: Any) -> Any:
            out = orig(x)
            if rec.recording and not rec.depth and rec.called_from_user():
                for i in rec.keep_leaves(out):
                    if i is not None:
                        rec.stopped.add(i)
            return out

        return stop_gradient

    def wrap_noise(orig: Any, fname: str) -> Any:
        @functools.wraps(orig)
        def noise(*args: Any, **kwargs: Any) -> Any:
            if not rec.recording or rec.depth or rec.loss_depth or rec.noise_depth:
                return orig(*args, **kwargs)
            rec.noise_depth += 1
            try:
                out = orig(*args, **kwargs)
            finally:
                rec.noise_depth -= 1
            rec.on_noise(fname, out)
            return out

        return noise

    try:
        for model in models:
            patch(_owner(type(model), "__call__"), "__call__", wrap_call)
            patch(_owner(type(model), "stateless_call"), "stateless_call", wrap_stateless_call)
        patch(_owner(keras.losses.Loss, "__call__"), "__call__", wrap_loss)
        for fname, cls_name in LOSS_FUNCTION_CLASSES.items():
            if callable(getattr(keras.losses, fname, None)):
                patch(keras.losses, fname, lambda orig, c=cls_name: wrap_loss_function(orig, c))
        patch(jax, "value_and_grad", lambda orig: wrap_value_and_grad(orig, True))
        patch(jax, "grad", lambda orig: wrap_value_and_grad(orig, False))
        for cls in dict.fromkeys([keras.optimizers.Optimizer, *(type(o) for o in optimizers)]):
            patch(_owner(cls, "stateless_apply"), "stateless_apply", wrap_stateless_apply)
        patch(jax.lax, "stop_gradient", wrap_stop_gradient)
        for module in (jax.random, keras.random):
            for fname in NOISE_FUNCTIONS:
                if callable(getattr(module, fname, None)):
                    patch(module, fname, lambda orig, f=fname: wrap_noise(orig, f))
        yield
    finally:
        for obj, attr, had, old in reversed(saved):
            if had:
                setattr(obj, attr, old)
            else:
                with contextlib.suppress(AttributeError):
                    delattr(obj, attr)


def _foreign(rec: JaxRecorder, value: Any) -> bool:
    """A tracer of another trace than the step's (the step runs under ``vmap``, ``scan``, a real ``grad``)."""
    import jax

    return isinstance(value, jax.core.Tracer) and not rec.is_mine(value)


def _array_leaves(tree: Any) -> list[Any]:
    import jax

    return [x for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "shape") and hasattr(x, "dtype")]

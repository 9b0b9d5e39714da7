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
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .step_record import (
    NOISE_FUNCTIONS,
    Patches,
    StepRecorder,
    defining_class,
    module_dirs,
    patch_keras,
    wrap_model_call,
)

__all__ = ["JaxRecorder", "jax_patched", "NOISE_FUNCTIONS"]

_LIBRARIES = ("jax", "jaxlib", "optax", "flax", "ml_dtypes", "opt_einsum")


class JaxRecorder(StepRecorder):
    """What one traced JAX step did, by index into :attr:`kept` (the tracers the jaxpr returns)."""

    def __init__(self, model_names: dict[int, str]) -> None:
        super().__init__(model_names, module_dirs(_LIBRARIES))
        self.outer: Any = None  # the outer DynamicJaxprTrace
        self.real = False  # verifying: real gradients and real ``stateless_apply`` s (``jax_verify.py``)
        # verifying, per apply: kept indices of the variables given, of those returned, of the new optimizer state
        self.apply_outputs: list[tuple[list[int | None], list[int | None], list[int | None]]] = []

    def is_mine(self, value: Any) -> bool:
        """Whether ``value`` is a tracer of the outer trace (one the traced function may return)."""
        import jax

        return isinstance(value, jax.core.Tracer) and getattr(value, "_trace", None) is self.outer

    def keep_leaves(self, tree: Any) -> list[int | None]:
        import jax

        return [self.keep(x) for x in jax.tree_util.tree_leaves(tree)]

    def standin_gradient(
        self,
        fun: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        argnums: Any,
        has_aux: bool,
        real: Callable[..., Any] | None = None,
    ) -> tuple[Any, Any, Any]:
        """``(value, aux, grads)`` for ``fun`` at ``args``: ``fun`` runs once, the gradients are zeros
        derived from the value (so the gradient's origin stays in the graph). With :attr:`real` set,
        ``real`` (``fun``'s own gradient function, returning the gradients) runs too, unrecorded, and
        its gradients are returned instead of the zeros."""
        import jax
        import jax.numpy as jnp

        out = self.within("grad_depth", fun, *args, **kwargs)
        value, aux = (out[0], out[1]) if has_aux else (out, None)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        leaves = jax.tree_util.tree_leaves(value)
        anchor = jnp.sum(jnp.asarray(leaves[0])) if leaves else jnp.zeros(())

        def zero(p: Any) -> Any:
            dtype = jnp.result_type(p)
            if not jnp.issubdtype(dtype, jnp.inexact):
                return jnp.zeros(jnp.shape(p), dtype)
            return jnp.zeros(jnp.shape(p), dtype) + (anchor * 0).astype(dtype)

        if self.real and real is not None:
            grads = self.within("depth", real, *args, **kwargs)
            groups = [grads] if isinstance(argnums, int) else list(grads)
        else:
            groups = [jax.tree_util.tree_map(zero, args[n]) for n in nums]
            grads = groups[0] if isinstance(argnums, int) else tuple(groups)
        frames = self.capture(sys._getframe(3))
        sources = [args[n] for n in nums]
        self.on_gradient(
            frames, leaves[0] if leaves else None, value, groups, sources, getattr(fun, "__name__", "loss")
        )
        return value, aux, grads


@contextlib.contextmanager
def jax_patched(rec: JaxRecorder, models: list[Any], optimizers: list[Any]) -> Iterator[None]:
    """Wrap, while ``rec.recording``: model ``__call__``/``stateless_call``, Keras losses, ``jax.grad``,
    ``jax.value_and_grad``, ``stateless_apply``, ``jax.lax.stop_gradient`` and the random functions."""
    import jax
    import keras

    patches = Patches()

    def wrap_value_and_grad(orig: Any, with_value: bool) -> Any:
        @functools.wraps(orig)
        def transform(fun: Any, argnums: Any = 0, has_aux: bool = False, **options: Any) -> Any:
            real = orig(fun, argnums=argnums, has_aux=has_aux, **options)

            def real_grads(*args: Any, **kwargs: Any) -> Any:
                out = real(*args, **kwargs)
                if with_value:
                    return out[1]
                return out[0] if has_aux else out

            @functools.wraps(fun)
            def stepped(*args: Any, **kwargs: Any) -> Any:
                if not rec.recording or rec.depth or any(_foreign(rec, x) for x in _array_leaves(args)):
                    return real(*args, **kwargs)  # outside the step, or under another transformation
                value, aux, grads = rec.standin_gradient(fun, args, kwargs, argnums, has_aux, real_grads)
                rec.grads[-1]["trainable"] = rec.trainable_of(models)
                if with_value:
                    return ((value, aux), grads) if has_aux else (value, grads)
                return (grads, aux) if has_aux else grads

            return stepped

        return transform

    def wrap_stateless_apply(orig: Any) -> Any:
        def stateless_apply(self: Any, optimizer_variables: Any, grads: Any, trainable_variables: Any) -> Any:
            if not rec.recording or rec.depth:
                return orig(self, optimizer_variables, grads, trainable_variables)
            rec.on_apply(self, grads, trainable_variables, sys._getframe(1))
            if rec.real:  # verifying: the real update, unrecorded, its results kept
                new_tv, new_ov = rec.within("depth", orig, self, optimizer_variables, grads, trainable_variables)
                rec.apply_outputs.append(
                    (rec.keep_leaves(trainable_variables), rec.keep_leaves(new_tv), rec.keep_leaves(new_ov))
                )
                return new_tv, new_ov
            return trainable_variables, optimizer_variables  # never applied while tracing

        return stateless_apply

    def wrap_stop_gradient(orig: Any) -> Any:
        @functools.wraps(orig)
        def stop_gradient(x: Any) -> Any:
            out = orig(x)
            if rec.recording and not rec.depth and rec.called_from_user():
                rec.stopped.update(rec.kept_of(out))
            return out

        return stop_gradient

    try:
        patch_keras(patches, rec, models, keras, [(jax.random, NOISE_FUNCTIONS)])
        for model in models:
            patches.patch(
                defining_class(type(model), "stateless_call"),
                "stateless_call",
                lambda orig: wrap_model_call(rec, orig, state_args=2),
            )
        patches.patch(jax, "value_and_grad", lambda orig: wrap_value_and_grad(orig, True))
        patches.patch(jax, "grad", lambda orig: wrap_value_and_grad(orig, False))
        for cls in dict.fromkeys([keras.optimizers.Optimizer, *(type(o) for o in optimizers)]):
            patches.patch(defining_class(cls, "stateless_apply"), "stateless_apply", wrap_stateless_apply)
        patches.patch(jax.lax, "stop_gradient", wrap_stop_gradient)
        yield
    finally:
        patches.restore()


def _foreign(rec: JaxRecorder, value: Any) -> bool:
    """A tracer of another trace than the step's (the step runs under ``vmap``, ``scan``, a real ``grad``)."""
    import jax

    return isinstance(value, jax.core.Tracer) and not rec.is_mine(value)


def _array_leaves(tree: Any) -> list[Any]:
    import jax

    return [x for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "shape") and hasattr(x, "dtype")]

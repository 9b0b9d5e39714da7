"""``trace_gan``/``trace_step`` on the JAX backend: the stateless step traced abstractly by ``jax.make_jaxpr``.

The step (``train_step(self, state, data)`` of Keras's JAX trainer, or a plain function of arrays)
runs once under ``jax.make_jaxpr`` on abstract values of the real state's shapes: nothing
computes, no variable or optimizer state changes. ``jax_record.py`` records the model calls
(``__call__``, ``stateless_call``), Keras losses, noise, gradients and ``stateless_apply`` s; the
jaxpr (``jax_graph.py``) says where each value comes from and how each loss is summed. The result is
the same :class:`~ganviz.ir.Trace` as on TensorFlow (``ganviz.trace/2``), never ``verified``.
TensorFlow is never imported.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace
from .find import Found, Step, first_line, gan_found, gan_step, inferred_input, plain_example, step_function
from .guard import keras_loops_refused, no_trace_left, variable_values_kept
from .jax_build import JaxBuilder, Roles
from .jax_graph import flatten_jaxpr
from .jax_record import JaxRecorder, jax_patched
from .phases import unique_phase_names

__all__ = ["trace_gan_jax", "trace_step_jax", "is_stateless_step"]

_INFER_BATCH = 8


def is_stateless_step(step: Callable[..., Any]) -> bool:
    """Whether a bound ``train_step`` takes ``(state, data)``, as Keras's JAX trainer calls it."""
    try:
        params = [
            p
            for p in inspect.signature(step).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


def _aval(value: Any) -> Any:
    import jax
    import numpy as np

    dtype = np.dtype(value.dtype) if not hasattr(value.dtype, "name") else value.dtype
    if str(dtype) == "float64":
        dtype = np.dtype("float32")
    return jax.ShapeDtypeStruct(tuple(int(d) for d in value.shape), dtype)


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, (str, bytes))


def _example(value: Any) -> Any:
    """An example batch as arrays or ``jax.ShapeDtypeStruct`` s (a ``tf.data`` spec is not read)."""
    import jax

    if isinstance(value, jax.ShapeDtypeStruct):
        return value
    if isinstance(value, dict):
        return {k: _example(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_example(v) for v in value) if isinstance(value, tuple) else [_example(v) for v in value]
    if _is_array(value):
        return value
    return plain_example(value, "JAX", "a numpy or JAX array, a jax.ShapeDtypeStruct")


def _infer_data(found: Found) -> tuple[Any, str]:
    import jax

    shape, dtype, origin = inferred_input(found, _INFER_BATCH, "an example batch")
    return jax.ShapeDtypeStruct(shape, dtype), origin


def _record(
    step: Callable[..., Any], args: tuple[Any, ...], rec: JaxRecorder
) -> tuple[list[Any], list[Any], list[int], Any, list[Any]]:
    """Trace ``step(*args)`` by ``jax.make_jaxpr``; the flattened jaxpr's input and kept nodes, the
    positions (among the leaves of ``args``) of its array inputs, the result's kept indices, and the
    array leaves themselves (the jaxpr's inputs, in order)."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(args, is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct))
    at = [i for i, x in enumerate(leaves) if _is_array(x)]
    avals = [_aval(leaves[i]) for i in at]
    result_box: list[Any] = []

    def entry(*xs: Any) -> list[Any]:
        full = list(leaves)
        for i, x in zip(at, xs):
            full[i] = x
        rec.outer = getattr(xs[0], "_trace", None) if xs else None
        for x in xs:
            rec.keep(x)  # the inputs are kept first: kept index i is input i
        rec.recording = True
        try:
            result = step(*jax.tree_util.tree_unflatten(treedef, full))
        finally:
            rec.recording = False
        rec.capture_final()
        result_box.append(jax.tree_util.tree_map(rec.keep, result, is_leaf=lambda x: x is None))
        return list(rec.kept)

    rec.stop_code = entry.__code__
    closed = jax.make_jaxpr(entry)(*avals)
    ins, outs = flatten_jaxpr(closed)
    return ins, outs, at, result_box[0] if result_box else None, [leaves[i] for i in at]


def _trace(
    step: Step, roles_of: Callable[[list[Any], list[int], list[str]], Roles], into: dict[str, Any] | None = None
) -> Trace | None:
    """The step's trace; with ``into`` (``jax_verify.py``), the step is recorded with real gradients and
    updates instead and ``into`` gets the builder, the jaxpr's input values and the recorder (no trace)."""
    found, args, params = step.found, step.args, step.params
    names, models, opts, inner = step.models()
    rec = JaxRecorder(names)
    rec.containers = inner
    rec.real = into is not None
    kept = [*models, *opts, *step.owners]
    with variable_values_kept(kept), keras_loops_refused("JAX"), no_trace_left(kept), jax_patched(rec, models, opts):
        try:
            ins, outs, at, result, values = _record(step.fn, args, rec)
        except TraceError:
            raise
        except Exception as exc:
            raise TraceError(
                f"cannot trace {step.what} with jax.make_jaxpr: {type(exc).__name__}: {first_line(exc)}{step.note}; "
                f"fix: the step must be traceable by jax.jit (a pure function of its arguments, no .numpy() or "
                f"Python control flow on traced values)"
            ) from exc
    import jax

    flat = jax.tree_util.tree_flatten_with_path(args, is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct))[0]
    roles = roles_of([x for _, x in flat], at, [_leaf_name(path, params) for path, _ in flat])
    builder = JaxBuilder(rec, found, names, ins, outs, roles, params, result)
    if into is not None:
        into.update(builder=builder, values=values, rec=rec, step=step, models=models, optimizers=opts)
        return None
    return unique_phase_names(builder.trace(step.name))


def _leaf_name(path: Any, params: list[str]) -> str:
    """``data[0]`` for the first element of the step's argument ``data``."""
    import jax

    if not path:
        return params[0] if params else "arg0"
    idx = getattr(path[0], "idx", 0)
    base = params[idx] if idx < len(params) else f"arg{idx}"
    return base + "".join(jax.tree_util.keystr((k,)) for k in path[1:])


def _gan_state(gan: Any) -> tuple[Any, ...]:
    """The state Keras's JAX trainer passes ``train_step``: trainable, non-trainable, optimizer and
    metrics variables' values; an optimizer not built yet is built as ``fit`` would (put back after)."""
    opt = getattr(gan, "optimizer", None)
    if opt is not None and not getattr(opt, "built", True):
        try:
            opt.build(gan.trainable_variables)
        except Exception as exc:
            raise TraceError(
                f"cannot build {type(gan).__name__}'s optimizer to trace its step: {exc}; build or compile it first"
            ) from exc
    opt_vars = list(getattr(opt, "variables", []) or []) if opt is not None else []
    return (
        [v.value for v in gan.trainable_variables],
        [v.value for v in gan.non_trainable_variables],
        [v.value for v in opt_vars],
        [v.value for v in gan.metrics_variables],
    ), opt_vars


def trace_gan_jax(gan: Any, *, data: Any = None, _into: dict[str, Any] | None = None) -> Trace:
    """``trace_gan`` on the JAX backend: ``gan.train_step(state, data)`` traced by ``jax.make_jaxpr``.

    ``_into``: see :func:`_trace` (the verifier's recording; nothing is returned then)."""
    import keras

    train_step, found = gan_found(gan, keras)
    if not is_stateless_step(train_step):
        raise TraceError(
            f"tracing {type(gan).__name__}.train_step(data) needs TensorFlow: a one-argument step is a "
            f"TensorFlow step, but the Keras backend is 'jax', whose steps are train_step(self, state, data) "
            f"(Keras's JAX trainer, traced here by jax.make_jaxpr); write the step that way, set "
            f"KERAS_BACKEND=tensorflow, or draw the standard loop with plot_gan(generator=..., discriminator=...)"
        )
    step = gan_step(gan, train_step, found, data, _infer_data, 2)
    data = _example(step.args[0])
    holder: dict[str, Any] = {}

    def roles_of(leaves: list[Any], at: list[int], names: list[str]) -> Roles:
        state_vars = holder["vars"]
        roles = Roles()
        for k, pos in enumerate(at):
            if pos < len(state_vars):
                roles.variables[k] = state_vars[pos]
            else:
                roles.data[k] = names[pos]
        roles.state_groups = holder["groups"]
        return roles

    def traced_step(state: Any, batch: Any) -> Any:
        return train_step(state, batch)

    with no_trace_left([gan, *[o for _, o in found.optimizers.values()]]):
        state, opt_vars = _gan_state(gan)
        groups = [
            ("trainable", list(gan.trainable_variables)),
            ("non_trainable", list(gan.non_trainable_variables)),
            ("optimizer", opt_vars),
            ("metrics", list(gan.metrics_variables)),
        ]
        holder["vars"] = [(g, v) for g, vs in groups for v in vs]
        holder["groups"] = groups
        if _into is not None:
            _into["groups"] = groups
        trace = _trace(dataclasses.replace(step, fn=traced_step, args=(state, data)), roles_of, _into)
    return trace  # type: ignore[return-value]


def trace_step_jax(
    step_fn: Callable[..., Any], *example_args: Any, models: Any = None, _into: dict[str, Any] | None = None
) -> Trace:
    """``trace_step`` on the JAX backend: a pure step function of arrays (model variables passed as
    arrays, matched to the models' variables by identity) traced by ``jax.make_jaxpr``."""
    step = step_function(step_fn, example_args, models, _infer_data)
    step.args = tuple(_example(a) for a in step.args)
    found = step.found
    by_value: dict[int, tuple[str, Any]] = {}
    for _, model in found.models.values():
        for v in model.trainable_variables:
            by_value.setdefault(id(v.value), ("trainable", v))
        for v in model.non_trainable_variables:
            by_value.setdefault(id(v.value), ("non_trainable", v))
    for _, opt in found.optimizers.values():
        for v in getattr(opt, "variables", []) or []:
            by_value.setdefault(id(v.value), ("optimizer", v))

    def roles_of(leaves: list[Any], at: list[int], names: list[str]) -> Roles:
        roles = Roles()
        for k, pos in enumerate(at):
            hit = by_value.get(id(leaves[pos]))
            if hit is not None:
                roles.variables[k] = hit
            else:
                roles.data[k] = names[pos]
        return roles

    return _trace(step, roles_of, _into)  # type: ignore[return-value]

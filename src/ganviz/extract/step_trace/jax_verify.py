"""``verify_trace`` on the JAX backend: the step recorded again with real gradients and updates, then evaluated.

The step is recorded by ``jax.make_jaxpr`` as when drawing (``jax_trace.py``), but with
:attr:`~ganviz.extract.step_trace.jax_record.JaxRecorder.real` set: each ``jax.grad`` /
``jax.value_and_grad`` the step takes returns the real gradients, and each ``stateless_apply``
really updates. The flattened jaxpr is then evaluated on the step's real inputs (the model,
optimizer and metric state as it is, and the batch), node by node, so every value the checks need
comes from one run with the same random draws: each loss, each of its terms (split as the trace
splits them), the derivative of each loss with respect to each call's outputs and to each term,
which applied gradients are non-zero, how each assigned value moves with its old value, and the
state the step returns. A JAX step is a pure function: nothing is assigned while checking, so there
is nothing to put back (the recording runs under the same guards as tracing). The evaluation and the
layout of the evidence (as the TensorFlow verifier's) are ``evidence.py``'s, shared with PyTorch; this
module gives them JAX's arithmetic, and the same :func:`verify._check` compares them with the trace.
"""

from __future__ import annotations

import types
from typing import Any

from .evidence import Num, evaluated, layout, measure, recorded, split_slopes, state_changes
from .jax_graph import Node

__all__ = ["jax_evidence"]


class _JaxNum(Num):
    """JAX arithmetic for :mod:`.evidence`: each equation bound again, ``jax.grad`` and ``jax.jvp``."""

    def compute(self, n: Node, values: dict[int, Any], done: dict[Any, Any]) -> Any:
        key = (id(n.eqn), tuple(x.id for x in n.inputs))
        if key not in done:
            done[key] = _bind(n.eqn, [values[x.id] for x in n.inputs])
        out = done[key]
        return out[n.index] if eqn_multiple(n) else out

    def total(self, x: Any) -> Any:
        import jax.numpy as jnp

        return jnp.sum(jnp.asarray(x, dtype=jnp.float32))

    def asarray(self, x: Any) -> Any:
        import jax.numpy as jnp

        return jnp.asarray(x)

    def zeros_like(self, x: Any) -> Any:
        import jax.numpy as jnp

        return jnp.zeros_like(x)

    def is_float(self, x: Any) -> bool:
        import jax.numpy as jnp

        return hasattr(x, "dtype") and bool(jnp.issubdtype(x.dtype, jnp.inexact))

    def scalar(self, x: float) -> Any:
        import jax.numpy as jnp

        return jnp.float32(x)

    def boolean(self, x: bool) -> Any:
        import jax.numpy as jnp

        return jnp.bool_(x)

    def nonzero(self, x: Any) -> Any:
        import jax.numpy as jnp

        return jnp.any(x != 0)

    def any_of(self, flags: list[Any]) -> Any:
        import jax.numpy as jnp

        return jnp.any(jnp.stack(flags))

    def grad(self, f: Any, start: dict[int, Any]) -> dict[int, Any]:
        import jax

        return dict(jax.grad(f)(start))

    def slopes(self, moved: Any, primals: list[Any]) -> list[Any]:
        import jax
        import jax.numpy as jnp

        _, tangents = jax.jvp(moved, (primals,), ([jnp.ones_like(v) for v in primals],))
        return [jnp.mean(jnp.asarray(t, jnp.float32)) for t in tangents]


def _bind(eqn: Any, args: list[Any]) -> Any:
    """Run one jaxpr equation on ``args`` (as ``jax.core.eval_jaxpr`` does, for old and new JAX alike)."""
    import contextlib

    bound = eqn.primitive.get_bind_params(eqn.params)
    subfuns: list[Any] = []
    if isinstance(bound, tuple) and len(bound) == 2 and isinstance(bound[0], list):  # JAX before 0.5
        subfuns, bound = bound
    ctx = getattr(getattr(eqn, "ctx", None), "manager", None)
    with ctx if ctx is not None else contextlib.nullcontext():
        return eqn.primitive.bind(*subfuns, *args, **bound)


def eqn_multiple(n: Node) -> bool:
    return bool(getattr(n.eqn.primitive, "multiple_results", False))


# -- the evidence, laid out as the TensorFlow verifier's ------------------------------------------------


def jax_evidence(
    gan_or_step: Any, batch: Any, more: tuple[Any, ...], models: Any, plan: Any, plain_step: bool
) -> tuple[list[Any], dict[str, int], dict[int, Any] | None, Any]:
    """Record the step with real gradients, evaluate it once; ``(fetched, iterations, changed, system)``
    with ``plan`` (a ``verify._Plan``) filled as the TensorFlow verifier fills it. ``plain_step``: a step
    function (``trace_step``'s), else a model with a ``train_step``. ``changed`` is None where the step's
    result is not Keras's ``(logs, state)`` (iterations and changed weights are then not read)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from .jax_trace import trace_gan_jax, trace_step_jax

    into = recorded(
        trace_gan_jax, trace_step_jax, gan_or_step, batch, more, models, plain_step,
        "recording it with real gradients and updates",
    )  # fmt: skip
    b, rec = into["builder"], into["rec"]
    outs = b.outs
    # A variable an optimizer returned is that variable (the next phase reads it); what the updates
    # return is held fixed when differentiating (a loss is not "fed" by the last phase's update).
    applied: dict[int, Node] = {}
    for given, returned, new_state in rec.apply_outputs:
        for gi, ri in zip(given, returned):
            if gi is not None and ri is not None and outs[gi].id in b.var_of:
                b.var_of.setdefault(outs[ri].id, b.var_of[outs[gi].id])
        for ri in [*returned, *new_state]:
            if ri is not None:
                applied[outs[ri].id] = outs[ri]
    rng = np.random.default_rng(0)
    values = []
    for v in into["values"]:
        if isinstance(v, jax.ShapeDtypeStruct):  # the batch was inferred: random values of its shape
            shape = tuple(8 if d is None else int(d) for d in v.shape)
            v = rng.random(shape).astype(v.dtype) if np.issubdtype(v.dtype, np.floating) else np.zeros(shape, v.dtype)
        values.append(
            jnp.asarray(v, dtype=jnp.float32) if str(getattr(v, "dtype", "")) == "float64" else jnp.asarray(v)
        )
    lay = layout(b, rec, applied)
    state_pairs = _state_pairs(into, b)

    def compute(inputs: list[Any]) -> tuple[list[Any], list[Any]]:
        return measure(lay, plan, _JaxNum(), inputs, [new for _, new, _ in state_pairs])

    raw, new_state = evaluated(lambda: jax.jit(compute)(values))
    fetched = split_slopes([np.asarray(x) for x in raw], plan)
    if not state_pairs:  # a plain step function: what it returns is its own, not Keras's state
        return fetched, {}, None, types.SimpleNamespace(found=b.found, names=b.names)
    iters, changed = _state_changes(state_pairs, [np.asarray(x) for x in new_state], values, b)
    return fetched, iters, changed, types.SimpleNamespace(found=b.found, names=b.names)


def _state_pairs(into: dict[str, Any], b: Any) -> list[tuple[Any, Node, Node]]:
    """For ``train_step(state, data)``: ``(variable, returned node, input node)`` of each variable in the
    state the step returns; empty when its result is not Keras's ``(logs, state)``."""
    groups = into.get("groups")
    res = b.result
    if not groups or not isinstance(res, (tuple, list)) or len(res) != 2:
        return []
    state = res[1]
    if not isinstance(state, (tuple, list)) or len(state) != len(groups):
        return []
    pairs: list[tuple[Any, Node, Node]] = []
    start = 0
    for (_, variables), returned in zip(groups, state):
        if isinstance(returned, (list, tuple)) and len(returned) == len(variables):
            for i, (var, kept) in enumerate(zip(variables, returned)):
                if isinstance(kept, int):
                    pairs.append((var, b.outs[kept], b.ins[start + i]))
        start += len(variables)
    return pairs


def _state_changes(
    pairs: list[tuple[Any, Node, Node]], new_values: list[Any], values: list[Any], b: Any
) -> tuple[dict[str, int], dict[int, Any]]:
    """Each optimizer's iterations delta and each changed variable, from the state the step returned."""
    import numpy as np

    return state_changes(
        b, [(var, np.asarray(values[old.index]), after) for (var, _, old), after in zip(pairs, new_values)]
    )

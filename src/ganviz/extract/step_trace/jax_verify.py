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
is nothing to put back (the recording runs under the same guards as tracing). The evidence is laid
out as the TensorFlow verifier's, and compared with the trace by the same :func:`verify._check`.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from ...errors import TraceError
from .build import optimizer_names
from .jax_graph import Node, walk_up

__all__ = ["jax_evidence"]


# -- evaluating the flattened jaxpr on real values ----------------------------------------------------


def _needed(targets: list[Node]) -> list[Node]:
    """Every node ``targets`` are computed from, in an order where inputs come first (ids grow downstream)."""
    seen: dict[int, Node] = {}
    stack = list(targets)
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen[n.id] = n
        stack.extend(n.inputs)
    return [seen[k] for k in sorted(seen)]


class _Evaluator:
    """Values of nodes of one flattened jaxpr at the step's real inputs; ``replace`` sets a node's value
    (its inputs then do not matter), ``add`` adds to it (a zero to differentiate at). Plain values are
    computed once; a run with ``replace``/``add`` recomputes only what depends on those nodes."""

    def __init__(self, inputs: list[Any]) -> None:
        self.inputs = inputs
        self.cache: dict[int, Any] = {}

    def _compute(self, n: Node, values: dict[int, Any], done: dict[tuple[int, tuple[int, ...]], Any]) -> Any:
        if n.prim == "input":
            return self.inputs[n.index]
        if n.prim in ("literal", "const"):
            return n.value
        key = (id(n.eqn), tuple(x.id for x in n.inputs))
        if key not in done:
            done[key] = _bind(n.eqn, [values[x.id] for x in n.inputs])
        out = done[key]
        return out[n.index] if eqn_multiple(n) else out

    def run(
        self, targets: list[Node], replace: dict[int, Any] | None = None, add: dict[int, Any] | None = None
    ) -> list[Any]:
        needed = _needed(targets)
        done: dict[tuple[int, tuple[int, ...]], Any] = {}
        for n in needed:
            if n.id not in self.cache:
                self.cache[n.id] = self._compute(n, self.cache, done)
        if not replace and not add:
            return [self.cache[t.id] for t in targets]
        replace, add = replace or {}, add or {}
        values: dict[int, Any] = {}
        live: set[int] = set()
        done = {}
        for n in needed:
            if n.id in replace:
                values[n.id] = replace[n.id]
                live.add(n.id)
                continue
            if any(x.id in live for x in n.inputs):
                value = self._compute(n, values, done)
                live.add(n.id)
            else:
                value = self.cache[n.id]
            if n.id in add:
                value = value + add[n.id]
                live.add(n.id)
            values[n.id] = value
        return [values[t.id] for t in targets]


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


def _total(x: Any) -> Any:
    import jax.numpy as jnp

    return jnp.sum(jnp.asarray(x, dtype=jnp.float32))


def _size(n: Node) -> int:
    return max(1, int(n.size or 1))


def _float(x: Any) -> bool:
    import jax.numpy as jnp

    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)


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

    into: dict[str, Any] = {}
    try:
        if plain_step:
            args = () if batch is None else (batch, *more)
            trace_step_jax(gan_or_step, *args, models=models, _into=into)
        else:
            trace_gan_jax(gan_or_step, data=batch, _into=into)
    except TraceError as exc:
        raise TraceError(
            f"cannot check the step against a real one: recording it with real gradients and updates failed "
            f"({exc}); draw it without verify=True"
        ) from exc
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
    specs, _ = b.loss_specs()
    call_outs = [[outs[o] for o in c["outs"]] for c in rec.calls]
    # An inner gradient (a penalty's) taken of what a call computes counts as read from that call.
    out_ids = {n.id: ci for ci, ns in enumerate(call_outs) for n in ns}
    inner_of: dict[int, list[Node]] = {}
    for g in rec.grads:
        results = [outs[r] for rs in g["results"] for r in rs]
        if not results or not {r.id for r in results} & b.inner_results:
            continue
        for t in (outs[i] for i in g["targets"]):
            for x in walk_up(t, lambda x: x.id not in out_ids, limit=4000):
                ci = out_ids.get(x.id)
                if ci is not None:
                    inner_of.setdefault(ci, []).extend(results)
    call_ins = [[outs[i] for arg in c["args"] for i in arg] for c in rec.calls]
    feed_nodes = [n for ns in call_outs for n in ns] + [n for ns in inner_of.values() for n in ns]
    feed_nodes = list({n.id: n for n in feed_nodes}.values())
    var_owner = b.var_owner()
    opt_names = optimizer_names(b.found, [(o, None, None) for o, _, _ in rec.applies])
    # What an optimizer returned is its update, not an assignment (while drawing it returns its inputs).
    changed_assign = [(v, new, old) for v, new, old in b.assignments(var_owner) if new.id not in applied]
    state_pairs = _state_pairs(into, b)

    def compute(inputs: list[Any]) -> tuple[list[Any], list[Any]]:
        """Every number the checks read, in the order ``verify._check`` takes them (traced once by ``jax.jit``)."""
        ev = _Evaluator(inputs)
        held = dict(zip(applied, ev.run(list(applied.values())))) if applied else {}

        def value_of(targets: list[Node], how: dict[str, dict[int, Any]] | None = None) -> list[Any]:
            if not how:
                return ev.run(targets)
            return ev.run(targets, replace={**held, **how.get("replace", {})}, add=how.get("add"))

        def grad(target: Callable[[dict[str, dict[int, Any]]], Any], nodes: list[Node], mode: str) -> list[Any]:
            """d ``target`` / d each node: held as independent inputs (``replace``), or differentiated
            through (``add``: total derivatives)."""
            if not nodes:
                return []
            base = value_of(nodes)
            start = {
                n.id: (jnp.asarray(v) if mode == "replace" else jnp.zeros_like(jnp.asarray(v)))
                for n, v in zip(nodes, base)
                if _float(v)
            }
            grads = jax.grad(lambda vals: target({mode: vals}))(start)
            return [grads.get(n.id) for n in nodes]

        fetched: list[Any] = []
        plan.__dict__.update(_fresh(plan))  # a second trace by jit starts the plan again
        plan.call_models = [c["model"] for c in rec.calls]
        plan.n_targets = len(specs)
        plan.loss_names = [s.name for s in specs]
        for spec in specs:
            roots = [(root, float(sign)) for root, sign in spec.roots]
            terms = [(core, root) for root, _ in roots for _, _, core in b.split_terms(root)]
            plan.n_terms.append(len(terms))
            kinds = [b.kind(core) for core, _ in terms]
            plan.term_kinds.append(kinds)
            plan.stopped.append(_through_stop_gradient(b, [r for r, _ in roots], out_ids, call_ins, set(applied)))

            def loss(how: dict[str, dict[int, Any]] | None = None, roots: list[tuple[Node, float]] = roots) -> Any:
                vals = value_of([r for r, _ in roots], how)
                return sum(sign * _total(v) for (_, sign), v in zip(roots, vals))

            fetched.append(loss())
            cores = [core for core, _ in terms]
            core_grads = grad(loss, cores, "replace")
            for (core, root), kind, value, g in zip(terms, kinds, value_of(cores), core_grads):
                fetched.append(_total(value) * (_size(root) / _size(core)))
                fetched.append(jnp.float32(float("nan")) if g is None else _total(g) / _size(root))
                if kind == "wasserstein":  # which way the term moves with each call's scores

                    def term(how: dict[str, dict[int, Any]], core: Node = core, root: Node = root) -> Any:
                        return _total(value_of([core], how)[0]) * (_size(root) / _size(core))

                    flat = [n for ns in call_outs for n in ns]
                    by_id = {n.id: x for n, x in zip(flat, grad(term, flat, "add"))}
                    for ns in call_outs:
                        mine = [by_id[n.id] for n in ns if by_id.get(n.id) is not None]
                        fetched.append(sum((_total(x) for x in mine), jnp.float32(0.0)))
            by_id = {n.id: x for n, x in zip(feed_nodes, grad(loss, feed_nodes, "add"))}
            for ci, ns in enumerate(call_outs):
                mine = [by_id[n.id] for n in ns + inner_of.get(ci, []) if by_id.get(n.id) is not None]
                fetched.append(jnp.any(jnp.stack([jnp.any(x != 0) for x in mine])) if mine else jnp.bool_(False))
            plan.feeds_ok.append(True)

        # Updates: which applied gradients are non-zero, by the model owning each variable.
        for opt, grads, variables in rec.applies:
            plan.optimizers[opt_names[id(opt)]] = opt
            owners: list[str] = []
            pairs = [(outs[g], v) for g, v in zip(grads, variables) if g is not None]
            for (_, v), gv in zip(pairs, value_of([g for g, _ in pairs])):
                role = None if v is None else b.var_of.get(outs[v].id)
                owners.append((var_owner.get(id(role[1])) if role is not None else None) or "")
                fetched.append(jnp.any(jnp.asarray(gv) != 0))
            plan.applies.append((opt_names[id(opt)], owners))

        # Assignments: the new value, and how it moves with its old one (d new / d old: an EMA's decay).
        plan.events = list(rec.events) + [("assign", i) for i in range(len(changed_assign))]
        plan.assign_slopes = []
        if changed_assign:
            news = [new for _, new, _ in changed_assign]
            olds = [old for _, _, old in changed_assign]
            old_values = [jnp.asarray(v) for v in value_of(olds)]
            floats = [k for k, v in enumerate(old_values) if _float(v) and _float(value_of([news[k]])[0])]

            def moved(xs: list[Any]) -> list[Any]:
                return value_of([news[k] for k in floats], {"replace": {olds[k].id: x for k, x in zip(floats, xs)}})

            primals = [old_values[k] for k in floats]
            _, measured = jax.jvp(moved, (primals,), ([jnp.ones_like(v) for v in primals],)) if floats else (0, [])
            tangents: list[Any] = [None] * len(news)
            for k, tan in zip(floats, measured):
                tangents[k] = tan
            for (var, new, old), nv, ov, tan in zip(changed_assign, value_of(news), old_values, tangents):
                target = var_owner.get(id(var)) or getattr(var, "path", getattr(var, "name", "?"))
                src = _source(b, new, old, target, var_owner)
                warm = any(x.prim == "min" for x in walk_up(new, lambda x: x.id not in b.var_of, limit=400))
                plan.assigns.append((target, "assign", True, src is not None, warm))
                if tan is None:
                    plan.assign_slopes.append(None)
                else:
                    plan.assign_slopes.append(len(fetched))  # replaced by the measured slope below
                    fetched.append(jnp.mean(jnp.asarray(tan, jnp.float32)))
                fetched.append(nv)
                fetched.append(ov)
                if src is not None:
                    fetched.append(value_of([src])[0])
        return fetched, value_of([new for _, new, _ in state_pairs])

    try:
        raw, new_state = jax.jit(compute)(values)
    except Exception as exc:
        raise TraceError(
            f"cannot check the step against a real one: evaluating it failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); draw it without verify=True"
        ) from exc
    raw = [np.asarray(x) for x in raw]
    # The slopes ride in the fetched list; take them out, leaving the layout ``_check`` reads.
    slope_at = {i for i in plan.assign_slopes or [] if i is not None}
    plan.assign_slopes = [None if i is None else float(raw[i]) for i in plan.assign_slopes or []]
    fetched = [x for i, x in enumerate(raw) if i not in slope_at]
    if not state_pairs:  # a plain step function: what it returns is its own, not Keras's state
        return fetched, {}, None, types.SimpleNamespace(found=b.found, names=b.names)
    iters, changed = _state_changes(state_pairs, [np.asarray(x) for x in new_state], values, b)
    return fetched, iters, changed, types.SimpleNamespace(found=b.found, names=b.names)


def _through_stop_gradient(
    b: Any, roots: list[Node], out_ids: dict[int, int], call_ins: list[list[Node]], held: set[int], limit: int = 20000
) -> set[int]:
    """Calls the roots are computed from only through a ``stop_gradient`` (their data flows, no gradient);
    the walk jumps from a call's output to its inputs and stops at what an optimizer returned."""
    plain: set[int] = set()
    stopped: set[int] = set()
    stack = [(r, False) for r in roots]
    seen: set[tuple[int, bool]] = set()
    while stack and len(seen) < limit:
        n, through = stack.pop()
        if (n.id, through) in seen:
            continue
        seen.add((n.id, through))
        ci = out_ids.get(n.id)
        if ci is not None:
            (stopped if through else plain).add(ci)
            stack.extend((x, through) for x in call_ins[ci])
            continue
        if n.id in held:
            continue
        flag = through or n.prim == "stop_gradient" or n.id in b.stopped
        stack.extend((x, flag) for x in n.inputs)
    return stopped - plain


def _fresh(plan: Any) -> dict[str, Any]:
    return type(plan)().__dict__


def _source(b: Any, new: Node, old: Node, target: str, var_owner: dict[int, str]) -> Node | None:
    """The nearest variable of another model that ``new`` is computed from, of ``new``'s shape."""
    for x in walk_up(new, lambda x: x.id not in b.var_of, limit=3000):
        role = b.var_of.get(x.id)
        if role is None or x.id == old.id:
            continue
        owner = var_owner.get(id(role[1]))
        if owner is not None and owner != target and x.shape == new.shape:
            return x
    return None


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

    changed: dict[int, Any] = {}
    by_var: dict[int, tuple[Any, Any]] = {}
    for (var, _, old), after in zip(pairs, new_values):
        before = np.asarray(values[old.index])
        by_var[id(var)] = (before, after)
        if before.shape != after.shape or not np.array_equal(before, after):
            changed[id(var)] = (var, (before, after))
    iters: dict[str, int] = {}
    opt_names = optimizer_names(b.found, [(o, None, None) for o, _, _ in b.rec.applies])
    for opt, _, _ in b.rec.applies:
        it = getattr(opt, "iterations", None)
        hit = None if it is None else by_var.get(id(it))
        if hit is not None:
            iters[opt_names[id(opt)]] = int(np.asarray(hit[1])) - int(np.asarray(hit[0]))
    return iters, changed
